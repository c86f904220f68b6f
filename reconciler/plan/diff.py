"""The planner: a pure function of desired state, inventory, state and options -> Plan.

Rows of the semantics table (see ARCHITECTURE.md, semantics table), per GID of each planned
instance:

==============================  =========  =======  ==========================================
desired                         cloud      state    action
==============================  =========  =======  ==========================================
present                         missing    any      create ("deleted outside" when in state)
present                         exists     missing  adopt
present                         exists     present  no-op (update when ``protect`` changed)
absent: true                    exists     any      delete
not declared                    exists     present  delete
not declared                    exists     missing  unmanaged (managed) / delete (exclusive)
not declared / absent           missing    present  forget
==============================  =========  =======  ==========================================

Instances only in the state (gone from the file) plan their state resources like "not
declared", but never report or delete anything the state does not hold: their ownership is
unknown.

Guards live in ``guards``, options and targets in ``options``. The online-client look-ups are
I/O, so they happen in ``builder``: ``online_check_keys`` says
which deletes need one (none when ``--skip-online-check`` or when the circuit breaker already
refuses, so its rate-limited calls are not wasted), and ``with_online_counts`` attaches the
answers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from operator import attrgetter

from reconciler.errors import PlanError
from reconciler.models import (
    GID_KIND,
    KINDS,
    Api,
    DesiredGroup,
    DesiredInstance,
    DesiredState,
    InstanceInventory,
    ResourceKey,
    StateDocument,
    StateResource,
    group_ids_fingerprint,
)
from reconciler.plan.desired_summary import summarize_desired
from reconciler.plan.guards import (
    circuit_breaker,
    effective_naming,
    empty_desired_guard,
    flag_naming_conflicts,
    flag_probable_renames,
    naming_mismatch,
    online_check_keys,
    online_check_notes,
    online_guards_without_lookup,
    unverified_naming,
    unverified_naming_notes,
    with_online_counts,
)
from reconciler.plan.model import Action, Change, Guard, GuardKind, NotInPlace, Plan
from reconciler.plan.options import (
    InstanceRef,
    PlanMeta,
    PlanOptions,
    Target,
    check_target_instances,
    inventory_label,
)

__all__ = [
    "InstanceRef",
    "PlanMeta",
    "PlanOptions",
    "Target",
    "diff_plan",
    "inventory_label",
    "online_check_keys",
    "planned_instances",
    "with_online_counts",
]


def planned_instances(
    desired: DesiredState, state: StateDocument | None, targets: tuple[Target, ...] = ()
) -> list[InstanceRef]:
    """Declared instances plus those only in the state, narrowed by ``targets``; sorted."""
    refs = {(inst.region, inst.instance_id) for inst in desired.instances}
    if state is not None:
        refs.update(map(_instance_of, state.resources))
    if targets:
        check_target_instances(targets, {iid for _, iid in refs})
        refs = {ref for ref in refs if any(t.covers_instance(ref[1]) for t in targets)}
    return sorted(refs)


_instance_of = attrgetter("region", "instance_id")


# --- the diff ---------------------------------------------------------------------------------


@dataclass
class _Acc:
    """Changes and guards gathered while walking the instances."""

    changes: list[Change] = field(default_factory=list)
    not_in_place: list[NotInPlace] = field(default_factory=list)
    unmanaged: list[ResourceKey] = field(default_factory=list)
    guards: list[Guard] = field(default_factory=list)
    # Every (instance_id, group_id) seen, to check GID targets matched something; gathered
    # only when there are such targets.
    track_seen: bool = False
    seen: set[tuple[str, str]] = field(default_factory=set)
    # Each planned instance's listed names.
    listed: dict[InstanceRef, frozenset[str]] = field(default_factory=dict)


def diff_plan(
    desired: DesiredState,
    inventories: Mapping[InstanceRef, InstanceInventory],
    state: StateDocument | None,
    options: PlanOptions,
    meta: PlanMeta,
    *,
    naming: Mapping[InstanceRef, bool] | None = None,
) -> Plan:
    """Plan every instance in ``planned_instances``; ``inventories`` must hold each of them.

    ``inventories`` may hold more instances (seen in listings of shared-namespace instances):
    they only serve the cross-instance naming check. ``naming`` gives a listing's
    IndependentNaming where the inventory alone cannot tell (an empty instance).

    Phases: walk each planned instance (the semantics table), keep what the targets cover,
    add the guards that look across resources, then assemble the plan.
    """
    refs = planned_instances(desired, state, options.targets)
    namings = effective_naming(inventories, naming or {})
    walked = _walk_instances(
        desired,
        refs,
        inventories=inventories,
        state_by_instance=_state_by_instance(state),
        namings=namings,
        options=options,
    )
    targeted = _narrow_to_targets(walked, options.targets)
    _guard_across_resources(
        targeted, desired, refs, inventories=inventories, namings=namings, options=options
    )
    return _assemble(
        targeted, walked.listed, refs, desired=desired, state=state, options=options, meta=meta
    )


def _state_by_instance(state: StateDocument | None) -> dict[InstanceRef, dict[str, StateResource]]:
    """The state's resources by instance, then by name."""
    by_instance: dict[InstanceRef, dict[str, StateResource]] = defaultdict(dict)
    if state is not None:
        # Resources are usually stored by instance: look the bucket up once per run of them.
        last: InstanceRef | None = None
        bucket: dict[str, StateResource] = {}
        for resource, ref in zip(state.resources, map(_instance_of, state.resources), strict=True):
            if ref != last:
                bucket, last = by_instance[ref], ref
            bucket[resource.group_id] = resource
    return by_instance


def _walk_instances(
    desired: DesiredState,
    refs: list[InstanceRef],
    *,
    inventories: Mapping[InstanceRef, InstanceInventory],
    state_by_instance: Mapping[InstanceRef, dict[str, StateResource]],
    namings: Mapping[InstanceRef, bool],
    options: PlanOptions,
) -> _Acc:
    """The semantics table, per planned instance: changes, differences, unmanaged names."""
    declared = {(inst.region, inst.instance_id): inst for inst in desired.instances}
    acc = _Acc(track_seen=any(t.group_id is not None for t in options.targets))
    for ref in refs:
        inventory = inventories.get(ref)
        if inventory is None:
            raise PlanError(f"instance {ref[1]} ({ref[0]}) was not refreshed")
        # Each planned instance's listed names, computed once (100,000 on a large estate).
        cloud = acc.listed[ref] = inventory.group_ids()
        instance = declared.get(ref)
        in_state = state_by_instance.get(ref, {})
        if instance is None:
            _plan_removed_instance(ref, cloud, in_state, options, acc)
        else:
            mismatch = naming_mismatch(instance, namings.get(ref))
            if mismatch is not None:
                acc.guards.append(mismatch)
            _plan_instance(instance, cloud, in_state, options, acc)
    return acc


@dataclass
class _Targeted:
    """What the walk found that the targets cover (everything, without targets)."""

    changes: list[Change]
    unmanaged: list[ResourceKey]
    not_in_place: list[NotInPlace]
    guards: list[Guard]


def _narrow_to_targets(acc: _Acc, targets: tuple[Target, ...]) -> _Targeted:
    _check_targets_matched(targets, acc.seen)
    return _Targeted(
        changes=[c for c in acc.changes if _targeted(c.key, targets)],
        unmanaged=[k for k in acc.unmanaged if _targeted(k, targets)],
        not_in_place=[d for d in acc.not_in_place if _targeted(d.key, targets)],
        guards=[g for g in acc.guards if _subject_targeted(g.subject, targets)],
    )


def _guard_across_resources(
    targeted: _Targeted,
    desired: DesiredState,
    refs: list[InstanceRef],
    *,
    inventories: Mapping[InstanceRef, InstanceInventory],
    namings: Mapping[InstanceRef, bool],
    options: PlanOptions,
) -> None:
    """Naming conflicts, probable renames, the circuit breaker, an empty desired state and the
    online checks left undone: guards no single resource can decide."""
    # An instance no listing tells the naming of (it has no GIDs) is planned per its declared
    # value; without one it may share the namespace, so its creates are checked as if it did.
    declared = {(inst.region, inst.instance_id): inst for inst in desired.instances}
    unverified = unverified_naming(refs, declared, namings)
    planned_naming = {
        **namings,
        **{ref: value for ref, value in unverified.items() if value is not None},
    }
    unknown = {ref for ref, value in unverified.items() if value is None}
    changes = flag_naming_conflicts(targeted.changes, inventories, planned_naming, unknown=unknown)
    targeted.guards.extend(unverified_naming_notes(unverified, changes))
    changes = flag_probable_renames(changes)
    changes, breaker = circuit_breaker(changes, inventories, desired, options)
    empty = empty_desired_guard(changes, desired, options)
    if empty is not None:
        breaker.append(empty)
    targeted.guards.extend(breaker)
    targeted.changes = online_guards_without_lookup(
        changes, options, refused_by=next((g for g in breaker if g.refuses), None)
    )


def _assemble(
    targeted: _Targeted,
    listed: Mapping[InstanceRef, frozenset[str]],
    refs: list[InstanceRef],
    *,
    desired: DesiredState,
    state: StateDocument | None,
    options: PlanOptions,
    meta: PlanMeta,
) -> Plan:
    """The plan, in its stable order, with what a saved plan needs to judge staleness."""
    # The key's sort order, without building a key model per change.
    changes = sorted(targeted.changes, key=attrgetter("region", "instance_id", "kind", "group_id"))
    unmanaged = sorted(targeted.unmanaged, key=lambda k: k.sort_key())
    not_in_place = sorted(targeted.not_in_place, key=lambda d: d.key.sort_key())
    listed_sorted = {inventory_label(*ref): tuple(sorted(listed[ref])) for ref in refs}
    # model_construct: every value below is built here from validated models, of the
    # declared types; validating them again would only cost time (and build validators).
    return Plan.model_construct(
        tool_version=meta.tool_version,
        created_at=meta.created_at,
        desired_source=meta.desired_source,
        desired_inputs=meta.desired_inputs,
        desired_files=dict(desired.files),
        state_source=state_source(desired),
        state_backend=meta.state_backend,
        desired_digest=desired.digest(),
        workspace=meta.workspace,
        state_lineage=state.lineage if state is not None else None,
        state_serial=state.serial if state is not None else 0,
        inventory_fingerprints={
            label: group_ids_fingerprint(names) for label, names in listed_sorted.items()
        },
        inventory_group_ids=listed_sorted,
        desired_instances=summarize_desired(desired),
        desired_safety=desired.safety,
        changes=tuple(changes),
        not_in_place=tuple(not_in_place),
        unmanaged=tuple(unmanaged),
        guards=tuple(targeted.guards),
        targets=tuple(map(str, options.targets)),
        refresh_only=options.refresh_only,
        allow_online_delete=options.allow_online_delete,
        allow_protected_delete=tuple(sorted(options.allow_protected_delete)),
        skip_online_check=options.skip_online_check,
        allow_mass_delete=options.allow_mass_delete,
        allow_empty=options.allow_empty,
    )


def _plan_instance(
    instance: DesiredInstance,
    cloud: frozenset[str],
    in_state: Mapping[str, StateResource],
    options: PlanOptions,
    acc: _Acc,
) -> None:
    present: dict[str, DesiredGroup] = {}
    tombstones: dict[str, DesiredGroup] = {}
    for group in instance.groups:
        (tombstones if group.absent else present)[group.group_id] = group

    names = cloud | in_state.keys() | present.keys() | tombstones.keys()
    region, instance_id, api = instance.region, instance.instance_id, instance.api
    if acc.track_seen:
        acc.seen.update((instance_id, group_id) for group_id in names)
    if not options.refresh_only:
        # The common case on a large estate, declared, listed and recorded alike: nothing to
        # say. Only the rest is walked one by one below.
        names -= {
            group_id
            for group_id in present.keys() & cloud & in_state.keys()
            if (want := present[group_id]).protect in (None, (stored := in_state[group_id]).protect)
            and _immutables_agree(want, stored)
        }
    for group_id in names:
        exists = group_id in cloud
        recorded = in_state.get(group_id)
        wanted = present.get(group_id)
        if options.refresh_only:
            if recorded is not None and not exists:
                acc.changes.append(_forget(recorded.key, recorded, _FORGET_REFRESH_ONLY))
            continue
        key = _key(region, instance_id, group_id)
        if wanted is not None:
            _plan_present(key, wanted, exists, recorded, acc, api=api)
            continue
        tombstone = tombstones.get(group_id)
        if not exists:
            if recorded is not None:
                acc.changes.append(_forget(key, recorded, _FORGET))
            continue
        if tombstone is not None:
            reason = "marked absent: true in the file"
        elif recorded is not None:
            reason = "managed by reconciler and no longer declared in the file"
        elif instance.ownership == "exclusive":
            reason = "not declared and not in state; the instance's ownership is exclusive"
        else:
            acc.unmanaged.append(key)
            continue
        acc.changes.append(_delete(key, reason, recorded, tombstone, options, api=api))


def _plan_present(
    key: ResourceKey,
    wanted: DesiredGroup,
    exists: bool,
    recorded: StateResource | None,
    acc: _Acc,
    *,
    api: Api,
) -> None:
    if not exists:
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
        create = _change(
            Action.CREATE,
            key,
            reason,
            wanted,
            guards,
            api=api,
            in_state=recorded is not None,
            # Recreated, it keeps the protection recorded unless the file says otherwise.
            protect=_protect(wanted, recorded),
        )
        acc.changes.append(create)
        return
    if recorded is None:
        acc.changes.append(
            _change(
                Action.ADOPT,
                key,
                "exists in the cloud, not yet in state: recorded without an API call",
                wanted,
                api=api,
            )
        )
        return
    for attribute, current, desired in _changed_immutables(wanted, recorded):
        # Set at creation only: shown and counted, never applied.
        acc.not_in_place.append(
            NotInPlace(
                kind=key.kind,
                region=key.region,
                instance_id=key.instance_id,
                group_id=key.group_id,
                attribute=attribute,
                current=current,
                desired=desired,
            )
        )
    if wanted.protect is not None and wanted.protect != recorded.protect:
        update = _change(
            Action.UPDATE,
            key,
            f"protect changes from {str(recorded.protect).lower()} to "
            f"{str(wanted.protect).lower()}: recorded in state without an API call",
            wanted,
            api=api,
            in_state=True,
        )
        # The GID keeps the topic it was recorded with (None: unknown), not the file's.
        acc.changes.append(update.model_copy(update={"topic": recorded.topic}))


def _changed_immutables(
    wanted: DesiredGroup, recorded: StateResource
) -> Iterator[tuple[str, str, str]]:
    """Each attribute its kind declares immutable that the file and the state both name and
    disagree on: (attribute, recorded value, desired value)."""
    for attribute in KINDS[recorded.kind].immutable:
        desired, current = getattr(wanted, attribute), getattr(recorded, attribute)
        if desired is not None and current is not None and desired != current:
            yield attribute, current, desired


def _immutables_agree(wanted: DesiredGroup, recorded: StateResource) -> bool:
    """``_changed_immutables`` finds nothing (the planner's fast path asks it per resource)."""
    for attribute in KINDS[recorded.kind].immutable:
        desired = getattr(wanted, attribute)
        if desired is not None and getattr(recorded, attribute) not in (None, desired):
            return False
    return True


def _protect(wanted: DesiredGroup, recorded: StateResource | None) -> bool:
    """The file's ``protect`` when it says one, else what the state records."""
    if wanted.protect is not None:
        return wanted.protect
    return recorded is not None and recorded.protect


def _plan_removed_instance(
    ref: InstanceRef,
    cloud: frozenset[str],
    in_state: Mapping[str, StateResource],
    options: PlanOptions,
    acc: _Acc,
) -> None:
    if acc.track_seen:
        # A GID only the cloud lists is still a GID ``--target`` may name: the plan has
        # nothing for it, which is not "no such GID".
        acc.seen.update((ref[1], group_id) for group_id in cloud)
    for group_id, recorded in in_state.items():
        key = recorded.key
        if acc.track_seen:
            acc.seen.add((key.instance_id, group_id))
        if group_id not in cloud:
            reason = (
                _FORGET_REFRESH_ONLY
                if options.refresh_only
                else f"instance {ref[1]} is no longer declared and the GID is gone from the "
                "cloud: dropped from state"
            )
            acc.changes.append(_forget(key, recorded, reason))
        elif not options.refresh_only:
            reason = (
                f"managed by reconciler; its instance {ref[1]} is no longer declared in the file"
            )
            acc.changes.append(_delete(key, reason, recorded, None, options, api=recorded.api))


def state_source(desired: DesiredState) -> str:
    """Where the state lives, named without secrets (a DSN is never part of it)."""
    backend = desired.backend
    if backend.kind == "postgres":
        return f"postgres {backend.db_schema}/{backend.workspace}"
    return backend.path


def _key(region: str, instance_id: str, group_id: str) -> ResourceKey:
    # The names were validated when their models were built; skip validating them again.
    return ResourceKey.model_construct(region=region, instance_id=instance_id, group_id=group_id)


def _change(
    action: Action,
    key: ResourceKey,
    reason: str,
    group: DesiredGroup | StateResource | None = None,
    guards: tuple[Guard, ...] = (),
    *,
    api: Api = "ons",
    in_state: bool = False,
    protect: bool | None = None,
    clients: tuple[str, ...] | None = None,
) -> Change:
    """A change carrying ``group``'s topic, protect and clients (declared or recorded);
    ``protect`` and ``clients`` override the group's."""
    if protect is None:
        protect = bool(group and group.protect)
    if clients is None:
        clients = group.clients if group else ()
    return Change.model_construct(
        action=action,
        region=key.region,
        instance_id=key.instance_id,
        group_id=key.group_id,
        reason=reason,
        topic=group.topic if group else None,
        protect=protect,
        guards=guards,
        api=api,
        clients=clients,
        in_state=in_state,
    )


_FORGET = "not declared, gone from the cloud, still in state: dropped from state"
_FORGET_REFRESH_ONLY = "in state but gone from the cloud: dropped from state (refresh only)"


def _forget(key: ResourceKey, recorded: StateResource, reason: str) -> Change:
    gone = Guard(
        kind=GuardKind.DELETED_OUTSIDE, message="gone from the cloud: deleted outside reconciler"
    )
    return _change(Action.FORGET, key, reason, recorded, (gone,), api=recorded.api, in_state=True)


def _delete(
    key: ResourceKey,
    reason: str,
    recorded: StateResource | None,
    tombstone: DesiredGroup | None,
    options: PlanOptions,
    *,
    api: Api,
) -> Change:
    protected = bool(recorded and recorded.protect) or bool(tombstone and tombstone.protect)
    # The file's word on a tombstone's clients, else what the state remembers.
    clients = (tombstone.clients if tombstone is not None else ()) or (
        recorded.clients if recorded is not None else ()
    )
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
    return _change(
        Action.DELETE,
        key,
        reason,
        recorded,
        (*guards, *online_check_notes(api, clients)),
        api=api,
        in_state=recorded is not None,
        protect=protected,
        clients=clients,
    )


# --- targets --------------------------------------------------------------------------------


def _targeted(key: ResourceKey, targets: tuple[Target, ...]) -> bool:
    return not targets or any(t.covers(key) for t in targets)


def _subject_targeted(subject: str | None, targets: tuple[Target, ...]) -> bool:
    """Plan-level guards about an instance or a GID follow the targets too."""
    if not targets or subject is None:
        return True
    instance_id, _, group_id = subject.partition("/")
    if not group_id:
        return any(t.covers_instance(instance_id) for t in targets)
    return any(t.instance_id == instance_id and t.group_id in (None, group_id) for t in targets)


def _check_targets_matched(targets: tuple[Target, ...], seen: set[tuple[str, str]]) -> None:
    for target in targets:
        if target.group_id is None:
            continue
        if (target.instance_id, target.group_id) not in seen:
            raise PlanError(
                f"--target {target.instance_id}/{target.group_id}: no such {GID_KIND.noun} in "
                "the file, "
                "the state or the cloud"
            )
