"""``reconciler inspect``: the device and report queries as commands (who is online, since
when, how much traffic), with charts on a terminal and JSON or CSV for scripts.

Region, endpoint and credentials come as for the other commands: ``-c/--config PATH`` (its
``provider`` block and declared instances; ``reconciler.yaml`` when present), ``--region``,
``--endpoint``, the environment. Read-only: the state is read (``inspect instance``, to mark
the GIDs it manages) without the lock, and nothing is ever written.

An instance is asked through one of two APIs (``--api``): ``ons`` (ONS 2019-02-14, whose
OnsMqttQuery* actions answer every command) or ``onsmqtt`` (OnsMqtt 2020-04-20, which tells
only whether a client id is online: ``client`` and ``clients`` use it, the others refuse).
``access`` (custom authentication) exists only in OnsMqtt 2020-04-20, so it asks that API.
"""

from __future__ import annotations

import logging
import shutil
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Literal

import click

from reconciler.commands.inspect_options import (
    Asked,
    Located,
    client_id_callback,
    common_options,
    current_runtime,
    group_id_callback,
    instance_option,
    locate,
    range_options,
    read_client_ids,
    several_declared,
)
from reconciler.commands.options import DEFAULT_CONFIG, use_color
from reconciler.errors import InspectError
from reconciler.exit_codes import ExitCode
from reconciler.models import DesiredState
from reconciler.ratelimit import WAIT_WORTH_SAYING

if TYPE_CHECKING:
    from reconciler.cloud.client import OnsClient
    from reconciler.cloud.onsmqtt import OnsMqttClient
    from reconciler.commands.connect import CloudSession
    from reconciler.inspect.pacing import CallPlan
    from reconciler.inspect.queries import OnProgress, Series, Target
    from reconciler.render.inspect import Report

# The choices as typed (any case; click lower-cases them) and as the service spells them.
DIRECTIONS: dict[str, Literal["PUB", "SUB"]] = {"pub": "PUB", "sub": "SUB"}
MESSAGE_TYPES: dict[str, Literal["P2P", "SUB"]] = {"p2p": "P2P", "sub": "SUB"}
CHART_HEIGHT = (10, 20)  # rows: at least, at most
CLOUD_LOGGER = "reconciler.cloud"


class _CountingSleep:
    """The client's sleep, adding up how long it waited (pacing and retry backoff)."""

    def __init__(self, sleep: Callable[[float], None]) -> None:
        self._sleep = sleep
        self.total = 0.0

    def __call__(self, seconds: float) -> None:
        self.total += seconds
        self._sleep(seconds)


# --- wiring -------------------------------------------------------------------------------


def _debug() -> bool:
    """``--debug`` (before or after the command) lowered the cloud log to DEBUG."""
    return logging.getLogger(CLOUD_LOGGER).isEnabledFor(logging.DEBUG)


# What the ONS-only commands ask, and why the OnsMqtt 2020-04-20 API cannot answer it.
_ONS_ONLY = {
    "group": ("OnsMqttQueryClientByGroupId", "cannot count a GID's online clients"),
    "topic": ("OnsMqttQueryClientByTopic", "cannot count a topic's subscribers"),
    "history": ("OnsMqttQueryHistoryOnline", "keeps no online history"),
    "trend": ("OnsMqttQueryMsgTransTrend", "reports no message trends"),
    "instance": ("OnsMqttQueryClientByGroupId", "cannot count a GID's online clients"),
}


def _refuse_ons_only(located: Located, command: str) -> None:
    """The ONS-only commands refuse an onsmqtt target, saying why and what to do instead."""
    if command not in _ONS_ONLY or located.api == "ons":
        return
    several = several_declared(located)
    if several is not None:
        raise click.UsageError(several)
    action, reason = _ONS_ONLY[command]
    hint = "inspect clients FILE checks known client ids; " if "online clients" in reason else ""
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


@contextmanager
def _session(located: Located) -> Iterator[CloudSession]:
    """The run's clients, with the runtime's rates, clock and sleep and checked credentials;
    an ``InspectError`` leaves as one line (with the RequestId under ``--debug``), and a long
    pacing wait is reported after."""
    from reconciler.commands.connect import cloud_session  # noqa: PLC0415

    runtime = current_runtime()
    sleep = _CountingSleep(runtime.sleep)
    try:
        with cloud_session(
            located.provider,
            endpoint=located.endpoint,
            instances=located.declared,
            rates=runtime.rate_limits,
            clock=runtime.clock,
            sleep=sleep,
        ) as session:
            session.check()
            yield session
    except InspectError as err:
        raise click.ClickException(err.describe(with_request_id=_debug())) from err
    if sleep.total >= WAIT_WORTH_SAYING:
        from reconciler.render.inspect import waited_notice  # noqa: PLC0415

        click.echo(waited_notice(sleep.total), err=True)


@contextmanager
def _connect(located: Located, *, command: str) -> Iterator[OnsClient]:
    """The target's ONS 2019-02-14 client; the ONS-only commands refuse an onsmqtt target."""
    from reconciler.cloud.client import OnsClient  # noqa: PLC0415

    _refuse_ons_only(located, command)
    with _session(located) as session:
        yield session.client_as(located.target.region, OnsClient)


@contextmanager
def _connect_sessions(located: Located) -> Iterator[OnsMqttClient]:
    """The target's OnsMqtt 2020-04-20 client, which needs an instance."""
    from reconciler.cloud.onsmqtt import OnsMqttClient  # noqa: PLC0415

    if located.target.instance_id is None:
        raise click.UsageError(
            several_declared(located)
            or "--instance ID is required: the OnsMqtt 2020-04-20 API (--api onsmqtt) needs it"
        )
    with _session(located) as session:
        yield session.client_as(located.target.region, OnsMqttClient)


@contextmanager
def _paced(plan: CallPlan, asked: Asked) -> Iterator[OnProgress | None]:
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
    from reconciler.commands.progress import ProgressBar  # noqa: PLC0415

    bar = ProgressBar(
        plan.action,
        plan.calls,
        stream=sys.stderr,
        color=use_color(asked.no_color, sys.stderr),
        transient=True,
        time_left=plan.remaining_after,
    )
    # The bar shows the pacing; the client's INFO lines about it would only cut through it.
    cloud_log = logging.getLogger(CLOUD_LOGGER)

    def quiet(record: logging.LogRecord) -> bool:
        return record.levelno != logging.INFO

    cloud_log.addFilter(quiet)
    bar.start()
    try:
        yield lambda done, total: bar.update(done)
    finally:
        bar.stop()
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
@click.argument("group_id", metavar="GID", callback=group_id_callback)
@instance_option()
@common_options
def group_command(*, group_id: str, asked: Asked) -> ExitCode:
    """How many clients of GID are online now (OnsMqttQueryClientByGroupId)."""
    from reconciler.inspect.queries import group_online  # noqa: PLC0415
    from reconciler.render.inspect import group_text  # noqa: PLC0415

    located = locate(asked)
    with _connect(located, command="group") as client:
        report = group_online(client, located.target, group_id)
    _write(report, asked, lambda: group_text(report))
    return ExitCode.OK


@inspect_group.command("topic")
@click.argument("parent_topic", metavar="PARENT")
@click.argument("sub_topic", metavar="[SUBTOPIC]", required=False, default="")
@instance_option()
@common_options
def topic_command(*, parent_topic: str, sub_topic: str, asked: Asked) -> ExitCode:
    """How many subscribers of a topic are online now (OnsMqttQueryClientByTopic)."""
    from reconciler.inspect.queries import topic_online  # noqa: PLC0415
    from reconciler.render.inspect import topic_text  # noqa: PLC0415

    located = locate(asked)
    with _connect(located, command="topic") as client:
        report = topic_online(client, located.target, parent_topic, sub_topic)
    _write(report, asked, lambda: topic_text(report))
    return ExitCode.OK


@inspect_group.command("client")
@click.argument("client_id", metavar="CLIENT_ID", callback=client_id_callback)
@instance_option()
@common_options
def client_command(*, client_id: str, asked: Asked) -> ExitCode:
    """Whether a client is online, its last touch, socket and subscriptions
    (OnsMqttQueryClientByClientId); through onsmqtt only whether it is online
    (QuerySessionByClientId)."""
    from reconciler.inspect.queries import (  # noqa: PLC0415
        ClientReport,
        client_report,
        session_report,
    )
    from reconciler.render.inspect import client_text  # noqa: PLC0415

    located = locate(asked)
    report: ClientReport
    if located.api == "onsmqtt":
        with _connect_sessions(located) as sessions:
            report = session_report(sessions, located.target, client_id)
    else:
        with _connect(located, command="client") as client:
            report = client_report(client, located.target, client_id)
    now_ms = current_runtime().wall_ms()
    _write(
        report,
        asked,
        lambda: client_text(report, now_ms=now_ms, color=asked.color, width=_width()),
    )
    return ExitCode.OK


@inspect_group.command("clients")
@click.argument(
    "source",
    metavar="FILE|-",
    type=click.Path(exists=True, dir_okay=False, allow_dash=True, path_type=str),
)
@instance_option()
@common_options
def clients_command(*, source: str, asked: Asked) -> ExitCode:
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

    client_ids = read_client_ids(source)
    located = locate(asked)
    count = len(client_ids)
    report: ClientsReport
    if located.api == "onsmqtt":
        with _connect_sessions(located) as sessions:
            plan = clients_plan(located.api, count, sessions.rate_limits)
            with _paced(plan, asked) as on_progress:
                report = sessions_online(
                    sessions, located.target, client_ids, on_progress=on_progress
                )
    else:
        with _connect(located, command="clients") as client:
            plan = clients_plan(located.api, count, client.rate_limits)
            with _paced(plan, asked) as on_progress:
                report = clients_online(client, located.target, client_ids, on_progress=on_progress)
    _write(report, asked, lambda: clients_text(report, color=asked.color, width=_width()))
    return ExitCode.OK


@inspect_group.command("history")
@click.argument("group_id", metavar="GID", callback=group_id_callback)
@instance_option()
@range_options
@common_options
def history_command(
    *, group_id: str, begin_ms: int, end_ms: int, no_chart: bool, asked: Asked
) -> ExitCode:
    """Online clients of GID over time (OnsMqttQueryHistoryOnline, one call per day)."""
    from reconciler.inspect.queries import history, series_plan  # noqa: PLC0415

    located = locate(asked)
    with _connect(located, command="history") as client:
        plan = series_plan("history", begin_ms, end_ms, client.rate_limits)
        with _paced(plan, asked) as on_progress:
            series = history(
                client, located.target, group_id, begin_ms, end_ms, on_progress=on_progress
            )
    _write_series(series, asked, no_chart=no_chart)
    return ExitCode.OK


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
@instance_option("Instance id (required by the service) [default: the file's only instance].")
@range_options
@common_options
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
) -> ExitCode:
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
    located = locate(asked)
    with _connect(located, command="trend") as client:
        if located.target.instance_id is None:
            raise click.UsageError(
                several_declared(located)
                or "--instance ID is required: the service needs it for trends"
            )
        plan = series_plan("trend", begin_ms, end_ms, client.rate_limits)
        with _paced(plan, asked) as on_progress:
            series = trend(client, located.target, query, begin_ms, end_ms, on_progress=on_progress)
    _write_series(series, asked, no_chart=no_chart)
    return ExitCode.OK


@inspect_group.command("instance")
@click.argument("instance_id", metavar="ID")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="Look up only the first N GIDs (in name order); the others are listed without a count.",
)
@common_options
def instance_command(*, limit: int | None, asked: Asked) -> ExitCode:
    """Every GID of instance ID with its online count, most first; GIDs the state manages
    are marked (the state is read without its lock)."""
    from reconciler.inspect.queries import (  # noqa: PLC0415
        instance_groups,
        instance_plan,
        instance_report,
    )
    from reconciler.render.inspect import instance_text  # noqa: PLC0415

    located = locate(asked)
    with _connect(located, command="instance") as client:
        managed = _managed(located.desired, located.target)
        group_ids = instance_groups(client, located.target)
        looked_up = len(group_ids) if limit is None else min(limit, len(group_ids))
        with _paced(instance_plan(looked_up, client.rate_limits), asked) as on_progress:
            report = instance_report(
                client,
                located.target,
                group_ids,
                managed=managed,
                limit=limit,
                on_progress=on_progress,
            )
    _write(report, asked, lambda: instance_text(report, color=asked.color, width=_width()))
    return ExitCode.OK


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


@inspect_group.command("access")
@click.argument("instance_id", metavar="ID")
@common_options
def access_command(*, asked: Asked) -> ExitCode:
    """Custom authentication of instance ID: its identities (never their secrets), topic
    permissions and connect blacklist (QueryCustomAuth*, OnsMqtt 2020-04-20)."""
    from reconciler.inspect.queries import access_report  # noqa: PLC0415
    from reconciler.render.inspect import access_text  # noqa: PLC0415

    if asked.api == "ons":
        raise click.UsageError(
            "inspect access needs the CustomAuth actions of OnsMqtt 2020-04-20; ONS 2019-02-14"
            " (--api ons) has none: leave --api out or pass --api onsmqtt"
        )
    located = locate(asked)
    with _connect_sessions(located) as client:
        report = access_report(client, located.target)
    _write(report, asked, lambda: access_text(report, color=asked.color, width=_width()))
    return ExitCode.OK
