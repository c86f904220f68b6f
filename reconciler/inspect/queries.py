"""The inspect questions, asked through ``OnsClient`` and answered as plain data.

Each function takes the client (its per-action token buckets pace the calls, its retry loop
rides out throttling and 5xx) and returns frozen data for a renderer. A "does not exist"
answer becomes an ``InspectError`` naming what was asked about; other errors pass unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Literal

from reconciler.cloud.client import (
    QUERY_CLIENT_BY_CLIENT_ID,
    QUERY_CLIENT_BY_GROUP_ID,
    QUERY_HISTORY_ONLINE,
    QUERY_MSG_TRANS_TREND,
    OnsClient,
)
from reconciler.cloud.error_codes import NO_CLIENT_ONLINE_CODE
from reconciler.cloud.onsmqtt import BATCH_QUERY_MAX_IDS, BATCH_QUERY_SESSIONS, OnsMqttClient
from reconciler.errors import (
    CloudApiError,
    FeatureNotSupportedError,
    InspectError,
    NotFoundError,
    ParameterError,
)
from reconciler.inspect.pacing import CallPlan
from reconciler.inspect.windows import Point, day_windows, stitch
from reconciler.models import Api, group_of_client_id
from reconciler.ratelimit import AccountRateLimits

if TYPE_CHECKING:
    from reconciler.cloud.access_responses import AuthIdentity, AuthPermission, BlacklistEntry
    from reconciler.cloud.query_responses import StatsData

# (calls done, calls planned): called after each call of a command that makes several.
OnProgress = Callable[[int, int], None]
SeriesKind = Literal["history", "trend"]

_WHAT_IS_MISSING = {
    "BIZ_INSTANCE_NOT_FOUND": "instance",
    "BIZ_REGION_NOT_FOUND": "region",
    "BIZ_TOPIC_NOT_FOUND": "topic",
    "BIZ_SUBSCRIPTION_NOT_FOUND": "GID",
    "BIZ_PUBLISH_INFO_NOT_FOUND": "GID",
    "InstanceNotFound": "instance",
}


@dataclass(frozen=True)
class Target:
    """Where a question is asked: the region's endpoint, and the instance when named (a
    shared-namespace instance may be left out: the service then searches all of them)."""

    region: str
    instance_id: str | None

    def where(self) -> str:
        if self.instance_id is not None:
            return f"instance {self.instance_id}"
        return f"the shared-namespace instances of {self.region}"


@dataclass(frozen=True)
class GroupOnline:
    group_id: str
    instance_id: str | None
    online: int


@dataclass(frozen=True)
class TopicOnline:
    parent_topic: str
    sub_topic: str
    instance_id: str | None
    online: int


@dataclass(frozen=True)
class ClientSubscription:
    parent_topic: str
    sub_topic: str
    qos: int


@dataclass(frozen=True)
class ClientReport:
    """What the service tells of one client. Through onsmqtt only ``online`` is known:
    ``subscriptions`` is then None (not available), never an empty tuple (none)."""

    client_id: str
    instance_id: str | None
    online: bool
    last_touch_ms: int | None
    socket: str | None
    subscriptions: tuple[ClientSubscription, ...] | None
    api: Api = "ons"


@dataclass(frozen=True)
class ClientStatus:
    client_id: str
    online: bool


@dataclass(frozen=True)
class ClientsReport:
    """Many clients, online or not, sorted by client id."""

    instance_id: str | None
    api: Api
    rows: tuple[ClientStatus, ...]
    calls: int

    @property
    def online(self) -> int:
        return sum(row.online for row in self.rows)

    @property
    def offline(self) -> int:
        return len(self.rows) - self.online


@dataclass(frozen=True)
class Series:
    """A stitched time series with what was asked (``filters``) and what it cost."""

    kind: SeriesKind
    subject: str  # the GID (history) or the parent topic (trend)
    instance_id: str | None
    begin_ms: int
    end_ms: int
    title: str
    unit: str
    points: tuple[Point, ...]
    calls: int
    filters: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class GroupRow:
    group_id: str
    online: int | None  # None: not looked up (beyond --limit)
    managed: bool


@dataclass(frozen=True)
class InstanceReport:
    instance_id: str
    region: str
    rows: tuple[GroupRow, ...]
    looked_up: int

    @property
    def total_online(self) -> int:
        return sum(row.online or 0 for row in self.rows)


@dataclass(frozen=True)
class TrendQuery:
    parent_topic: str
    direction: Literal["PUB", "SUB"]
    summed: bool = False
    sub_topic: str | None = None
    msg_type: Literal["P2P", "SUB"] | None = None
    qos: int | None = None

    def filters(self) -> dict[str, str]:
        found = {"direction": self.direction.lower(), "measure": "sum" if self.summed else "tps"}
        if self.sub_topic is not None:
            found["subtopic"] = self.sub_topic
        if self.msg_type is not None:
            found["type"] = self.msg_type.lower()
        if self.qos is not None:
            found["qos"] = str(self.qos)
        return found


# --- call plans: what a question costs, known before it is asked ---------------------------


def series_plan(
    kind: SeriesKind, begin_ms: int, end_ms: int, limits: AccountRateLimits
) -> CallPlan:
    """``limits``: the asking client's (``client.rate_limits``)."""
    action = QUERY_HISTORY_ONLINE if kind == "history" else QUERY_MSG_TRANS_TREND
    calls = len(day_windows(begin_ms, end_ms))
    return CallPlan(action, calls, limits.rate(action))


def instance_plan(gid_count: int, limits: AccountRateLimits) -> CallPlan:
    return CallPlan(QUERY_CLIENT_BY_GROUP_ID, gid_count, limits.rate(QUERY_CLIENT_BY_GROUP_ID))


def clients_plan(api: Api, client_count: int, limits: AccountRateLimits) -> CallPlan:
    """onsmqtt asks ten ids a call; ons one id a call, at 30 a minute."""
    if api == "onsmqtt":
        calls = -(-client_count // BATCH_QUERY_MAX_IDS)
        return CallPlan(BATCH_QUERY_SESSIONS, calls, limits.rate(BATCH_QUERY_SESSIONS))
    return CallPlan(QUERY_CLIENT_BY_CLIENT_ID, client_count, limits.rate(QUERY_CLIENT_BY_CLIENT_ID))


# --- the questions ------------------------------------------------------------------------


def group_online(client: OnsClient, target: Target, group_id: str) -> GroupOnline:
    with _named(target, group_id=group_id):
        count = client.query_client_by_group_id(group_id, instance_id=target.instance_id)
    return GroupOnline(group_id, target.instance_id, count)


def topic_online(
    client: OnsClient, target: Target, parent_topic: str, sub_topic: str = ""
) -> TopicOnline:
    with _named(target, topic=parent_topic):
        count = client.query_client_by_topic(
            parent_topic, sub_topic, instance_id=target.instance_id
        )
    return TopicOnline(parent_topic, sub_topic, target.instance_id, count)


def client_report(client: OnsClient, target: Target, client_id: str) -> ClientReport:
    try:
        with _named(target, client_id=client_id):
            info = client.query_client_by_client_id(client_id, instance_id=target.instance_id)
    except CloudApiError as err:
        if err.code != NO_CLIENT_ONLINE_CODE:
            raise
        # For this action the code means the service has no record of the client at all.
        raise InspectError(
            f"client {client_id} is unknown to {target.where()}: it has never been online",
            code=err.code,
            request_id=err.request_id,
        ) from err
    return ClientReport(
        client_id=info.client_id,
        instance_id=target.instance_id,
        online=info.online,
        last_touch_ms=info.last_touch,
        socket=info.socket_channel,
        subscriptions=tuple(
            ClientSubscription(s.parent_topic, s.sub_topic, s.qos) for s in info.subscriptions.items
        ),
    )


def session_report(client: OnsMqttClient, target: Target, client_id: str) -> ClientReport:
    """Online or not, through QuerySessionByClientId: all this API tells of a client (a
    client it has never seen is simply offline)."""
    instance_id = _required_instance(target)
    with _named(target, client_id=client_id):
        online = client.query_session(client_id, instance_id=instance_id)
    return ClientReport(client_id, instance_id, online, None, None, None, api="onsmqtt")


def sessions_online(
    client: OnsMqttClient,
    target: Target,
    client_ids: Sequence[str],
    *,
    on_progress: OnProgress | None = None,
) -> ClientsReport:
    """Each client online or not, ten to a BatchQuerySessionByClientIds call."""
    instance_id = _required_instance(target)
    unique = list(dict.fromkeys(client_ids))
    batches = [
        unique[start : start + BATCH_QUERY_MAX_IDS]
        for start in range(0, len(unique), BATCH_QUERY_MAX_IDS)
    ]
    found: dict[str, bool] = {}
    with _named(target):
        for done, batch in enumerate(batches, 1):
            found.update(client.batch_query_sessions(batch, instance_id=instance_id))
            if on_progress is not None:
                on_progress(done, len(batches))
    return _clients_report(target, "onsmqtt", found, calls=len(batches))


def clients_online(
    client: OnsClient,
    target: Target,
    client_ids: Sequence[str],
    *,
    on_progress: OnProgress | None = None,
) -> ClientsReport:
    """Each client online or not, one OnsMqttQueryClientByClientId call each (the ONS API
    has no batch look-up); a client the service has never seen is offline, as onsmqtt says."""
    unique = list(dict.fromkeys(client_ids))
    found: dict[str, bool] = {}
    for done, client_id in enumerate(unique, 1):
        try:
            with _named(target, client_id=client_id):
                info = client.query_client_by_client_id(client_id, instance_id=target.instance_id)
            found[client_id] = info.online
        except CloudApiError as err:
            if err.code != NO_CLIENT_ONLINE_CODE:
                raise
            found[client_id] = False
        if on_progress is not None:
            on_progress(done, len(unique))
    return _clients_report(target, "ons", found, calls=len(unique))


def _clients_report(
    target: Target, api: Api, found: Mapping[str, bool], *, calls: int
) -> ClientsReport:
    rows = tuple(ClientStatus(cid, online) for cid, online in sorted(found.items()))
    return ClientsReport(target.instance_id, api, rows, calls)


def _required_instance(target: Target) -> str:
    """The target's instance id, for the questions the service answers only about one
    instance (the commands ask the user for it first)."""
    if target.instance_id is None:
        raise ValueError("this question needs an instance id")
    return target.instance_id


def history(
    client: OnsClient,
    target: Target,
    group_id: str,
    begin_ms: int,
    end_ms: int,
    *,
    on_progress: OnProgress | None = None,
) -> Series:
    """Online clients of the GID over the range, one call per day window."""
    with _named(target, group_id=group_id):
        return _day_series(
            lambda start, stop: client.query_history_online(
                group_id, start, stop, instance_id=target.instance_id
            ),
            Series(
                kind="history",
                subject=group_id,
                instance_id=target.instance_id,
                begin_ms=begin_ms,
                end_ms=end_ms,
                title=f"{group_id} online clients",
                unit="clients",
                points=(),
                calls=0,
            ),
            on_progress,
        )


def trend(
    client: OnsClient,
    target: Target,
    query: TrendQuery,
    begin_ms: int,
    end_ms: int,
    *,
    on_progress: OnProgress | None = None,
) -> Series:
    """Message rates or totals of the topic over the range, one call per day window."""
    instance_id = _required_instance(target)
    measure: Literal["TPS", "SUM"] = "SUM" if query.summed else "TPS"
    with _named(target, topic=query.parent_topic):
        return _day_series(
            lambda start, stop: client.query_msg_trans_trend(
                query.parent_topic,
                start,
                stop,
                instance_id=instance_id,
                trans_type=query.direction,
                tps_type=measure,
                sub_topic=query.sub_topic,
                msg_type=query.msg_type,
                qos=query.qos,
            ),
            Series(
                kind="trend",
                subject=query.parent_topic,
                instance_id=target.instance_id,
                begin_ms=begin_ms,
                end_ms=end_ms,
                title=f"{query.parent_topic} {query.direction} {measure}",
                unit="msg" if query.summed else "msg/s",
                points=(),
                calls=0,
                filters=query.filters(),
            ),
            on_progress,
        )


def _day_series(
    fetch: Callable[[int, int], StatsData], asked: Series, on_progress: OnProgress | None
) -> Series:
    """``asked`` (its title and unit the defaults) filled with the points of one ``fetch`` per
    day window of its range, stitched; the service's own title and unit win when it gives
    them."""
    windows = day_windows(asked.begin_ms, asked.end_ms)
    chunks: list[list[Point]] = []
    title, unit = asked.title, asked.unit
    for done, (start, stop) in enumerate(windows, 1):
        data = fetch(start, stop)
        chunks.append([Point(p.x, float(p.y)) for p in data.points])
        title, unit = data.title or title, data.y_unit or unit
        if on_progress is not None:
            on_progress(done, len(windows))
    points = tuple(stitch(chunks, asked.begin_ms, asked.end_ms))
    return replace(asked, title=title, unit=unit, points=points, calls=len(windows))


def instance_groups(client: OnsClient, target: Target) -> list[str]:
    """The instance's GIDs in name order (the listing is not rate-limited)."""
    instance_id = _required_instance(target)
    with _named(target):
        records = client.list_group_ids(instance_id)
    return sorted({r.group_id for r in records if r.belongs_to(instance_id)})


def instance_report(
    client: OnsClient,
    target: Target,
    group_ids: Sequence[str],
    *,
    managed: frozenset[str],
    limit: int | None = None,
    on_progress: OnProgress | None = None,
) -> InstanceReport:
    """Every GID with its online count, most clients first; beyond ``limit`` (in name
    order) GIDs are listed without a count, saving their calls."""
    instance_id = _required_instance(target)
    chosen = list(group_ids if limit is None else group_ids[:limit])
    counts: dict[str, int] = {}
    for done, group_id in enumerate(chosen, 1):
        counts[group_id] = group_online(client, target, group_id).online
        if on_progress is not None:
            on_progress(done, len(chosen))
    rows = [GroupRow(gid, counts.get(gid), gid in managed) for gid in group_ids]
    rows.sort(key=lambda row: (row.online is None, -(row.online or 0), row.group_id))
    return InstanceReport(instance_id, target.region, tuple(rows), len(chosen))


@dataclass(frozen=True)
class AccessReport:
    """An instance's custom authentication: identities (never a secret), topic permissions
    and the connect blacklist, each sorted by its key."""

    instance_id: str
    region: str
    identities: tuple[AuthIdentity, ...]
    permissions: tuple[AuthPermission, ...]
    blacklist: tuple[BlacklistEntry, ...]


def access_report(client: OnsMqttClient, target: Target) -> AccessReport:
    """The three listings, each followed to its last page; an edition without custom
    authentication is one ``InspectError`` saying so."""
    instance_id = _required_instance(target)
    try:
        with _named(target):
            identities = client.list_auth_identities(instance_id)
            permissions = client.list_auth_permissions(instance_id)
            blacklist = client.list_connect_blacklist(instance_id)
    except FeatureNotSupportedError as err:
        raise InspectError(
            f"instance {instance_id} has no custom authentication: its edition lacks it"
            " (only the Professional and Platinum editions have it)",
            code=err.code,
            request_id=err.request_id,
        ) from err
    return AccessReport(
        instance_id,
        target.region,
        tuple(sorted(identities, key=lambda i: (i.identity_type, i.username, i.client_id or ""))),
        tuple(sorted(permissions, key=lambda p: (p.identity_type, p.identity, p.topic))),
        tuple(sorted(blacklist, key=lambda entry: entry.client_id)),
    )


@contextmanager
def _named(
    target: Target,
    *,
    group_id: str | None = None,
    topic: str | None = None,
    client_id: str | None = None,
) -> Iterator[None]:
    """Turn the service's "does not exist" codes into one line naming the thing asked about,
    and a missing InstanceId into the option that supplies it."""
    try:
        yield
    except NotFoundError as err:
        missing = _WHAT_IS_MISSING.get(err.code)
        if missing == "instance" and target.instance_id is not None:
            text = f"instance {target.instance_id} not found in region {target.region}"
        elif missing == "region":
            text = f"region {target.region} not found"
        elif missing == "topic" and topic is not None:
            text = f"topic {topic} not found in {target.where()}"
        elif missing == "GID" and group_id is not None:
            text = f"GID {group_id} not found in {target.where()}"
        elif missing == "GID" and client_id is not None:
            group = group_of_client_id(client_id)
            text = f"GID {group} of client {client_id} not found in {target.where()}"
        else:
            raise
        raise InspectError(text, code=err.code, request_id=err.request_id) from err
    except ParameterError as err:
        if target.instance_id is None and "InstanceId" in f"{err.code} {err.api_message}":
            raise InspectError(
                f"{target.where()} do not hold it, and an instance with its own namespace "
                "must be named: pass --instance ID",
                code=err.code,
                request_id=err.request_id,
            ) from err
        raise
