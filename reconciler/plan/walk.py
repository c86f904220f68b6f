"""The semantics table over one kind of one instance: its three views in, changes out.

One function for every kind (``models.KINDS``): what differs between kinds is what the kind
declares (its views, its key, its immutable, mutable, write-only and state-only attributes),
never code here. Rows, per resource of the kind (ARCHITECTURE.md, semantics table):

==============================  =========  =======  ==========================================
desired                         cloud      state    action
==============================  =========  =======  ==========================================
present                         missing    any      create ("deleted outside" when in state)
present                         exists     missing  adopt (update call: a setting to make)
present                         exists     present  no-op; update call when a mutable or
                                                    write-only attribute changed; update,
                                                    state only, when ``protect`` changed
absent: true                    exists     any      delete
not declared                    exists     present  delete
not declared                    exists     missing  unmanaged (managed) / delete (exclusive)
not declared / absent           missing    present  forget
==============================  =========  =======  ==========================================

A changed immutable attribute is a ``NotInPlace`` difference. An immutable or a mutable
attribute is compared with the value the listing reports, else with the state's; a write-only
one with the salted digest the state keeps (``models.write_only_matches``): the plan says it
changed, never a value.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr

from reconciler.models import (
    Api,
    DesiredInstance,
    InstanceInventory,
    ResourceKey,
    ResourceKind,
    StateResource,
    construct_trusted,
    named,
    named_values,
    write_only_matches,
)
from reconciler.plan.guards import online_check_notes
from reconciler.plan.model import (
    Action,
    AttributeChange,
    Change,
    Guard,
    GuardKind,
    NotInPlace,
    WriteOnlyValue,
)
from reconciler.plan.options import InstanceRef, PlanOptions

# A desired model of any kind (a GID's ``DesiredGroup``): ``absent`` and its attributes.
Declared = Any


@dataclass
class Walk:
    """Changes and guards gathered while walking the instances."""

    changes: list[Change] = field(default_factory=list)
    not_in_place: list[NotInPlace] = field(default_factory=list)
    unmanaged: list[ResourceKey] = field(default_factory=list)
    guards: list[Guard] = field(default_factory=list)
    # Every (instance_id, key) seen, to check targets naming one matched something; gathered
    # only when there are such targets.
    track_seen: bool = False
    seen: set[tuple[str, str]] = field(default_factory=set)
    # Each planned instance's listed GID names (what its inventory's fingerprint covers).
    listed: dict[InstanceRef, frozenset[str]] = field(default_factory=dict)


def walk_kind(
    kind: ResourceKind,
    instance: DesiredInstance,
    inventory: InstanceInventory,
    *,
    in_state: Mapping[str, StateResource],
    options: PlanOptions,
    walk: Walk,
) -> None:
    """The table over the resources of ``kind`` an instance declares, lists or records."""
    present: dict[str, Declared] = {}
    tombstones: dict[str, Declared] = {}
    for item in kind.declared(instance):
        (tombstones if item.absent else present)[kind.key_of(item)] = item
    cloud = kind.listed(inventory)
    reported = kind.listed_values(inventory)

    names = cloud | in_state.keys() | present.keys() | tombstones.keys()
    region, instance_id, api = instance.region, instance.instance_id, instance.api
    if walk.track_seen:
        walk.seen.update((instance_id, name) for name in names)
    if not options.refresh_only:
        # The common case on a large estate, declared, listed and recorded alike: nothing to
        # say. Only the rest is walked one by one below.
        everywhere = present.keys() & cloud & in_state.keys()
        names -= _settled(kind, everywhere, present, in_state, reported)
    for name in names:
        exists = name in cloud
        recorded = in_state.get(name)
        wanted = present.get(name)
        if options.refresh_only:
            if recorded is not None and not exists:
                walk.changes.append(_forget(kind, recorded.key, recorded, _FORGET_REFRESH_ONLY))
            continue
        key = _key(kind, region, instance_id, name)
        if wanted is not None:
            _plan_present(
                kind,
                key,
                wanted,
                exists=exists,
                recorded=recorded,
                reported=reported.get(name),
                walk=walk,
                api=api,
            )
            continue
        tombstone = tombstones.get(name)
        if not exists:
            if recorded is not None:
                walk.changes.append(_forget(kind, key, recorded, _FORGET))
            continue
        if tombstone is not None:
            reason = "marked absent: true in the file"
        elif recorded is not None:
            reason = "managed by reconciler and no longer declared in the file"
        elif instance.ownership_of(kind.name) == "exclusive":
            whose = "ownership" if instance.ownership == "exclusive" else f"{kind.noun} ownership"
            reason = f"not declared and not in state; the instance's {whose} is exclusive"
        else:
            walk.unmanaged.append(key)
            continue
        walk.changes.append(
            _delete(
                kind,
                key,
                reason,
                recorded=recorded,
                tombstone=tombstone,
                options=options,
                api=api,
            )
        )


def walk_removed_kind(
    kind: ResourceKind,
    ref: InstanceRef,
    inventory: InstanceInventory,
    *,
    in_state: Mapping[str, StateResource],
    options: PlanOptions,
    walk: Walk,
) -> None:
    """An instance only in the state: its recorded resources of ``kind`` are "not declared";
    nothing the state does not hold is reported or deleted (its ownership is unknown)."""
    cloud = kind.listed(inventory)
    if walk.track_seen:
        # A resource only the cloud lists is still one ``--target`` may name: the plan has
        # nothing for it, which is not "no such resource".
        walk.seen.update((ref[1], name) for name in cloud)
    for name, recorded in in_state.items():
        key = recorded.key
        if walk.track_seen:
            walk.seen.add((key.instance_id, name))
        if name not in cloud:
            reason = (
                _FORGET_REFRESH_ONLY
                if options.refresh_only
                else f"instance {ref[1]} is no longer declared and the {kind.noun} is gone from "
                "the cloud: dropped from state"
            )
            walk.changes.append(_forget(kind, key, recorded, reason))
        elif not options.refresh_only:
            reason = (
                f"managed by reconciler; its instance {ref[1]} is no longer declared in the file"
            )
            walk.changes.append(
                _delete(
                    kind,
                    key,
                    reason,
                    recorded=recorded,
                    tombstone=None,
                    options=options,
                    api=recorded.api,
                )
            )


# --- one declared resource -------------------------------------------------------------------


def _plan_present(
    kind: ResourceKind,
    key: ResourceKey,
    wanted: Declared,
    *,
    exists: bool,
    recorded: StateResource | None,
    reported: Mapping[str, str] | None,
    walk: Walk,
    api: Api,
) -> None:
    if not exists:
        walk.changes.append(_create(kind, key, wanted, recorded, api=api))
        return
    if recorded is None:
        # Recorded with what the listing reports of its immutable attributes: an adopted
        # resource keeps the values it was created with, whatever the file says.
        _not_in_place(kind, key, wanted, None, reported, walk=walk)
        # What cannot be read back (a write-only value, a setting the listing does not
        # report) is set by an update call before the resource is recorded.
        pending = (
            tuple(_attribute_changes(kind, wanted, None, reported))
            if kind.mutable or kind.write_only
            else ()
        )
        if pending:
            reason = (
                "exists in the cloud, not yet in state: "
                f"{_changes_text(pending)}; set by one update call, then recorded"
            )
            walk.changes.append(
                _update_call(
                    kind,
                    key,
                    wanted,
                    recorded=None,
                    reported=reported,
                    changed=pending,
                    reason=reason,
                    api=api,
                )
            )
            return
        walk.changes.append(
            _change(
                kind,
                Action.ADOPT,
                key,
                "exists in the cloud, not yet in state: recorded without an API call",
                {**_declared_values(kind, wanted), **_reported_immutables(kind, reported)},
                item=wanted,
                api=api,
            )
        )
        return
    _not_in_place(kind, key, wanted, recorded, reported, walk=walk)
    changed = tuple(_attribute_changes(kind, wanted, recorded, reported))
    if changed:
        reason = f"{_changes_text(changed)}: one update call"
        walk.changes.append(
            _update_call(
                kind,
                key,
                wanted,
                recorded=recorded,
                reported=reported,
                changed=changed,
                reason=reason,
                api=api,
            )
        )
        return
    protect = _declared_protect(kind, wanted)
    if protect is not None and protect != recorded.protect:
        walk.changes.append(
            _change(
                kind,
                Action.UPDATE,
                key,
                f"protect changes from {str(recorded.protect).lower()} to "
                f"{str(protect).lower()}: recorded in state without an API call",
                # It keeps the values it was recorded with (None: unknown), not the file's.
                _recorded_values(kind, recorded),
                item=wanted,
                api=api,
                in_state=True,
            )
        )


def _not_in_place(
    kind: ResourceKind,
    key: ResourceKey,
    wanted: Declared,
    recorded: StateResource | None,
    reported: Mapping[str, str] | None,
    *,
    walk: Walk,
) -> None:
    walk.not_in_place.extend(
        NotInPlace(
            kind=key.kind,
            region=key.region,
            instance_id=key.instance_id,
            group_id=key.group_id,
            attribute=attribute,
            current=current,
            desired=desired,
        )
        for attribute, current, desired in _changed_immutables(kind, wanted, recorded, reported)
    )


def _reported_immutables(kind: ResourceKind, reported: Mapping[str, str] | None) -> dict[str, str]:
    if not reported:
        return {}
    return {name: reported[name] for name in kind.immutable if name in reported}


def _create(
    kind: ResourceKind,
    key: ResourceKey,
    wanted: Declared,
    recorded: StateResource | None,
    *,
    api: Api,
) -> Change:
    guards: tuple[Guard, ...] = ()
    reason = "declared in the file, missing from the cloud"
    if recorded is not None:
        reason += " (deleted outside reconciler)"
        guards = (
            Guard(
                kind=GuardKind.DELETED_OUTSIDE,
                message=(
                    "in state but gone from the cloud: it was deleted outside reconciler; "
                    "clients using it may be failing now"
                ),
            ),
        )
    return _change(
        kind,
        Action.CREATE,
        key,
        reason,
        _declared_values(kind, wanted),
        item=wanted,
        guards=guards,
        api=api,
        in_state=recorded is not None,
        # Recreated, it keeps the protection recorded unless the file says otherwise.
        protect=_protect(kind, wanted, recorded),
        write_only=_write_only_values(kind, wanted),
    )


def _update_call(
    kind: ResourceKind,
    key: ResourceKey,
    wanted: Declared,
    *,
    recorded: StateResource | None,
    reported: Mapping[str, str] | None,
    changed: tuple[AttributeChange, ...],
    reason: str,
    api: Api,
) -> Change:
    """One call setting the changed attributes; the resource keeps its recorded immutable
    values and gets the declared mutable ones (or keeps those it has)."""
    if recorded is not None:
        values = _recorded_values(kind, recorded)
    else:
        values = _declared_values(kind, wanted, only=kind.immutable)
        values.update(_reported_immutables(kind, reported))
    for name in kind.mutable:
        declared = getattr(wanted, name)
        values[name] = declared if declared is not None else _current(name, recorded, reported)
    return _change(
        kind,
        Action.UPDATE,
        key,
        reason,
        values,
        item=wanted,
        api=api,
        in_state=recorded is not None,
        protect=_protect(kind, wanted, recorded),
        changed=changed,
        write_only=_write_only_values(kind, wanted),
    )


# --- attributes ------------------------------------------------------------------------------


def _settled(
    kind: ResourceKind,
    names: Iterable[str],
    present: Mapping[str, Declared],
    in_state: Mapping[str, StateResource],
    reported: Mapping[str, Mapping[str, str]],
) -> set[str]:
    """Those of ``names`` (each declared, listed and recorded) with nothing to plan: the
    planner's fast path over nearly every resource of a large estate, so one loop, not a
    call per resource, for a kind without mutable or write-only attributes."""
    has_protect = "protect" in kind.state_only
    immutable = kind.immutable
    compares_more = bool(kind.mutable or kind.write_only)
    settled = set()
    for name in names:
        wanted, recorded = present[name], in_state[name]
        if has_protect:
            protect = wanted.protect
            if protect is not None and protect != recorded.protect:
                continue
        values = reported.get(name)
        for attribute in immutable:
            desired = getattr(wanted, attribute)
            if desired is None:
                continue
            # The listing's value, else the state's (``_current``, inline).
            if values is not None and attribute in values:
                current: str | None = values[attribute]
            else:
                current = recorded.value(attribute)
            if current is not None and current != desired:
                break
        else:
            if not compares_more or _unchanged(kind, wanted, recorded, values):
                settled.add(name)
    return settled


def _unchanged(
    kind: ResourceKind,
    wanted: Declared,
    recorded: StateResource,
    reported: Mapping[str, str] | None,
) -> bool:
    return next(_attribute_changes(kind, wanted, recorded, reported), None) is None


def _changed_immutables(
    kind: ResourceKind,
    wanted: Declared,
    recorded: StateResource | None,
    reported: Mapping[str, str] | None,
) -> Iterator[tuple[str, str, str]]:
    """Each immutable attribute the file names and the resource has another value of (the
    listing's, else the state's; none known: nothing to compare): (attribute, current value,
    desired value)."""
    for attribute in kind.immutable:
        desired = getattr(wanted, attribute)
        if desired is None:
            continue
        current = _current(attribute, recorded, reported)
        if current is not None and desired != current:
            yield attribute, current, desired


def _attribute_changes(
    kind: ResourceKind,
    wanted: Declared,
    recorded: StateResource | None,
    reported: Mapping[str, str] | None,
) -> Iterator[AttributeChange]:
    """Each mutable attribute the file sets to another value than the resource has (None:
    unknown, so it is set), and each write-only one the state has no digest of this value for."""
    for name in kind.mutable:
        desired = getattr(wanted, name)
        if desired is None:
            continue
        current = _current(name, recorded, reported)
        if current != desired:
            yield AttributeChange(name=name, current=current, desired=desired)
    digests = named(recorded.digests) if recorded is not None else {}
    for name in kind.write_only:
        value = _secret(getattr(wanted, name))
        if value is None:
            continue
        digest = digests.get(name)
        if digest is None or not write_only_matches(value, digest):
            yield AttributeChange(name=name, write_only=True)


def _current(
    name: str, recorded: StateResource | None, reported: Mapping[str, str] | None
) -> str | None:
    """The value the resource has: the listing's, else the state's (None: unknown)."""
    if reported is not None and name in reported:
        return reported[name]
    return recorded.value(name) if recorded is not None else None


def _changes_text(changed: tuple[AttributeChange, ...]) -> str:
    words = []
    for item in changed:
        if item.write_only:
            words.append(f"{item.name} changed")
        elif item.current is None:
            words.append(f"{item.name} is set to {item.desired}")
        else:
            words.append(f"{item.name} changes from {item.current} to {item.desired}")
    return "; ".join(words)


def _declared_values(
    kind: ResourceKind, wanted: Declared, *, only: tuple[str, ...] | None = None
) -> dict[str, str | None]:
    names = kind.sent if only is None else only
    return {name: getattr(wanted, name) for name in names}


def _recorded_values(kind: ResourceKind, recorded: StateResource) -> dict[str, str | None]:
    return {name: recorded.value(name) for name in kind.sent}


def _write_only_values(kind: ResourceKind, wanted: Declared) -> tuple[WriteOnlyValue, ...]:
    found = ((name, _secret(getattr(wanted, name))) for name in kind.write_only)
    return tuple(
        WriteOnlyValue(name=name, value=SecretStr(value)) for name, value in found if value
    )


def _secret(value: object) -> str | None:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    return value if isinstance(value, str) else None


# --- reconciler's own settings ---------------------------------------------------------------


def _declared_protect(kind: ResourceKind, wanted: Declared | None) -> bool | None:
    """The file's ``protect`` (None: it does not say, or the kind has none)."""
    if wanted is None or "protect" not in kind.state_only:
        return None
    protect: bool | None = wanted.protect
    return protect


def _protect(kind: ResourceKind, wanted: Declared, recorded: StateResource | None) -> bool:
    """The file's ``protect`` when it says one, else what the state records."""
    declared = _declared_protect(kind, wanted)
    if declared is not None:
        return declared
    return recorded is not None and recorded.protect


def _clients(kind: ResourceKind, item: Declared | StateResource | None) -> tuple[str, ...]:
    if item is None or "clients" not in kind.state_only:
        return ()
    clients: tuple[str, ...] = item.clients
    return clients


# --- changes ---------------------------------------------------------------------------------


def _key(kind: ResourceKind, region: str, instance_id: str, name: str) -> ResourceKey:
    # The names were validated when their models were built; skip validating them again.
    return ResourceKey.trusted(region, instance_id, name, kind.name)


def _change(
    kind: ResourceKind,
    action: Action,
    key: ResourceKey,
    reason: str,
    values: Mapping[str, str | None],
    *,
    item: Declared | StateResource | None = None,
    guards: tuple[Guard, ...] = (),
    api: Api,
    in_state: bool = False,
    protect: bool | None = None,
    clients: tuple[str, ...] | None = None,
    changed: tuple[AttributeChange, ...] = (),
    write_only: tuple[WriteOnlyValue, ...] = (),
) -> Change:
    """A change giving the resource ``values`` (an attribute with a field of its own, a
    GID's ``topic``, in it; the others in ``attributes``) and ``item``'s protect and clients
    (declared or recorded; ``protect`` and ``clients`` override them)."""
    if protect is None:
        protect = bool(item is not None and "protect" in kind.state_only and item.protect)
    if clients is None:
        clients = _clients(kind, item)
    fields: dict[str, Any] = {
        "action": action,
        "kind": kind.name,
        "region": key.region,
        "instance_id": key.instance_id,
        "group_id": key.group_id,
        "reason": reason,
        "protect": protect,
        "guards": guards,
        "api": api,
        "clients": clients,
        "in_state": in_state,
        "attributes": (),
        "changed": changed,
        "write_only": write_only,
    }
    # An attribute with a field of its own on Change (a GID's ``topic``) is given there.
    others: dict[str, str | None] = {}
    for name, value in values.items():
        if name in _CHANGE_FIELDS:
            fields[name] = value
        else:
            others[name] = value
    if others:
        fields["attributes"] = named_values(others)
    return _constructed(fields)


def _constructed(fields: dict[str, Any]) -> Change:
    """``Change.model_construct(None, **fields)`` without its per-field bookkeeping (5.6 to
    about 1 us a change, one per create of a large apply): the same values in the same order,
    the same fields set (one shared per combination of names given)."""
    given = frozenset(fields)
    fields_set = _FIELDS_SETS.get(given)
    if fields_set is None:
        fields_set = _FIELDS_SETS.setdefault(given, set(given))
    values = {name: fields.get(name, default) for name, default in _CHANGE_DEFAULTS}
    return construct_trusted(Change, fields_set, values)


_CHANGE_FIELDS = frozenset(Change.model_fields)
# Every field of Change in declaration order with its default (none has a factory: each
# default is an immutable value, shared as model_construct shares it).
_CHANGE_DEFAULTS = tuple((name, info.default) for name, info in Change.model_fields.items())
_FIELDS_SETS: dict[frozenset[str], set[str]] = {}
_FORGET = "not declared, gone from the cloud, still in state: dropped from state"
_FORGET_REFRESH_ONLY = "in state but gone from the cloud: dropped from state (refresh only)"


def _forget(kind: ResourceKind, key: ResourceKey, recorded: StateResource, reason: str) -> Change:
    gone = Guard(
        kind=GuardKind.DELETED_OUTSIDE, message="gone from the cloud: deleted outside reconciler"
    )
    return _change(
        kind,
        Action.FORGET,
        key,
        reason,
        _recorded_values(kind, recorded),
        item=recorded,
        guards=(gone,),
        api=recorded.api,
        in_state=True,
    )


def _delete(
    kind: ResourceKind,
    key: ResourceKey,
    reason: str,
    *,
    recorded: StateResource | None,
    tombstone: Declared | None,
    options: PlanOptions,
    api: Api,
) -> Change:
    protected = bool(recorded and recorded.protect) or bool(_declared_protect(kind, tombstone))
    # The file's word on a tombstone's clients, else what the state remembers.
    clients = _clients(kind, tombstone) or _clients(kind, recorded)
    guards: tuple[Guard, ...] = ()
    if protected:
        guards = (
            Guard(
                kind=GuardKind.PROTECTED,
                message="protected (protect: true is recorded in state and stays until "
                "the file sets protect: false)",
                blocking=True,
                override=f"--allow-protected-delete {key}",
                overridden=str(key) in options.allow_protected_delete,
            ),
        )
    if kind.online_clients:
        guards = (*guards, *online_check_notes(api, clients))
    return _change(
        kind,
        Action.DELETE,
        key,
        reason,
        _recorded_values(kind, recorded) if recorded is not None else {},
        item=recorded,
        guards=guards,
        api=api,
        in_state=recorded is not None,
        protect=protected,
        clients=clients,
    )
