"""Text, tables, charts, JSON and CSV for ``reconciler inspect``.

Times for people are local (the axes, the tables, "5 minutes ago"); times for scripts are
ISO 8601 in UTC. rich and plotext are imported inside the functions that draw, so a command
that writes JSON does not pay for them.

JSON shapes (one object per command)::

    group    {"group_id", "instance_id", "online"}
    topic    {"parent_topic", "sub_topic", "instance_id", "online"}
    client   {"client_id", "instance_id", "api", "online", "last_touch", "last_touch_ms",
              "socket", "subscriptions": [{"parent_topic", "sub_topic", "qos"}] | null}
              (asked through OnsMqtt 2020-04-20: only "online" is known; the others are null)
    clients  {"instance_id", "api", "calls", "online", "offline",
              "clients": [{"client_id", "online"}]}
    history, trend
             {"kind", "subject", "instance_id", "from", "to", "title", "unit", "filters",
              "calls", "points": [{"time", "epoch_ms", "value"}],
              "summary": {"min", "max", "last"} | null}
    instance {"instance_id", "region", "looked_up", "total_online",
              "groups": [{"group_id", "online" (null: not looked up), "managed"}]}
    access   {"instance_id", "region",
              "identities": [{"identity_type", "username", "client_id" (null for USER),
                              "sign_mode" (null: not answered)}],
              "permissions": [{"identity_type", "identity", "topic", "effect",
                               "permit_action"}],
              "blacklist": [{"client_id"}]}
             (values as the service spells them: USER, SIGNED, ALLOW, PUB_SUB; no secret)
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from reconciler.inspect.pacing import CallPlan
from reconciler.inspect.queries import (
    AccessReport,
    ClientReport,
    ClientsReport,
    GroupOnline,
    InstanceReport,
    Series,
    TopicOnline,
)
from reconciler.inspect.windows import Point

Report = (
    GroupOnline
    | TopicOnline
    | ClientReport
    | ClientsReport
    | Series
    | InstanceReport
    | AccessReport
)
# The columns of ``inspect access --format csv``: one row per entry, ``kind`` saying which.
ACCESS_CSV_COLUMNS = (
    "kind",
    "identity_type",
    "identity",
    "client_id",
    "sign_mode",
    "topic",
    "effect",
    "permit_action",
)

# Ticks on the time axis: one label per this many columns at most.
COLUMNS_PER_TICK = 12
CHART_COLOR = "cyan"


# --- times --------------------------------------------------------------------------------


def iso_utc(ms: int) -> str:
    """``2026-12-02T11:55:00Z`` (milliseconds shown only when there are some)."""
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    spec = "milliseconds" if ms % 1000 else "seconds"
    return moment.isoformat(timespec=spec).replace("+00:00", "Z")


def local_time(ms: int, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    return datetime.fromtimestamp(ms / 1000).astimezone().strftime(fmt)


def local_zone() -> str:
    """The local zone as ``UTC+08:00`` (and its abbreviation when it has a real one)."""
    now = datetime.now().astimezone()
    offset = now.strftime("%z")
    text = f"UTC{offset[:3]}:{offset[3:]}" if offset else "UTC"
    name = now.tzname() or ""
    return f"{name}, {text}" if name and not name.startswith(("+", "-", "UTC")) else text


def ago(ms: int, now_ms: int) -> str:
    """``5 minutes ago``, ``just now``, ``in 2 hours``."""
    seconds = (now_ms - ms) / 1000
    future = seconds < 0
    seconds = abs(seconds)
    if seconds < 5:
        return "just now"
    units = ((86_400, "day"), (3_600, "hour"), (60, "minute"), (1, "second"))
    size, unit = next((size, unit) for size, unit in units if seconds >= size)
    count = int(seconds // size)
    words = f"{count} {unit}{'s' if count != 1 else ''}"
    return f"in {words}" if future else f"{words} ago"


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:.3f}".rstrip("0").rstrip(".")


# --- the pacing notice ------------------------------------------------------------------


def call_plan_notice(plan: CallPlan) -> str:
    """``40 calls of OnsMqttQueryClientByGroupId, about 20 s at 30 a minute``."""
    rate = plan.rate
    pace = ""
    if rate is not None:
        per = "a minute" if rate.period == 60 else "a second" if rate.period == 1 else "per"
        pace = f" at {_number(rate.calls)} {per}"
    return f"{plan.calls} calls of {plan.action}, about {_duration(plan.seconds())}{pace}"


def waited_notice(seconds: float) -> str:
    return f"waited {_duration(seconds)} for the rate limit"


def _duration(seconds: float) -> str:
    whole = round(seconds)
    if whole < 120:
        return f"{whole} s"
    minutes, rest = divmod(whole, 60)
    return f"{minutes} min {rest} s" if rest else f"{minutes} min"


# --- text -------------------------------------------------------------------------------


def _where(instance_id: str | None) -> str:
    return f" ({instance_id})" if instance_id else ""


def group_text(data: GroupOnline) -> str:
    return f"{data.group_id}{_where(data.instance_id)}: {_clients(data.online)} online\n"


def topic_text(data: TopicOnline) -> str:
    name = data.parent_topic + data.sub_topic
    noun = "subscriber" if data.online == 1 else "subscribers"
    return f"{name}{_where(data.instance_id)}: {data.online} {noun} online\n"


def _clients(count: int) -> str:
    return f"{count} client" if count == 1 else f"{count} clients"


def client_text(data: ClientReport, *, now_ms: int, color: bool, width: int) -> str:
    state = "online" if data.online else "offline"
    lines = [f"{data.client_id}{_where(data.instance_id)}: {state}"]
    if data.last_touch_ms is not None:
        lines.append(
            f"  last touch     {local_time(data.last_touch_ms)} ({ago(data.last_touch_ms, now_ms)})"
        )
    if data.subscriptions is None:
        lines.append(
            "  last touch, socket and subscriptions: not available through the OnsMqtt "
            "2020-04-20 API (it tells only whether a client is online)"
        )
        return "\n".join(lines) + "\n"
    lines.append(f"  socket         {data.socket or '-'}")
    if not data.subscriptions:
        lines.append("  subscriptions  none")
        return "\n".join(lines) + "\n"
    lines.append(f"  subscriptions  {len(data.subscriptions)}")
    table = _table(
        ("parent topic", "sub-topic", "QoS"),
        [(s.parent_topic, s.sub_topic or "-", str(s.qos)) for s in data.subscriptions],
        color=color,
        width=width,
        right=(2,),
    )
    return "\n".join(lines) + "\n" + table


def clients_text(data: ClientsReport, *, color: bool, width: int) -> str:
    """A table of the clients (sorted by id), then ``N online, M offline``."""
    rows = [(row.client_id, "online" if row.online else "offline") for row in data.rows]
    table = _table(("client id", "online"), rows, color=color, width=width)
    return table + f"{data.online} online, {data.offline} offline{_where(data.instance_id)}\n"


def instance_text(data: InstanceReport, *, color: bool, width: int) -> str:
    rows = [
        (
            row.group_id,
            "-" if row.online is None else str(row.online),
            "managed" if row.managed else "",
        )
        for row in data.rows
    ]
    table = _table(("GID", "online", "state"), rows, color=color, width=width, right=(1,))
    managed = sum(row.managed for row in data.rows)
    footer = (
        f"{len(data.rows)} GIDs in {data.instance_id} ({data.region}), "
        f"{_clients(data.total_online)} online; {managed} managed by the state"
    )
    if data.looked_up < len(data.rows):
        footer += f"; {len(data.rows) - data.looked_up} not looked up (--limit {data.looked_up})"
    return table + footer + "\n"


def access_text(data: AccessReport, *, color: bool, width: int) -> str:
    """The identities, permissions and blacklist as three tables, each under its count."""
    parts = [
        _section(
            "identities",
            ("type", "username", "client id", "sign mode"),
            [
                (i.identity_type, i.username, i.client_id or "-", i.sign_mode or "-")
                for i in data.identities
            ],
            color=color,
            width=width,
        ),
        _section(
            "permissions",
            ("identity type", "identity", "topic", "effect", "action"),
            [
                (p.identity_type, p.identity, p.topic, p.effect, p.permit_action)
                for p in data.permissions
            ],
            color=color,
            width=width,
        ),
        _section(
            "connect blacklist",
            ("client id",),
            [(entry.client_id,) for entry in data.blacklist],
            color=color,
            width=width,
        ),
    ]
    footer = (
        f"custom authentication of {data.instance_id} ({data.region}); secrets are never shown\n"
    )
    return "\n".join(parts) + "\n" + footer


def _section(
    title: str,
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    color: bool,
    width: int,
) -> str:
    if not rows:
        return f"{title}: none\n"
    return f"{title} ({len(rows)})\n" + _table(headers, rows, color=color, width=width)


def _table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    color: bool,
    width: int,
    right: Sequence[int] = (),
) -> str:
    from rich import box  # noqa: PLC0415
    from rich.console import Console  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for index, header in enumerate(headers):
        table.add_column(header, justify="right" if index in right else "left")
    for row in rows:
        table.add_row(*row)
    buffer = io.StringIO()
    console = Console(
        file=buffer,
        width=width,
        force_terminal=color,
        no_color=not color,
        color_system="standard" if color else None,
        highlight=False,
    )
    console.print(table)
    return buffer.getvalue()


# --- series -----------------------------------------------------------------------------


def series_summary(series: Series) -> str:
    """``min 0 at 12-01 08:00 · max 40 at ... · last 3 at ...  clients``, or no data."""
    points = series.points
    if not points:
        return (
            f"no data from {local_time(series.begin_ms, '%Y-%m-%d %H:%M')} "
            f"to {local_time(series.end_ms, '%Y-%m-%d %H:%M')}\n"
        )
    low = min(points, key=lambda p: p.value)
    high = max(points, key=lambda p: p.value)
    last = points[-1]
    fmt = _tick_format(series.begin_ms, series.end_ms)

    def part(name: str, point: Point) -> str:
        return f"{name} {_number(point.value)} at {local_time(point.at_ms, fmt)}"

    parts = [part("min", low), part("max", high), part("last", last)]
    return " · ".join(parts) + f"  ({series.unit}, local time)\n"


def series_numbers(series: Series) -> str:
    """A ``# title (unit, time zone)`` line, one ``local time  value`` line per point, then
    the summary."""
    lines = [f"# {series.title}{_where(series.instance_id)} ({series.unit}, {local_zone()})"]
    lines += [
        f"{local_time(p.at_ms, '%Y-%m-%d %H:%M:%S')}  {_number(p.value)}" for p in series.points
    ]
    return "\n".join(lines) + "\n" + series_summary(series)


def series_chart(series: Series, *, width: int, height: int, color: bool) -> str:
    """A line chart ``width`` columns wide with a local-time axis, then the summary."""
    if not series.points:
        return series_summary(series)
    import plotext as plt  # noqa: PLC0415

    # Two braille dots per column: more points than that only smear into a solid block.
    shown = _downsample(series.points, series.begin_ms, series.end_ms, 2 * width)
    xs = [p.at_ms / 1000 for p in shown]
    ys = [p.value for p in shown]
    plt.clf()
    plt.plotsize(width, height)
    plt.theme("pro" if color else "clear")
    plt.plot(xs, ys, marker="braille", color=CHART_COLOR)
    begin, end = series.begin_ms / 1000, series.end_ms / 1000
    plt.xlim(begin, end)
    ticks = _ticks(begin, end, max(2, width // COLUMNS_PER_TICK))
    fmt = _tick_format(series.begin_ms, series.end_ms)
    if fmt != "%H:%M" and all(local_time(int(t * 1000), "%H:%M") == "00:00" for t in ticks):
        fmt = "%m-%d"  # ticks on midnights: the date says it all
    plt.xticks(ticks, [local_time(int(t * 1000), fmt) for t in ticks])
    plt.xlabel(f"local time ({local_zone()})")
    plt.ylabel(series.unit)
    plt.title(f"{series.title}{_where(series.instance_id)}")
    chart = plt.build()
    plt.clf()
    if not color:
        chart = plt.uncolorize(chart)
    lines = [line.rstrip() for line in chart.splitlines()]
    return "\n".join(lines) + "\n" + series_summary(series)


def _downsample(points: Sequence[Point], begin_ms: int, end_ms: int, slots: int) -> list[Point]:
    """At most ``slots`` points: the mean of the points falling in each equal slice of time
    (the summary line keeps the exact minimum and maximum)."""
    if len(points) <= slots or end_ms <= begin_ms:
        return list(points)
    size = (end_ms - begin_ms + 1) / slots
    groups: dict[int, list[Point]] = {}
    for point in points:
        groups.setdefault(int((point.at_ms - begin_ms) / size), []).append(point)
    return [
        Point(group[len(group) // 2].at_ms, sum(p.value for p in group) / len(group))
        for _, group in sorted(groups.items())
    ]


# Tick spacings, in seconds, that read as round local times.
_TICK_STEPS = (60, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800)


def _ticks(begin: float, end: float, count: int) -> list[float]:
    """At most ``count`` ticks on round local times (every 15 minutes, 6 hours, midnight...),
    or evenly spaced when the range is too short for two round ones."""
    if end <= begin:
        return [begin]
    offset = datetime.fromtimestamp(begin).astimezone().utcoffset()
    shift = offset.total_seconds() if offset is not None else 0.0
    for step in _TICK_STEPS:
        if (end - begin) / step + 1 <= count:
            first = -(-(begin + shift) // step) * step - shift
            ticks = [first + i * step for i in range(int((end - first) // step) + 1)]
            if len(ticks) >= 2:
                return ticks
            break
    even = (end - begin) / (count - 1)
    return [begin + i * even for i in range(count)]


def _tick_format(begin_ms: int, end_ms: int) -> str:
    return "%H:%M" if end_ms - begin_ms <= 86_400_000 else "%m-%d %H:%M"


# --- data for scripts ---------------------------------------------------------------------


def to_data(report: Report) -> dict[str, Any]:
    """The documented JSON shape of ``report`` (see the module docstring)."""
    if isinstance(report, GroupOnline | TopicOnline):
        return asdict(report)  # their fields are the documented keys
    if isinstance(report, ClientReport):
        touch = report.last_touch_ms
        subscriptions = report.subscriptions
        return {
            "client_id": report.client_id,
            "instance_id": report.instance_id,
            "api": report.api,
            "online": report.online,
            "last_touch": None if touch is None else iso_utc(touch),
            "last_touch_ms": touch,
            "socket": report.socket,
            "subscriptions": None
            if subscriptions is None
            else [
                {"parent_topic": s.parent_topic, "sub_topic": s.sub_topic, "qos": s.qos}
                for s in subscriptions
            ],
        }
    if isinstance(report, ClientsReport):
        return {
            "instance_id": report.instance_id,
            "api": report.api,
            "calls": report.calls,
            "online": report.online,
            "offline": report.offline,
            "clients": [{"client_id": row.client_id, "online": row.online} for row in report.rows],
        }
    if isinstance(report, Series):
        points = report.points
        summary = None
        if points:
            summary = {
                "min": _plain(min(p.value for p in points)),
                "max": _plain(max(p.value for p in points)),
                "last": _plain(points[-1].value),
            }
        return {
            "kind": report.kind,
            "subject": report.subject,
            "instance_id": report.instance_id,
            "from": iso_utc(report.begin_ms),
            "to": iso_utc(report.end_ms),
            "title": report.title,
            "unit": report.unit,
            "filters": dict(report.filters),
            "calls": report.calls,
            "points": [
                {"time": iso_utc(p.at_ms), "epoch_ms": p.at_ms, "value": _plain(p.value)}
                for p in points
            ],
            "summary": summary,
        }
    if isinstance(report, AccessReport):
        return {
            "instance_id": report.instance_id,
            "region": report.region,
            "identities": [i.model_dump() for i in report.identities],
            "permissions": [p.model_dump() for p in report.permissions],
            "blacklist": [entry.model_dump() for entry in report.blacklist],
        }
    return {
        "instance_id": report.instance_id,
        "region": report.region,
        "looked_up": report.looked_up,
        "total_online": report.total_online,
        "groups": [
            {"group_id": row.group_id, "online": row.online, "managed": row.managed}
            for row in report.rows
        ],
    }


def to_json(report: Report) -> str:
    return json.dumps(to_data(report), indent=2, ensure_ascii=False) + "\n"


def to_csv(report: Report) -> str:
    """A header row, then the data; times ISO 8601 in UTC."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if isinstance(report, GroupOnline | TopicOnline):
        data = asdict(report)
        writer.writerow(data)
        writer.writerow("" if value is None else value for value in data.values())
    elif isinstance(report, ClientReport):
        writer.writerow(
            ("client_id", "online", "last_touch", "socket", "parent_topic", "sub_topic", "qos")
        )
        touch = "" if report.last_touch_ms is None else iso_utc(report.last_touch_ms)
        head = (report.client_id, str(report.online).lower(), touch, report.socket or "")
        for sub in report.subscriptions or (None,):
            tail = ("", "", "") if sub is None else (sub.parent_topic, sub.sub_topic, sub.qos)
            writer.writerow((*head, *tail))
    elif isinstance(report, ClientsReport):
        writer.writerow(("client_id", "online"))
        for status in report.rows:
            writer.writerow((status.client_id, str(status.online).lower()))
    elif isinstance(report, AccessReport):
        writer.writerows(_access_rows(report))
    elif isinstance(report, Series):
        writer.writerow(("time", "epoch_ms", "value"))
        for point in report.points:
            writer.writerow((iso_utc(point.at_ms), point.at_ms, _number(point.value)))
    else:
        writer.writerow(("group_id", "online", "managed"))
        for row in report.rows:
            online = "" if row.online is None else row.online
            writer.writerow((row.group_id, online, str(row.managed).lower()))
    return buffer.getvalue()


def _access_rows(report: AccessReport) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = [ACCESS_CSV_COLUMNS]
    for i in report.identities:
        rows.append(
            (
                "identity",
                i.identity_type,
                i.username,
                i.client_id or "",
                i.sign_mode or "",
                "",
                "",
                "",
            )
        )
    for p in report.permissions:
        rows.append(
            ("permission", p.identity_type, p.identity, "", "", p.topic, p.effect, p.permit_action)
        )
    for entry in report.blacklist:
        rows.append(("blacklist", "", "", entry.client_id, "", "", "", ""))
    return rows


def _plain(value: float) -> int | float:
    return int(value) if value == int(value) else value
