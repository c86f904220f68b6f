"""The planner: a pure function of desired state, inventory, state and options -> Plan.

``diff_plan`` runs in named phases: ``prepare`` what the desired state and the state alone
give (the planned instances, the state indexed by instance and kind, the desired state's
digest and summary: ``builder`` makes it while the listings are in flight), walk each planned
instance kind by kind (``walk``: the semantics table, one function for every kind), keep what
the targets cover, add the guards that look across resources, assemble the plan. Instances
only in the state (gone from the file) plan their state resources like "not declared", but
never report or delete anything the state does not hold: their ownership is unknown.

Guards live in ``guards``, options and targets in ``options``. The online-client look-ups are
I/O, so they happen in ``builder``: ``online_check_keys`` says
which deletes need one (none when ``--skip-online-check`` or when the circuit breaker already
refuses, so its rate-limited calls are not wasted), and ``with_online_counts`` attaches the
answers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from operator import attrgetter

from reconciler.errors import PlanError
from reconciler.models import (
    KINDS,
    DesiredState,
    InstanceInventory,
    ResourceKey,
    StateDocument,
    StateResource,
    inventory_fingerprint,
)
from reconciler.plan.desired_summary import DesiredInstanceSummary, summarize_desired
from reconciler.plan.guards import (
    circuit_breaker,
    effective_naming,
    empty_desired_guard,
    flag_cut_offs,
    flag_naming_conflicts,
    flag_probable_renames,
    kind_unavailable,
    naming_mismatch,
    online_check_keys,
    online_guards_without_lookup,
    unverified_naming,
    unverified_naming_notes,
    with_online_counts,
)
from reconciler.plan.model import Change, Guard, NotInPlace, Plan
from reconciler.plan.options import (
    InstanceRef,
    PlanMeta,
    PlanOptions,
    Target,
    check_target_instances,
    inventory_label,
)
from reconciler.plan.walk import Walk, walk_kind, walk_removed_kind

__all__ = [
    "InstanceRef",
    "PlanMeta",
    "PlanOptions",
    "Prepared",
    "Target",
    "diff_plan",
    "inventory_label",
    "online_check_keys",
    "planned_instances",
    "prepare",
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


# The state's resources by instance, then by kind, then by key.
_StateIndex = dict[InstanceRef, dict[str, dict[str, StateResource]]]


@dataclass(frozen=True)
class Prepared:
    """What a plan takes from the desired state and the state alone, before any listing."""

    refs: list[InstanceRef]  # ``planned_instances``
    state_index: _StateIndex
    # Empty for a plan only shown (``PlanMeta.recorded`` false).
    desired_digest: str
    desired_summary: dict[str, DesiredInstanceSummary]


def prepare(
    desired: DesiredState,
    state: StateDocument | None,
    targets: tuple[Target, ...] = (),
    *,
    recorded: bool = True,
) -> Prepared:
    """Each a pass over 100,000 GIDs or state resources: made while the listings are in
    flight, they cost a large plan little it would not spend waiting. The desired state's
    digest and summary only when the plan is ``recorded``."""
    return Prepared(
        refs=planned_instances(desired, state, targets),
        state_index=_state_by_instance(state),
        desired_digest=desired.digest() if recorded else "",
        desired_summary=summarize_desired(desired) if recorded else {},
    )


# --- the diff ---------------------------------------------------------------------------------


def diff_plan(
    desired: DesiredState,
    inventories: Mapping[InstanceRef, InstanceInventory],
    state: StateDocument | None,
    options: PlanOptions,
    meta: PlanMeta,
    *,
    naming: Mapping[InstanceRef, bool] | None = None,
    prepared: Prepared | None = None,
) -> Plan:
    """Plan every instance in ``planned_instances``; ``inventories`` must hold each of them.

    ``inventories`` may hold more instances (seen in listings of shared-namespace instances):
    they only serve the cross-instance naming check. ``naming`` gives a listing's
    IndependentNaming where the inventory alone cannot tell (an empty instance).
    ``prepared``: ``prepare`` of the same desired state, state and targets, if made already.

    Phases: walk each planned instance (the semantics table), keep what the targets cover,
    add the guards that look across resources, then assemble the plan.
    """
    if prepared is None:
        prepared = prepare(desired, state, options.targets, recorded=meta.recorded)
    refs = prepared.refs
    namings = effective_naming(inventories, naming or {})
    walked = _walk_instances(
        desired,
        refs,
        inventories=inventories,
        state_by_instance=prepared.state_index,
        namings=namings,
        options=options,
    )
    targeted = _narrow_to_targets(walked, options.targets)
    _guard_across_resources(
        targeted, desired, refs, inventories=inventories, namings=namings, options=options
    )
    return _assemble(
        targeted,
        walked.listed,
        refs,
        inventories=inventories,
        desired=desired,
        state=state,
        prepared=prepared,
        options=options,
        meta=meta,
    )


def _state_by_instance(state: StateDocument | None) -> _StateIndex:
    by_instance: _StateIndex = defaultdict(lambda: defaultdict(dict))
    if state is not None:
        # Resources are usually stored by instance and kind: look the bucket up once per run
        # of them.
        last: tuple[str, str, str] | None = None
        bucket: dict[str, StateResource] = {}
        for resource in state.resources:
            where = (resource.region, resource.instance_id, resource.kind)
            if where != last:
                bucket, last = by_instance[where[:2]][where[2]], where
            bucket[resource.group_id] = resource
    return by_instance


def _walk_instances(
    desired: DesiredState,
    refs: list[InstanceRef],
    *,
    inventories: Mapping[InstanceRef, InstanceInventory],
    state_by_instance: _StateIndex,
    namings: Mapping[InstanceRef, bool],
    options: PlanOptions,
) -> Walk:
    """The semantics table, per planned instance and kind: changes, differences, unmanaged
    keys."""
    declared = {(inst.region, inst.instance_id): inst for inst in desired.instances}
    walk = Walk(track_seen=any(t.group_id is not None for t in options.targets))
    for ref in refs:
        inventory = inventories.get(ref)
        if inventory is None:
            raise PlanError(f"instance {ref[1]} ({ref[0]}) was not refreshed")
        walk.listed[ref] = inventory.group_ids()
        instance = declared.get(ref)
        in_state = state_by_instance.get(ref, {})
        if instance is not None:
            mismatch = naming_mismatch(instance, namings.get(ref))
            if mismatch is not None:
                walk.guards.append(mismatch)
        unavailable: dict[str, list[str]] = {}
        for kind in KINDS.values():
            recorded = in_state.get(kind.name, {})
            reason = kind.unavailable(inventory)
            if reason is not None:
                # What cannot be listed is not planned; said once per instance, and only
                # where the file or the state has some of it.
                if recorded or (instance is not None and kind.declared(instance)):
                    unavailable.setdefault(reason, []).append(kind.nouns)
                continue
            if instance is None:
                walk_removed_kind(
                    kind, ref, inventory, in_state=recorded, options=options, walk=walk
                )
            else:
                walk_kind(kind, instance, inventory, in_state=recorded, options=options, walk=walk)
        walk.guards.extend(
            kind_unavailable(ref[1], reason, nouns) for reason, nouns in unavailable.items()
        )
    return walk


@dataclass
class _Targeted:
    """What the walk found that the targets cover (everything, without targets)."""

    changes: list[Change]
    unmanaged: list[ResourceKey]
    not_in_place: list[NotInPlace]
    guards: list[Guard]


def _narrow_to_targets(acc: Walk, targets: tuple[Target, ...]) -> _Targeted:
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
    changes = flag_cut_offs(changes, inventories)
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
    inventories: Mapping[InstanceRef, InstanceInventory],
    desired: DesiredState,
    state: StateDocument | None,
    prepared: Prepared,
    options: PlanOptions,
    meta: PlanMeta,
) -> Plan:
    """The plan, in its stable order, with what a saved plan needs to judge staleness."""
    # The key's sort order, without building a key model per change.
    changes = sorted(targeted.changes, key=attrgetter("region", "instance_id", "kind", "group_id"))
    unmanaged = sorted(targeted.unmanaged, key=lambda k: k.sort_key())
    not_in_place = sorted(targeted.not_in_place, key=lambda d: d.key.sort_key())
    labels = {ref: inventory_label(*ref) for ref in refs}
    listed_sorted = {labels[ref]: tuple(sorted(listed[ref])) for ref in refs}
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
        desired_digest=prepared.desired_digest,
        workspace=meta.workspace,
        state_lineage=state.lineage if state is not None else None,
        state_serial=state.serial if state is not None else 0,
        inventory_fingerprints={
            inventory_label(*ref): inventory_fingerprint(inventories[ref], listed_sorted[label])
            for ref, label in labels.items()
        },
        inventory_group_ids=listed_sorted,
        desired_instances=prepared.desired_summary,
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


def state_source(desired: DesiredState) -> str:
    """Where the state lives, named without secrets (a DSN is never part of it)."""
    backend = desired.backend
    if backend.kind == "postgres":
        return f"postgres {backend.db_schema}/{backend.workspace}"
    return backend.path


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
                f"--target {target.instance_id}/{target.group_id}: no such {_nouns()} in "
                "the file, "
                "the state or the cloud"
            )


def _nouns() -> str:
    """What a target may name: ``GID``, or ``GID or widget`` once there are more kinds."""
    return " or ".join(kind.noun for kind in KINDS.values())
