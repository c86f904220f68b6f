"""``reconciler emulator serve``: the local emulator of the MQTT management APIs as a process;
``reconciler emulator reset``: empty the embedded emulator (``endpoint: embedded``)."""

from __future__ import annotations

import logging
import re
import shutil
import signal
import sqlite3
import tempfile
import threading
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import click

from reconciler.duration import parse_duration
from reconciler.emulator.embedded import (
    DEV_ACCESS_KEY_ID,
    DEV_ACCESS_KEY_SECRET,
    describe_instances,
    reset_embedded,
)
from reconciler.emulator.fixture import load_fixture
from reconciler.emulator.mqtt.broker import MAX_PAYLOAD_BYTES
from reconciler.emulator.mqtt.server import MqttOptions, MqttServer
from reconciler.emulator.mqtt.sessions import (
    DEFAULT_SESSION_QUEUE_BYTES,
    DEFAULT_TOTAL_QUEUE_BYTES,
    QueueLimits,
)
from reconciler.emulator.mqtt.topics import MAX_TOPIC_LENGTH
from reconciler.emulator.products import all_actions
from reconciler.emulator.server import EmulatorOptions, EmulatorServer
from reconciler.emulator.store import EmulatorStore
from reconciler.emulator.tls import TlsFiles, issue_test_certificate, server_context
from reconciler.errors import EmulatorError
from reconciler.exit_codes import ExitCode
from reconciler.models import DEFAULT_REGION
from reconciler.ratelimit import Rate, parse_rate

SECRET_ENV = "RECONCILER_EMULATOR_ACCESS_KEY_SECRET"  # noqa: S105 (a variable name)
_NO_LIMIT = ("off", "none", "unlimited")
_SIZE = re.compile(r"^\s*(\d+)\s*(|B|KiB|MiB|GiB)\s*$")
_SIZE_UNITS = {"": 1, "B": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30}
# A queue bound must hold at least one message of the largest size.
MIN_QUEUE_BYTES = MAX_PAYLOAD_BYTES + MAX_TOPIC_LENGTH
MQTT_LOGGER = "reconciler.emulator.mqtt"


@click.group("emulator")
def emulator_group() -> None:
    """A local emulator of the MQTT management API (for tests, demos and benchmarks)."""


@emulator_group.command("reset")
@click.option(
    "--db",
    default=".reconciler/emulator.sqlite",
    show_default=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The embedded emulator's database.",
)
def reset_command(*, db: Path) -> ExitCode:
    """Empty the embedded emulator: delete its database (instances, GIDs, devices). The next
    run with endpoint embedded creates the file's instances afresh. Refused while a command
    is using it."""
    held = reset_embedded(db)
    if held is None:
        click.echo(f"{db} does not exist: nothing to reset.")
        return ExitCode.OK
    click.echo(f"Removed {db}; it held {describe_instances(held)}.")
    click.echo(
        "A state written against it still records their GIDs: the next plan creates the "
        "declared ones again and forgets the others.",
        err=True,
    )
    return ExitCode.OK


def _parse_throttles(values: Sequence[str]) -> dict[str, Rate | None]:
    throttles: dict[str, Rate | None] = {}
    for text in values:
        action, sep, rate_text = text.partition("=")
        if not sep or action not in all_actions():
            raise click.BadParameter(
                f"{text!r} is not ACTION=RATE with ACTION one of {', '.join(all_actions())}",
                param_hint="--throttle",
            )
        if rate_text.strip().lower() in _NO_LIMIT:
            throttles[action] = None
            continue
        try:
            throttles[action] = parse_rate(rate_text)
        except ValueError as exc:
            raise click.BadParameter(f"{exc} (or 'off')", param_hint="--throttle") from exc
    return throttles


def _parse_topics(values: Sequence[str]) -> list[tuple[str, str]]:
    pairs = []
    for text in values:
        instance_id, sep, topic = text.partition("=")
        if not sep or not instance_id or not topic:
            raise click.BadParameter(f"{text!r} is not INSTANCE=TOPIC", param_hint="--topic")
        pairs.append((instance_id, topic))
    return pairs


def _parse_size(ctx: click.Context, param: click.Parameter, value: str) -> int:
    """``16MiB``, ``512KiB`` or a number of bytes, at least ``MIN_QUEUE_BYTES``."""
    match = _SIZE.match(value)
    if match is None:
        raise click.BadParameter(f"{value!r} is not a size such as 16MiB, 512KiB or 70000")
    size = int(match.group(1)) * _SIZE_UNITS[match.group(2)]
    if size < MIN_QUEUE_BYTES:
        raise click.BadParameter(
            f"{value} is less than one message of the largest size ({MIN_QUEUE_BYTES} bytes)"
        )
    return size


def _parse_sts_duration(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> int | None:
    """``30s``, ``1h`` or a number of seconds: whole seconds, at least one."""
    if value is None:
        return None
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    if seconds < 1 or seconds != int(seconds):
        raise click.BadParameter(f"{value!r} is not a whole number of seconds, at least 1s")
    return int(seconds)


@dataclass
class _Tls:
    """The HTTPS listener's certificate and, for a test CA, where its files live."""

    files: TlsFiles
    port: int
    scratch: Path | None  # the test CA's directory, removed when the emulator stops


def _tls(
    *, tls: bool, port: int, cert: Path | None, key: Path | None, ca_file: Path | None, host: str
) -> _Tls | None:
    """The HTTPS set-up the options ask for: ``--tls-cert/--tls-key``, or a test CA."""
    if (cert is None) != (key is None):
        raise click.BadParameter(
            "give --tls-cert and --tls-key together", param_hint="--tls-cert/--tls-key"
        )
    if cert is not None and key is not None:
        if ca_file is not None:
            raise click.BadParameter(
                "the test CA is written only when the emulator makes one (no --tls-cert)",
                param_hint="--tls-ca-file",
            )
        return _Tls(TlsFiles(cert, key), port, None)
    if not tls:
        if ca_file is not None:
            raise click.BadParameter("give --tls as well", param_hint="--tls-ca-file")
        return None
    scratch = Path(tempfile.mkdtemp(prefix="reconciler-emulator-tls-"))
    hosts = ["127.0.0.1", "localhost"]
    if host not in (*hosts, "0.0.0.0", "::", ""):  # noqa: S104 (compared, not bound)
        hosts.append(host)
    try:
        files = issue_test_certificate(scratch, hosts)
        if ca_file is not None:
            assert files.ca_bundle is not None
            shutil.copyfile(files.ca_bundle, ca_file)
            files = TlsFiles(files.cert_file, files.key_file, ca_file)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    return _Tls(files, port, scratch)


def _queue_limits(session_bytes: int, total_bytes: int) -> QueueLimits:
    if total_bytes < session_bytes:
        raise click.BadParameter(
            f"the bound of all queues ({total_bytes} bytes) is less than one session's"
            f" ({session_bytes} bytes)",
            param_hint="--mqtt-queue-total-bytes",
        )
    return QueueLimits(session_bytes=session_bytes, total_bytes=total_bytes)


def _open_store(db: str | None) -> EmulatorStore:
    try:
        return EmulatorStore(db)
    except sqlite3.Error as exc:
        raise EmulatorError(f"cannot open the emulator database {db}: {exc}") from exc


def _seed(
    store: EmulatorStore,
    *,
    fixture: str | None,
    access_key_id: str | None,
    access_key_secret: str | None,
    secret_source: str,
    region: str,
    instances: Sequence[str],
    topics: Sequence[tuple[str, str]],
) -> list[str]:
    """Apply the fixture and the command-line declarations; return the credential lines."""
    before = set(store.account_ids())
    if fixture is not None:
        load_fixture(fixture, store)
    lines = [
        f"accepting AccessKeyId {key} "
        f"(secret from {'the database' if key in before else 'the fixture'})"
        for key in store.account_ids()
    ]
    if access_key_id is not None:
        assert access_key_secret is not None
        store.add_account(access_key_id, access_key_secret)
        lines = [line for line in lines if f" {access_key_id} " not in line]
        lines.append(f"accepting AccessKeyId {access_key_id} (secret from {secret_source})")
    elif not lines:
        store.add_account(DEV_ACCESS_KEY_ID, DEV_ACCESS_KEY_SECRET)
        # A published development key, not a secret: clients need it to sign their calls.
        lines.append(
            f"accepting AccessKeyId {DEV_ACCESS_KEY_ID} with the built-in development secret "
            "(no account given; not for production):\n"
            f"export ALIBABA_CLOUD_ACCESS_KEY_ID={DEV_ACCESS_KEY_ID} "
            f"ALIBABA_CLOUD_ACCESS_KEY_SECRET={DEV_ACCESS_KEY_SECRET}"
        )
    owner = access_key_id if access_key_id is not None else _sole_account(store, instances)
    for instance_id in instances:
        try:
            store.add_instance(instance_id, region=region, independent_naming=True, owner=owner)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--instance") from exc
    for instance_id, topic in topics:
        if store.instance(instance_id) is None:
            raise click.BadParameter(
                f"instance {instance_id!r} is not declared (use --instance or the fixture)",
                param_hint="--topic",
            )
        store.add_topic(instance_id, topic)
    return lines


def _sole_account(store: EmulatorStore, instances: Sequence[str]) -> str | None:
    """The account that owns the ``--instance`` instances when ``--access-key-id`` does not
    say: the only one there is."""
    accounts = store.account_ids()
    if instances and len(accounts) > 1:
        raise click.BadParameter(
            f"there are {len(accounts)} accounts: give --access-key-id to say which owns it",
            param_hint="--instance",
        )
    return accounts[0] if accounts else None


@emulator_group.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    default=8765,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="0 = any free port.",
)
@click.option(
    "--mqtt-port",
    type=click.IntRange(0, 65535),
    help="Also accept devices over MQTT 3.1.1 on this port (0 = any free port); off by default.",
)
@click.option(
    "--mqtt-queue-bytes",
    default=f"{DEFAULT_SESSION_QUEUE_BYTES // 2**20}MiB",
    show_default=True,
    callback=_parse_size,
    help="Bound of one session's waiting QoS 1 messages (payload and topic); the oldest go first.",
)
@click.option(
    "--mqtt-queue-total-bytes",
    default=f"{DEFAULT_TOTAL_QUEUE_BYTES // 2**20}MiB",
    show_default=True,
    callback=_parse_size,
    help="Bound of all sessions' waiting QoS 1 messages together; the oldest of all go first.",
)
@click.option(
    "--tls",
    is_flag=True,
    help="Also serve HTTPS (the same API, STS, metadata and credentials URI) on --tls-port, with "
    "a certificate from a new test CA whose PEM path is printed (or --tls-cert/--tls-key).",
)
@click.option(
    "--tls-port",
    default=8766,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="HTTPS port (0 = any free port).",
)
@click.option(
    "--tls-cert",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Server certificate chain (PEM) for HTTPS; implies --tls.",
)
@click.option(
    "--tls-key",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Its private key (PEM).",
)
@click.option(
    "--tls-ca-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the test CA's certificate here (default: a temporary file, printed).",
)
@click.option(
    "--sts-duration",
    callback=_parse_sts_duration,
    help="Lifetime of every temporary credential issued (STS, metadata, credentials URI), "
    "whatever DurationSeconds asked: 30s, 15m, 1h or seconds. Default: what is asked (3600).",
)
@click.option("--db", type=click.Path(dir_okay=False), help="SQLite file (kept across restarts).")
@click.option(
    "--fixture",
    type=click.Path(dir_okay=False, exists=True),
    help="YAML file seeding accounts, instances, GIDs, devices and history.",
)
@click.option(
    "--access-key-id",
    help="AccessKeyId to accept. Without it (and without fixture accounts) the emulator accepts "
    f"the development key {DEV_ACCESS_KEY_ID} / {DEV_ACCESS_KEY_SECRET}.",
)
@click.option(
    "--access-key-secret", envvar=SECRET_ENV, help=f"Its secret (or ${SECRET_ENV}); never printed."
)
@click.option("--region", default=DEFAULT_REGION, show_default=True, help="Region of --instance.")
@click.option(
    "--instance",
    "instances",
    multiple=True,
    help="Declare a namespaced instance (owned by --access-key-id, else the only account).",
)
@click.option("--topic", "topics", multiple=True, help="INSTANCE=TOPIC: declare a parent topic.")
@click.option(
    "--throttle",
    "throttles",
    multiple=True,
    help=(
        "ACTION=RATE (N/s, N/min or off), per account; the ONS query actions default to"
        " 30/min, CreateGroupId/DeleteGroupId/ListGroupId to 10/s."
    ),
)
@click.option(
    "--fault-rate",
    default=0.0,
    type=click.FloatRange(0.0, 1.0),
    help="Share of requests answered with 500/503 or a dropped connection.",
)
@click.option("--fault-seed", type=int, help="Seed for reproducible fault injection.")
@click.option(
    "--latency-ms", default=0.0, type=click.FloatRange(min=0.0), help="Sleep before each answer."
)
@click.pass_context
def serve_command(  # noqa: PLR0917 (click passes options positionally)
    ctx: click.Context,
    host: str,
    port: int,
    mqtt_port: int | None,
    mqtt_queue_bytes: int,
    mqtt_queue_total_bytes: int,
    tls: bool,
    tls_port: int,
    tls_cert: Path | None,
    tls_key: Path | None,
    tls_ca_file: Path | None,
    sts_duration: int | None,
    db: str | None,
    fixture: str | None,
    access_key_id: str | None,
    access_key_secret: str | None,
    region: str,
    instances: tuple[str, ...],
    topics: tuple[str, ...],
    throttles: tuple[str, ...],
    fault_rate: float,
    fault_seed: int | None,
    latency_ms: float,
) -> ExitCode:
    """Serve the ONS 2019-02-14 OnsMqtt* actions, the OnsMqtt 2020-04-20 actions, STS
    (AssumeRole, AssumeRoleWithOIDC), the ECS metadata endpoints (/latest/) and a credentials
    URI (/credentials) over HTTP on one port, and HTTPS with --tls, until Ctrl-C or SIGTERM."""
    if (access_key_id is None) != (access_key_secret is None):
        raise click.BadParameter(
            "give --access-key-id and --access-key-secret together",
            param_hint="--access-key-id/--access-key-secret",
        )
    source = ctx.get_parameter_source("access_key_secret")
    secret_source = (
        f"${SECRET_ENV}"
        if source is click.core.ParameterSource.ENVIRONMENT
        else "--access-key-secret"
    )
    options = EmulatorOptions(
        latency_ms=latency_ms,
        fault_rate=fault_rate,
        throttles=_parse_throttles(throttles),
        fault_seed=fault_seed,
    )
    topic_pairs = _parse_topics(topics)
    mqtt_options = MqttOptions(queue_limits=_queue_limits(mqtt_queue_bytes, mqtt_queue_total_bytes))
    https = _tls(tls=tls, port=tls_port, cert=tls_cert, key=tls_key, ca_file=tls_ca_file, host=host)
    store = _open_store(db)
    with ExitStack() as on_failure:  # closes what is open if the setup fails
        on_failure.callback(store.close)
        if https is not None and https.scratch is not None:
            on_failure.callback(shutil.rmtree, https.scratch, True)
        credential_lines = _seed(
            store,
            fixture=fixture,
            access_key_id=access_key_id,
            access_key_secret=access_key_secret,
            secret_source=secret_source,
            region=region,
            instances=instances,
            topics=topic_pairs,
        )
        if sts_duration is not None:
            store.update_sts_settings(duration=sts_duration)
        server = EmulatorServer(
            store,
            host=host,
            port=port,
            options=options,
            tls=None if https is None else server_context(https.files),
            tls_port=tls_port,
        )
        on_failure.callback(server.stop)
        mqtt = (
            None
            if mqtt_port is None
            else MqttServer(store, host=host, port=mqtt_port, options=mqtt_options)
        )
        on_failure.pop_all()  # set up: _serve_until_stopped stops and closes them
    return _serve_until_stopped(server, mqtt, credential_lines, db, https)


class _MqttLogLines(logging.Handler):
    """The MQTT listener's events (connects, refusals and why, drops) as stderr lines."""

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        click.echo(f"mqtt: {text}", err=True)


def _serve_until_stopped(
    server: EmulatorServer,
    mqtt: MqttServer | None,
    credential_lines: list[str],
    db: str | None,
    https: _Tls | None,
) -> ExitCode:
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    mqtt_logger, mqtt_log = logging.getLogger(MQTT_LOGGER), _MqttLogLines()
    try:
        server.start()
        # Tests and benches parse this exact first line for the bound port (and the MQTT one
        # right after it).
        click.echo(f"reconciler emulator listening on {server.url}")
        if mqtt is not None:
            mqtt_logger.addHandler(mqtt_log)
            mqtt_logger.setLevel(logging.INFO)
            mqtt.start()
            click.echo(f"reconciler emulator MQTT listening on {mqtt.url}")
        if https is not None:
            ca = https.files.ca_bundle
            trust = f" (test CA: {ca})" if ca is not None else ""
            click.echo(f"reconciler emulator HTTPS listening on {server.https_url}{trust}")
        for line in credential_lines:
            click.echo(line)
        instances = server.store.instances()
        shown = ", ".join(
            f"{i.instance_id} ({i.region}, {'namespaced' if i.independent_naming else 'shared'})"
            for i in instances[:10]
        )
        more = f" and {len(instances) - 10} more" if len(instances) > 10 else ""
        click.echo(f"instances: {shown or 'none'}{more}")
        limits = ", ".join(f"{a}={r}" for a, r in sorted(server.throttles().items()))
        click.echo(f"throttles: {limits or 'none'}")
        duration = server.store.sts_settings().duration
        click.echo(
            "sts: temporary credentials last "
            + (f"{duration}s" if duration is not None else "what DurationSeconds asks (3600s)")
        )
        click.echo(f"database: {db or 'in memory'}; press Ctrl-C to stop")
        while not stop.wait(0.5):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if mqtt is not None:
            mqtt.stop()
            mqtt_logger.removeHandler(mqtt_log)
        server.stop()
        server.store.close()
        if https is not None and https.scratch is not None:
            shutil.rmtree(https.scratch, ignore_errors=True)
    click.echo("emulator stopped")
    return ExitCode.OK
