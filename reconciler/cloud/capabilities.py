"""What the planner and the applier ask of an API client: capabilities, not its class.

Every client (``OnsClient``, ``OnsMqttClient``) offers the methods of ``GroupCapabilities``, so
plan/ and apply/ take any of them and never ask which one they hold:

- ``list_group_ids``: an instance's GIDs (with None, those of the region's shared namespace);
- ``create_call`` / ``delete_call``: the call as it goes on the wire, for ``--dry-run``; the
  client sends exactly that call (``create_group_id`` / ``delete_group_id`` are built on them);
- ``create_group`` / ``delete_group``: the call, confirmed: a create of a GID that exists, or a
  delete of one that is gone, counts as done once the client has made sure ("already existed",
  "already gone"); any other failure raises its ``CloudError``;
- ``online_clients``: a GID's online clients, or that they cannot be counted here and why.

What a plan says of an API before any call (how it finds online clients, how slowly) is known
without a client: ``online_check(api)``. May import: errors, ratelimit, models.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from reconciler.cloud.responses import GroupIdRecord
from reconciler.errors import AlreadyExistsError
from reconciler.models import Api
from reconciler.ratelimit import Rate

# The service documents 30 calls a minute for each ONS 2019-02-14 query action.
ONS_QUERY_RATE = Rate(30, 60.0)
_PERIOD_WORDS = {60.0: "a minute", 1.0: "a second"}

# How a confirmed call ended; the applier reports these words.
CallDetail = Literal["created", "already existed", "deleted", "already gone"]


@dataclass(frozen=True)
class WireCall:
    """One call as it goes on the wire: the action and its own parameters (the common ones,
    signature and nonce among them, are added when it is sent; nothing secret is here)."""

    action: str
    params: Mapping[str, str]


@dataclass(frozen=True)
class Confirmed:
    """A create or delete that is done, and how (``detail``)."""

    detail: CallDetail
    request_id: str | None


@dataclass(frozen=True)
class OnlineClients:
    """A GID's online clients: ``count`` (None: cannot be counted here, ``reason`` says why)
    and ``ids`` where the API names them."""

    count: int | None
    ids: tuple[str, ...] = ()
    reason: str | None = None


@dataclass(frozen=True)
class OnlineCheck:
    """How an API finds a GID's online clients, known before any call.

    ``counts_groups``: the API counts a GID's clients; else only the GID's known client ids
    (``clients:``) can be asked about. ``rate``: how the look-ups are paced, if they are.
    """

    api: Api
    counts_groups: bool
    rate: Rate | None = None

    def asks(self, clients: Sequence[str]) -> bool:
        """Whether a look-up has anything to ask about a GID with these known client ids."""
        return self.counts_groups or bool(clients)

    def note(self, clients: Sequence[str]) -> str | None:
        """What a plan says on a delete about its online check, when it is not a full count."""
        if self.counts_groups:
            return None
        if clients:
            return (
                f"online check limited on {self.api}: the API cannot count a GID's clients; "
                f"only its {len(clients)} known client id(s) are asked about"
            )
        return (
            f"online check not available on {self.api}: the API cannot count a GID's clients; "
            "list its known client ids under clients: to have them checked"
        )

    def pacing(self) -> str | None:
        """``30 look-ups a minute``, or None when the look-ups are not paced."""
        if self.rate is None:
            return None
        per = _PERIOD_WORDS.get(self.rate.period, f"per {self.rate.period:g} s")
        return f"{self.rate.calls:g} look-ups {per}"


ONLINE_CHECKS: Mapping[Api, OnlineCheck] = {
    "ons": OnlineCheck(api="ons", counts_groups=True, rate=ONS_QUERY_RATE),
    "onsmqtt": OnlineCheck(api="onsmqtt", counts_groups=False),
}


def online_check(api: Api) -> OnlineCheck:
    return ONLINE_CHECKS[api]


class GroupCapabilities(Protocol):
    """What a plan and an apply use of a client (see the module's docstring)."""

    def list_group_ids(self, instance_id: str | None = None) -> list[GroupIdRecord]: ...

    def create_call(self, group_id: str, *, instance_id: str, topic: str | None) -> WireCall: ...

    def delete_call(self, group_id: str, *, instance_id: str) -> WireCall: ...

    def create_group(self, group_id: str, *, instance_id: str, topic: str | None) -> Confirmed: ...

    def delete_group(self, group_id: str, *, instance_id: str) -> Confirmed: ...

    def online_clients(
        self, group_id: str, *, instance_id: str, known_ids: Sequence[str]
    ) -> OnlineClients: ...


def listed(client: GroupCapabilities, group_id: str, instance_id: str) -> bool:
    """Whether a fresh listing of the instance shows the GID (raises what the listing raises)."""
    return any(record.group_id == group_id for record in client.list_group_ids(instance_id))


def confirm_existing(
    client: GroupCapabilities, refused: AlreadyExistsError, group_id: str, instance_id: str
) -> Confirmed:
    """A create refused as "already exists" is done when a listing shows the GID (a retried
    create whose first attempt landed, or a race); else the refusal is raised."""
    if listed(client, group_id, instance_id):
        return Confirmed("already existed", refused.request_id)
    raise refused
