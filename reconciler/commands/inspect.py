"""``reconciler inspect``: the device and report queries as commands (who is online, since
when, how much traffic), with charts on a terminal and JSON or CSV for scripts.

Region, endpoint and credentials come as for the other commands: ``-c/--config PATH`` (its
``provider`` block and declared instances; ``reconciler.yaml`` when present), ``--region``,
``--endpoint``, the environment. Read-only: the state is read (``inspect instance``, to mark
the GIDs it manages) without the lock, and nothing is ever written.

An instance is asked through one of two APIs (``--api``): ``ons`` (ONS 2019-02-14, whose
OnsMqttQuery* actions answer every command) or ``onsmqtt`` (OnsMqtt 2020-04-20, which tells
only whether a client id is online: ``client`` and ``clients`` use it, the others refuse).
"""

from __future__ import annotations

import functools
import logging
import shutil
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import click

from reconciler.commands.options import (
    DEFAULT_CONFIG,
    config_option,
    endpoint_option,
    no_color_option,
    stacked,
    use_color,
)
from reconciler.errors import InspectError
from reconciler.models import (
    APIS,
    DEFAULT_API,
    DEFAULT_REGION,
    GROUP_ID_RE,
    Api,
    DesiredInstance,
    DesiredState,
    client_id_problem,
)

if TYPE_CHECKING:
    from reconciler.cloud.client import OnsMqttClient
    from reconciler.cloud.onsmqtt import OnsMqtt2020Client
    from reconciler.inspect.pacing import CallPlan
    from reconciler.inspect.queries import OnProgress, Series, Target
    from reconciler.models import ProviderConfig
    from reconciler.ratelimit import Rate
    from reconciler.render.inspect import Report

F = Callable[..., Any]
ClientT = TypeVar("ClientT", bound="OnsMqttClient | OnsMqtt2020Client")
FORMATS = ("text", "json", "csv")
STDIN = "-"
# The choices as typed (any case; click lower-cases them) and as the service spells them.
DIRECTIONS: dict[str, Literal["PUB", "SUB"]] = {"pub": "PUB", "sub": "SUB"}
MESSAGE_TYPES: dict[str, Literal["P2P", "SUB"]] = {"p2p": "P2P", "sub": "SUB"}
CHART_HEIGHT = (10, 20)  # rows: at least, at most
CLOUD_LOGGER = "reconciler.cloud"
# A pacing wait shorter than this is the normal rhythm of the calls, not worth a line.
WAIT_WORTH_SAYING = 1.0


@dataclass
class Runtime:
    """Clock, sleep and rate limits of the client; tests pass their own as the click
    context's ``obj`` so a minute of pacing takes no real time."""

    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    wall_ms: Callable[[], int] = field(default=lambda: int(time.time() * 1000))
    rate_limits: Mapping[str, Rate | None] | None = None


class _CountingSleep:
    """The client's sleep, adding up how long it waited (pacing and retry backoff)."""

    def __init__(self, sleep: Callable[[float], None]) -> None:
        self._sleep = sleep
        self.total = 0.0

    def __call__(self, seconds: float) -> None:
        self.total += seconds
        self._sleep(seconds)


@dataclass(frozen=True)
class Asked:
    """The options every command takes (``_common`` gathers them): where to ask, how to answer."""

    config: tuple[Path, ...]
    region: str | None
    endpoint: str | None
    api: Api | None  # click.Choice(APIS) lets no other value through
    instance_id: str | None
    output_format: str
    no_color: bool

    @property
    def color(self) -> bool:
        return use_color(self.no_color, sys.stdout)


@dataclass(frozen=True)
class Located:
    """What a command asks about: the file's settings, the region and instance, the API."""

    desired: DesiredState | None
    provider: ProviderConfig
    declared: list[DesiredInstance]
    target: Target
    api: Api
    endpoint: str | None


# --- options --------------------------------------------------------------------------------


def _common(function: F) -> F:
    """``-c/--config``, ``--region``, ``--endpoint``, ``--api``, ``--format``, ``--no-color``,
    passed with the command's ``instance_id`` as one ``asked: Asked``."""

    @functools.wraps(function)
    def with_asked(*args: Any, **kwargs: Any) -> Any:
        asked = Asked(**{f.name: kwargs.pop(f.name) for f in fields(Asked)})
        return function(*args, asked=asked, **kwargs)

    return stacked(
        config_option(
            f"Desired-state file (or directory) for region, endpoint, credentials profile and "
            f"state [default: {DEFAULT_CONFIG} when present].",
            default=None,
        ),
        click.option(
            "--region",
            default=None,
            help="Region [default: the instance's in the file, else the file's, "
            f"else {DEFAULT_REGION}].",
        ),
        endpoint_option(),
        click.option(
            "--api",
            type=click.Choice(APIS),
            default=None,
            help="The instance's API: ons (ONS 2019-02-14) or onsmqtt (OnsMqtt 2020-04-20) "
            f"[default: the instance's api in the file, else provider.api, else {DEFAULT_API}].",
        ),
        click.option(
            "--format",
            "output_format",
            type=click.Choice(FORMATS),
            default="text",
            show_default=True,
            help="text for people; json or csv (data only) for scripts.",
        ),
        no_color_option,
    )(with_asked)


def _instance_option(
    required_help: str = "Instance id [default: the file's only instance].",
) -> Callable[[F], F]:
    return click.option("--instance", "instance_id", default=None, metavar="ID", help=required_help)


def _range_options(function: F) -> F:
    @functools.wraps(function)
    def with_range(
        *args: Any, since: str | None, start: str | None, end: str | None, **kwargs: Any
    ) -> Any:
        from reconciler.inspect.timespec import TimeSpecError, resolve_range  # noqa: PLC0415

        runtime = _runtime()
        try:
            begin_ms, end_ms = resolve_range(
                since=since, start=start, end=end, now_ms=runtime.wall_ms()
            )
        except TimeSpecError as exc:
            raise click.UsageError(str(exc)) from exc
        return function(*args, begin_ms=begin_ms, end_ms=end_ms, **kwargs)

    return stacked(
        click.option("--no-chart", is_flag=True, help="Print the numbers, not a chart."),
        click.option(
            "--since",
            default=None,
            metavar="T",
            help="Range from T to now [default: 24h]. T: 30m, 6h, 7d, ISO 8601 or epoch ms.",
        ),
        click.option("--from", "start", default=None, metavar="T", help="Start of the range."),
        click.option(
            "--to", "end", default=None, metavar="T", help="End of the range [default: now]."
        ),
    )(with_range)


def _group_id(ctx: click.Context, param: click.Parameter, value: str) -> str:
    if not GROUP_ID_RE.match(value):
        raise click.BadParameter(
            f"{value!r} is not a Group ID: GID_ or GID- then letters, digits, '-' and '_' "
            "(7 to 64 characters)",
            ctx=ctx,
            param=param,
        )
    return value


def _client_id(ctx: click.Context, param: click.Parameter, value: str) -> str:
    problem = client_id_problem(value)
    if problem is not None:
        raise click.BadParameter(problem, ctx=ctx, param=param)
    return value


def _read_client_ids(source: str) -> list[str]:
    """The ids of FILE or standard input (``-``); a bad line is a usage error naming it."""
    from reconciler.inspect.clientids import ClientIdListError, parse_client_ids  # noqa: PLC0415

    name = "<stdin>" if source == STDIN else source
    try:
        with click.open_file(source, "rb") as stream:
            raw = stream.read()
    except OSError as exc:
        raise click.UsageError(f"cannot read {name}: {exc.strerror or exc}") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise click.UsageError(f"{name}: not UTF-8 text (byte {exc.start + 1})") from exc
    try:
        return parse_client_ids(text, source=name)
    except ClientIdListError as exc:
        raise click.UsageError(str(exc)) from exc


# --- wiring -------------------------------------------------------------------------------


def _runtime() -> Runtime:
    found = click.get_current_context().find_object(Runtime)
    return found if found is not None else Runtime()


def _debug() -> bool:
    """``--debug`` (before or after the command) lowered the cloud log to DEBUG."""
    return logging.getLogger(CLOUD_LOGGER).isEnabledFor(logging.DEBUG)


def _load_desired(config: tuple[Path, ...]) -> DesiredState | None:
    """The ``-c`` files; the default name only when it exists (inspect needs no file)."""
    from reconciler.commands.options import load_config  # noqa: PLC0415

    if not config:
        default = Path(DEFAULT_CONFIG)
        if not default.is_file():
            return None
        config = (default,)
    return load_config(config)


def _locate(asked: Asked) -> Located:
    """The region, instance and API a command asks about: the options, else the file's."""
    from reconciler.inspect.queries import Target  # noqa: PLC0415
    from reconciler.models import ProviderConfig  # noqa: PLC0415

    desired = _load_desired(asked.config)
    provider = desired.provider if desired is not None else ProviderConfig()
    declared = list(desired.instances) if desired is not None else []
    instance_id = asked.instance_id
    if instance_id is None and len(declared) == 1:
        instance_id = declared[0].instance_id
    # Region and API: the options, else the declared instance's, else the provider's.
    settings = next((i for i in declared if i.instance_id == instance_id), provider)
    target = Target(asked.region or settings.region, instance_id)
    api = asked.api or settings.api
    return Located(desired, provider, declared, target, api, asked.endpoint)


# What the ONS-only commands ask, and why the OnsMqtt 2020-04-20 API cannot answer it.
_ONS_ONLY = {
    "group": ("OnsMqttQueryClientByGroupId", "cannot count a GID's online clients"),
    "topic": ("OnsMqttQueryClientByTopic", "cannot count a topic's subscribers"),
    "history": ("OnsMqttQueryHistoryOnline", "keeps no online history"),
    "trend": ("OnsMqttQueryMsgTransTrend", "reports no message trends"),
    "instance": ("OnsMqttQueryClientByGroupId", "cannot count a GID's online clients"),
}


@contextmanager
def _client(located: Located, make: Callable[..., ClientT]) -> Iterator[ClientT]:
    """A client for the target from ``make`` (a client class with its rate limits bound),
    with checked credentials and the runtime's clock and sleep; an ``InspectError`` leaves as
    one line (with the RequestId under ``--debug``), and a long pacing wait is reported after."""
    from reconciler.commands.connect import cloud_session  # noqa: PLC0415

    runtime = _runtime()
    sleep = _CountingSleep(runtime.sleep)
    try:
        with cloud_session(
            located.provider, endpoint=located.endpoint, instances=located.declared
        ) as session:
            session.check()
            client = make(
                session.credentials(),
                region=located.target.region,
                endpoint=session.endpoint,
                sleep=sleep,
                clock=runtime.clock,
            )
            with client:
                yield client
    except InspectError as err:
        raise click.ClickException(err.describe(with_request_id=_debug())) from err
    if sleep.total >= WAIT_WORTH_SAYING:
        from reconciler.render.inspect import waited_notice  # noqa: PLC0415

        click.echo(waited_notice(sleep.total), err=True)


def _several_declared(located: Located) -> str | None:
    """What to say when no ``--instance`` was given where one is needed and the file declares
    several instances (with one, it is the default): which they are, and to pick one."""
    declared = located.declared
    if located.target.instance_id is not None or len(declared) < 2 or located.desired is None:
        return None
    shown = [instance.instance_id for instance in declared[:_IDS_SHOWN]]
    if len(declared) > _IDS_SHOWN:
        shown.append(f"{len(declared) - _IDS_SHOWN} more")
    source = located.desired.source or "the file"
    listed = ", ".join(shown)
    return f"{source} declares {len(declared)} instances ({listed}): name one with --instance"


_IDS_SHOWN = 5


def _connect(located: Located, *, command: str) -> AbstractContextManager[OnsMqttClient]:
    """An ONS 2019-02-14 client for the target, paced by its per-action buckets; the
    ONS-only commands refuse an onsmqtt target."""
    from reconciler.cloud.client import OnsMqttClient  # noqa: PLC0415

    if command in _ONS_ONLY and located.api != "ons":
        several = _several_declared(located)
        if several is not None:
            raise click.UsageError(several)
        action, reason = _ONS_ONLY[command]
        hint = (
            "inspect clients FILE checks known client ids; " if "online clients" in reason else ""
        )
        instance_id = located.target.instance_id
        if instance_id is None:
            raise click.ClickException(
                f"inspect {command} needs {action} of the ONS 2019-02-14 API, but the API "
                f"asked is onsmqtt (OnsMqtt 2020-04-20), which {reason}; {hint}use --api ons "
                f"to ask the shared-namespace instances of {located.target.region}"
            )
        raise click.ClickException(
            f"inspect {command} needs {action} of the ONS 2019-02-14 API, but instance "
            f"{instance_id} is asked through onsmqtt (OnsMqtt 2020-04-20), which {reason}; "
            f"{hint}use --api ons if the instance answers the ONS API"
        )
    return _client(located, functools.partial(OnsMqttClient, rate_limits=_runtime().rate_limits))


def _connect_sessions(located: Located) -> AbstractContextManager[OnsMqtt2020Client]:
    """An OnsMqtt 2020-04-20 client for the target, paced by the account's buckets (with
    the runtime's overrides for its actions)."""
    from reconciler.cloud.onsmqtt import (  # noqa: PLC0415
        ACTIONS,
        OnsMqtt2020Client,
        account_rate_limits,
    )

    if located.target.instance_id is None:
        raise click.UsageError(
            _several_declared(located)
            or "--instance ID is required: the OnsMqtt 2020-04-20 API (--api onsmqtt) needs it"
        )
    runtime = _runtime()
    overrides = {a: r for a, r in (runtime.rate_limits or {}).items() if a in ACTIONS}
    limits = account_rate_limits(overrides, clock=runtime.clock)
    return _client(located, functools.partial(OnsMqtt2020Client, rate_limits=limits))


@contextmanager
def _paced(plan: CallPlan) -> Iterator[OnProgress | None]:
    """Say up front when the calls outnumber the bucket, and on a terminal show a progress
    bar with the time still ahead."""
    if not plan.exceeds_bucket:
        yield None
        return
    from reconciler.render.inspect import call_plan_notice  # noqa: PLC0415

    click.echo(call_plan_notice(plan), err=True)
    if not sys.stderr.isatty() or _debug():  # --debug logs every call: no bar between them
        yield None
        return
    from rich.console import Console  # noqa: PLC0415
    from rich.progress import (  # noqa: PLC0415
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        Task,
        TextColumn,
    )
    from rich.text import Text  # noqa: PLC0415

    class TimeLeft(ProgressColumn):
        """Counts down between calls (a paced call may be seconds away), from the plan's
        estimate at the last finished call; rich's own estimate knows nothing of pacing."""

        def render(self, task: Task) -> Text:
            left = max(0.0, float(task.fields["deadline"]) - time.monotonic())
            return Text(f"about {round(left)} s left")

    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeLeft(),
        console=Console(stderr=True),
        transient=True,
    )
    # The bar shows the pacing; the client's INFO lines about it would only cut through it.
    cloud_log = logging.getLogger(CLOUD_LOGGER)

    def quiet(record: logging.LogRecord) -> bool:
        return record.levelno != logging.INFO

    cloud_log.addFilter(quiet)
    try:
        with progress:
            task = progress.add_task(
                plan.action, total=plan.calls, deadline=time.monotonic() + plan.seconds()
            )

            def on_progress(done: int, total: int) -> None:
                deadline = time.monotonic() + plan.remaining_after(done)
                progress.update(task, completed=done, deadline=deadline)

            yield on_progress
    finally:
        cloud_log.removeFilter(quiet)


def _write(report: Report, asked: Asked, text: Callable[[], str]) -> None:
    from reconciler.render.inspect import to_csv, to_json  # noqa: PLC0415

    if asked.output_format == "json":
        click.echo(to_json(report), nl=False)
    elif asked.output_format == "csv":
        click.echo(to_csv(report), nl=False)
    else:
        click.echo(text(), nl=False)


def _width() -> int:
    return shutil.get_terminal_size().columns


def _write_series(series: Series, asked: Asked, *, no_chart: bool) -> None:
    from reconciler.render.inspect import series_chart, series_numbers  # noqa: PLC0415

    def text() -> str:
        if no_chart or not sys.stdout.isatty():
            return series_numbers(series)
        rows = shutil.get_terminal_size().lines - 6
        height = max(CHART_HEIGHT[0], min(CHART_HEIGHT[1], rows))
        return series_chart(series, width=_width(), height=height, color=asked.color)

    _write(series, asked, text)


# --- the commands -------------------------------------------------------------------------


@click.group("inspect")
def inspect_group() -> None:
    """Ask the service who is online, since when, and how much traffic flows (read-only)."""


@inspect_group.command("group")
@click.argument("group_id", metavar="GID", callback=_group_id)
@_instance_option()
@_common
def group_command(*, group_id: str, asked: Asked) -> int:
    """How many clients of GID are online now (OnsMqttQueryClientByGroupId)."""
    from reconciler.inspect.queries import group_online  # noqa: PLC0415
    from reconciler.render.inspect import group_text  # noqa: PLC0415

    located = _locate(asked)
    with _connect(located, command="group") as client:
        report = group_online(client, located.target, group_id)
    _write(report, asked, lambda: group_text(report))
    return 0


@inspect_group.command("topic")
@click.argument("parent_topic", metavar="PARENT")
@click.argument("sub_topic", metavar="[SUBTOPIC]", required=False, default="")
@_instance_option()
@_common
def topic_command(*, parent_topic: str, sub_topic: str, asked: Asked) -> int:
    """How many subscribers of a topic are online now (OnsMqttQueryClientByTopic)."""
    from reconciler.inspect.queries import topic_online  # noqa: PLC0415
    from reconciler.render.inspect import topic_text  # noqa: PLC0415

    located = _locate(asked)
    with _connect(located, command="topic") as client:
        report = topic_online(client, located.target, parent_topic, sub_topic)
    _write(report, asked, lambda: topic_text(report))
    return 0


@inspect_group.command("client")
@click.argument("client_id", metavar="CLIENT_ID", callback=_client_id)
@_instance_option()
@_common
def client_command(*, client_id: str, asked: Asked) -> int:
    """Whether a client is online, its last touch, socket and subscriptions
    (OnsMqttQueryClientByClientId); through onsmqtt only whether it is online
    (QuerySessionByClientId)."""
    from reconciler.inspect.queries import (  # noqa: PLC0415
        ClientReport,
        client_report,
        session_report,
    )
    from reconciler.render.inspect import client_text  # noqa: PLC0415

    located = _locate(asked)
    report: ClientReport
    if located.api == "onsmqtt":
        with _connect_sessions(located) as sessions:
            report = session_report(sessions, located.target, client_id)
    else:
        with _connect(located, command="client") as client:
            report = client_report(client, located.target, client_id)
    now_ms = _runtime().wall_ms()
    _write(
        report,
        asked,
        lambda: client_text(report, now_ms=now_ms, color=asked.color, width=_width()),
    )
    return 0


@inspect_group.command("clients")
@click.argument(
    "source",
    metavar="FILE|-",
    type=click.Path(exists=True, dir_okay=False, allow_dash=True, path_type=str),
)
@_instance_option()
@_common
def clients_command(*, source: str, asked: Asked) -> int:
    """Whether each client id of FILE (- for standard input) is online: one id a line, blank
    lines and # comments skipped. Through onsmqtt ten ids a call
    (BatchQuerySessionByClientIds); through ons one a call, 30 a minute
    (OnsMqttQueryClientByClientId)."""
    from reconciler.inspect.queries import (  # noqa: PLC0415
        ClientsReport,
        clients_online,
        clients_plan,
        sessions_online,
    )
    from reconciler.render.inspect import clients_text  # noqa: PLC0415

    client_ids = _read_client_ids(source)
    located = _locate(asked)
    plan = clients_plan(located.api, len(client_ids), _runtime().rate_limits)
    report: ClientsReport
    if located.api == "onsmqtt":
        with _connect_sessions(located) as sessions, _paced(plan) as on_progress:
            report = sessions_online(sessions, located.target, client_ids, on_progress=on_progress)
    else:
        with _connect(located, command="clients") as client, _paced(plan) as on_progress:
            report = clients_online(client, located.target, client_ids, on_progress=on_progress)
    _write(report, asked, lambda: clients_text(report, color=asked.color, width=_width()))
    return 0


@inspect_group.command("history")
@click.argument("group_id", metavar="GID", callback=_group_id)
@_instance_option()
@_range_options
@_common
def history_command(
    *, group_id: str, begin_ms: int, end_ms: int, no_chart: bool, asked: Asked
) -> int:
    """Online clients of GID over time (OnsMqttQueryHistoryOnline, one call per day)."""
    from reconciler.inspect.queries import history, series_plan  # noqa: PLC0415

    located = _locate(asked)
    with _connect(located, command="history") as client:
        plan = series_plan("history", begin_ms, end_ms, _runtime().rate_limits)
        with _paced(plan) as on_progress:
            series = history(
                client, located.target, group_id, begin_ms, end_ms, on_progress=on_progress
            )
    _write_series(series, asked, no_chart=no_chart)
    return 0


@inspect_group.command("trend")
@click.argument("parent_topic", metavar="PARENT_TOPIC")
@click.option(
    "--direction",
    type=click.Choice(["pub", "sub"], case_sensitive=False),
    required=True,
    help="pub: messages sent to the topic; sub: messages delivered from it.",
)
@click.option("--sum", "summed", is_flag=True, help="Message totals instead of rates (TPS).")
@click.option("--subtopic", default=None, metavar="S", help="Only this sub-topic (e.g. /room/1/).")
@click.option(
    "--type",
    "msg_type",
    type=click.Choice(["p2p", "sub"], case_sensitive=False),
    default=None,
    help="Only point-to-point or publish/subscribe messages.",
)
@click.option("--qos", type=click.Choice(["0", "1", "2"]), default=None, help="Only this QoS.")
@_instance_option("Instance id (required by the service) [default: the file's only instance].")
@_range_options
@_common
def trend_command(
    *,
    parent_topic: str,
    direction: str,
    summed: bool,
    subtopic: str | None,
    msg_type: str | None,
    qos: str | None,
    begin_ms: int,
    end_ms: int,
    no_chart: bool,
    asked: Asked,
) -> int:
    """Messages per second (or totals) of a topic over time (OnsMqttQueryMsgTransTrend)."""
    from reconciler.inspect.queries import TrendQuery, series_plan, trend  # noqa: PLC0415

    query = TrendQuery(
        parent_topic=parent_topic,
        direction=DIRECTIONS[direction.lower()],
        summed=summed,
        sub_topic=subtopic,
        msg_type=None if msg_type is None else MESSAGE_TYPES[msg_type.lower()],
        qos=None if qos is None else int(qos),
    )
    located = _locate(asked)
    with _connect(located, command="trend") as client:
        if located.target.instance_id is None:
            raise click.UsageError(
                _several_declared(located)
                or "--instance ID is required: the service needs it for trends"
            )
        plan = series_plan("trend", begin_ms, end_ms, _runtime().rate_limits)
        with _paced(plan) as on_progress:
            series = trend(client, located.target, query, begin_ms, end_ms, on_progress=on_progress)
    _write_series(series, asked, no_chart=no_chart)
    return 0


@inspect_group.command("instance")
@click.argument("instance_id", metavar="ID")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="Look up only the first N GIDs (in name order); the others are listed without a count.",
)
@_common
def instance_command(*, limit: int | None, asked: Asked) -> int:
    """Every GID of instance ID with its online count, most first; GIDs the state manages
    are marked (the state is read without its lock)."""
    from reconciler.inspect.queries import (  # noqa: PLC0415
        instance_groups,
        instance_plan,
        instance_report,
    )
    from reconciler.render.inspect import instance_text  # noqa: PLC0415

    located = _locate(asked)
    with _connect(located, command="instance") as client:
        managed = _managed(located.desired, located.target)
        group_ids = instance_groups(client, located.target)
        looked_up = len(group_ids) if limit is None else min(limit, len(group_ids))
        with _paced(instance_plan(looked_up, _runtime().rate_limits)) as on_progress:
            report = instance_report(
                client,
                located.target,
                group_ids,
                managed=managed,
                limit=limit,
                on_progress=on_progress,
            )
    _write(report, asked, lambda: instance_text(report, color=asked.color, width=_width()))
    return 0


def _managed(desired: DesiredState | None, target: Target) -> frozenset[str]:
    """The GIDs of the instance recorded in the state, read WITHOUT the lock: inspect only
    reads, and must not wait for (or block) a running apply."""
    if desired is None:
        click.echo(
            f"note: no desired-state file ({DEFAULT_CONFIG} or -c FILE): GIDs the state "
            "manages are not marked",
            err=True,
        )
        return frozenset()
    from reconciler.commands.options import state_backend  # noqa: PLC0415

    # No lock is taken here, so the backend's force-unlock hint is never shown.
    with state_backend(desired, ()) as backend:
        state = backend.read()
    if state is None:
        return frozenset()
    return frozenset(
        r.group_id
        for r in state.resources
        if r.instance_id == target.instance_id and r.region == target.region
    )
