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
without a client: ``online_check(api)``.

apply/ reaches every kind the same way: ``capability_for(kind, client)`` gives the kind's
``ResourceCapability`` (create, update, delete, each confirmed, and the ``WireCall`` of each
for ``--dry-run``) over a client, from ``KIND_CAPABILITIES``, where each kind registers how;
GIDs: ``GroupResources`` over ``GroupCapabilities``. May import: errors, ratelimit, models.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from reconciler.cloud.responses import GroupIdRecord
from reconciler.errors import AlreadyExistsError
from reconciler.models import (
    ACCESS_KINDS,
    GID_KIND_NAME,
    KINDS,
    Api,
    InstanceInventory,
)
from reconciler.ratelimit import Rate

# The service documents 30 calls a minute for each ONS 2019-02-14 query action.
ONS_QUERY_RATE = Rate(30, 60.0)
_PERIOD_WORDS = {60.0: "a minute", 1.0: "a second"}

# How a confirmed call ended; the applier reports these words.
CallDetail = Literal["created", "already existed", "updated", "deleted", "already gone"]


@dataclass(frozen=True)
class WireCall:
    """One call as it goes on the wire: the action and its own parameters (the common ones,
    signature and nonce among them, are added when it is sent; nothing secret is here)."""

    action: str
    params: Mapping[str, str]


@dataclass(frozen=True)
class Confirmed:
    """A create, update or delete that is done, and how (``detail``)."""

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

    def create_call(
        self, group_id: str, *, instance_id: str, topic: str | None, tags: str | None = None
    ) -> WireCall: ...

    def delete_call(self, group_id: str, *, instance_id: str) -> WireCall: ...

    def create_group(
        self, group_id: str, *, instance_id: str, topic: str | None, tags: str | None = None
    ) -> Confirmed: ...

    def delete_group(self, group_id: str, *, instance_id: str) -> Confirmed: ...

    def online_clients(
        self, group_id: str, *, instance_id: str, known_ids: Sequence[str]
    ) -> OnlineClients: ...


class _ListsGroups(Protocol):
    def list_group_ids(self, instance_id: str | None = None) -> list[GroupIdRecord]: ...


def listed(client: _ListsGroups, group_id: str, instance_id: str) -> bool:
    """Whether a fresh listing of the instance shows the GID (raises what the listing raises)."""
    return any(record.group_id == group_id for record in client.list_group_ids(instance_id))


class _CreatesGroups(_ListsGroups, Protocol):
    """What ``create_confirmed`` needs of a client: its raw create and its listing."""

    def create_group_id(
        self, group_id: str, *, instance_id: str, topic: str | None, tags: str | None = None
    ) -> str: ...


def create_confirmed(
    client: _CreatesGroups,
    group_id: str,
    *,
    instance_id: str,
    topic: str | None,
    tags: str | None = None,
) -> Confirmed:
    """Create the GID through ``client``; a create refused as "already exists" is done when a
    listing shows the GID (a retried create whose first attempt landed, or a race), else the
    refusal is raised."""
    try:
        request_id = client.create_group_id(
            group_id, instance_id=instance_id, topic=topic, tags=tags
        )
    except AlreadyExistsError as refused:
        if listed(client, group_id, instance_id):
            return Confirmed("already existed", refused.request_id)
        raise
    return Confirmed("created", request_id)


# --- every kind: what apply calls ------------------------------------------------------------


@dataclass(frozen=True)
class ResourceTarget:
    """What a call needs of one resource: its instance, its key's text, the values of its
    kind's immutable and mutable attributes (None: not set) and its write-only values (for a
    ``--dry-run`` description, a placeholder in place of each: never the value)."""

    instance_id: str
    key: str
    attributes: Mapping[str, str | None] = field(default_factory=dict)
    write_only: Mapping[str, str] = field(default_factory=dict, repr=False)


class ResourceCapability(Protocol):
    """What apply asks of a client for one kind: each call as it goes on the wire, and the
    call made and confirmed (a create of one that exists, or a delete of one that is gone,
    is done once the client made sure; any other failure raises its ``CloudError``)."""

    def create_call(self, target: ResourceTarget) -> WireCall: ...

    def update_call(self, target: ResourceTarget) -> WireCall: ...

    def delete_call(self, target: ResourceTarget) -> WireCall: ...

    def create(self, target: ResourceTarget) -> Confirmed: ...

    def update(self, target: ResourceTarget) -> Confirmed: ...

    def delete(self, target: ResourceTarget) -> Confirmed: ...


class GroupResources:
    """GIDs as a ``ResourceCapability``: the client's own GID calls. A GID has no mutable
    attribute, so no plan holds an update call for one."""

    def __init__(self, client: GroupCapabilities) -> None:
        self._client = client

    def create_call(self, target: ResourceTarget) -> WireCall:
        return self._client.create_call(
            target.key,
            instance_id=target.instance_id,
            topic=target.attributes.get("topic"),
            tags=target.attributes.get("tags"),
        )

    def update_call(self, target: ResourceTarget) -> WireCall:
        raise _no_update(target)

    def delete_call(self, target: ResourceTarget) -> WireCall:
        return self._client.delete_call(target.key, instance_id=target.instance_id)

    def create(self, target: ResourceTarget) -> Confirmed:
        return self._client.create_group(
            target.key,
            instance_id=target.instance_id,
            topic=target.attributes.get("topic"),
            tags=target.attributes.get("tags"),
        )

    def update(self, target: ResourceTarget) -> Confirmed:
        raise _no_update(target)

    def delete(self, target: ResourceTarget) -> Confirmed:
        return self._client.delete_group(target.key, instance_id=target.instance_id)


def _no_update(target: ResourceTarget) -> TypeError:
    return TypeError(f"a GID has no attribute an update call changes ({target.key})")


# How each kind's capability is had from a client, by kind name (``models.KINDS``). A kind
# whose calls are not among ``GroupCapabilities`` adds them to the clients and to the
# protocol ``plan.builder.ClientFor`` returns.
def _access_capability(kind: str) -> Callable[[GroupCapabilities], ResourceCapability]:
    """An access kind's capability (``cloud.access``, imported when first asked: a plan of
    GIDs alone never loads it)."""

    def make(client: GroupCapabilities) -> ResourceCapability:
        from reconciler.cloud.access import ACCESS_CAPABILITIES  # noqa: PLC0415

        return ACCESS_CAPABILITIES[kind](client)

    return make


def _list_access(client: GroupCapabilities, inventory: InstanceInventory) -> InstanceInventory:
    # A client without custom auth (an ons instance's) lists none, without loading the module.
    if not callable(getattr(client, "list_auth_identities", None)):
        return inventory
    from reconciler.cloud.access import list_access  # noqa: PLC0415

    return list_access(client, inventory)


KIND_CAPABILITIES: dict[str, Callable[[GroupCapabilities], ResourceCapability]] = {
    GID_KIND_NAME: GroupResources,
    **{kind.name: _access_capability(kind.name) for kind in ACCESS_KINDS},
}


# How each kind other than GIDs (which the planner lists itself: a shared namespace lists
# other instances' GIDs too) adds its listing to an instance's inventory, by kind name:
# ``(client, inventory) -> the inventory with the kind's field filled``; a listing several
# kinds share is run once per instance.
# The three access kinds share one listing (it fills ``inventory.access``), run once.
KIND_LISTINGS: dict[str, Callable[[GroupCapabilities, InstanceInventory], InstanceInventory]] = {
    kind.name: _list_access for kind in ACCESS_KINDS
}


def capability_for(kind: str, client: GroupCapabilities) -> ResourceCapability:
    """The capability of ``kind`` (a name in ``models.KINDS``) over ``client``."""
    if kind not in KINDS or kind not in KIND_CAPABILITIES:
        raise TypeError(f"no client capability is registered for resource kind {kind!r}")
    return KIND_CAPABILITIES[kind](client)
