"""The planner: a pure function of desired state, inventory, state and options -> Plan.

Rows of the semantics table (DESIGN.md), per GID of each planned instance:

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

The online-client look-ups are I/O, so they happen in ``builder``: ``online_check_keys`` says
which deletes need one (none when ``--skip-online-check`` or when the circuit breaker already
refuses, so its rate-limited calls are not wasted), and ``with_online_counts`` attaches the
answers.
"""

from __future__ import annotations

import difflib
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from reconciler.errors import PlanError
from reconciler.models import (
    DesiredGroup,
    DesiredInstance,
    DesiredState,
    InstanceInventory,
    ResourceKey,
    StateDocument,
    StateResource,
)
from reconciler.plan.model import Action, Change, Guard, GuardKind, Plan

# (region, instance_id)
InstanceRef = tuple[str, str]

RENAME_RATIO = 0.8
# Beyond this many delete x create pairs in one instance, only normalised-equal names are
# compared: difflib over a mass change would cost more than the whole refresh.
RENAME_PAIR_LIMIT = 250_000


@dataclass(frozen=True)
class PlanOptions:
    """What the command line asks of the planner."""

    targets: tuple[str, ...] = ()
    refresh_only: bool = False
    allow_protected_delete: frozenset[str] = frozenset()
    allow_online_delete: bool = False
    skip_online_check: bool = False
    allow_mass_delete: bool = False


@dataclass(frozen=True)
class PlanMeta:
    """Facts about where the plan comes from; copied into the Plan as they are."""

    tool_version: str
    created_at: str
    workspace: str = "default"
    desired_source: str | None = None


def inventory_label(region: str, instance_id: str) -> str:
    return f"{region}/{instance_id}"


@dataclass(frozen=True)
class Target:
    instance_id: str
    group_id: str | None

    @classmethod
    def parse(cls, text: str) -> Target:
        instance_id, sep, group_id = text.partition("/")
        if not instance_id or (sep and (not group_id or "/" in group_id)):
            raise PlanError(f"--target {text!r} is not INSTANCE_ID or INSTANCE_ID/GROUP_ID")
        return cls(instance_id, group_id or None)

    def covers_instance(self, instance_id: str) -> bool:
        return self.instance_id == instance_id

    def covers(self, key: ResourceKey) -> bool:
        return self.instance_id == key.instance_id and self.group_id in (None, key.group_id)


def parse_targets(texts: Iterable[str]) -> tuple[Target, ...]:
    return tuple(Target.parse(text) for text in texts)


def planned_instances(
    desired: DesiredState, state: StateDocument | None, targets: tuple[Target, ...] = ()
) -> list[InstanceRef]:
    """Declared instances plus those only in the state, narrowed by ``targets``; sorted."""
    refs = {(inst.region, inst.instance_id) for inst in desired.instances}
    if state is not None:
        refs.update((r.region, r.instance_id) for r in state.resources)
    if targets:
        for target in targets:
            if not any(target.covers_instance(iid) for _, iid in refs):
                raise PlanError(
                    f"--target {target.instance_id}: instance is neither declared in the file "
                    "nor in the state"
                )
        refs = {ref for ref in refs if any(t.covers_instance(ref[1]) for t in targets)}
    return sorted(refs)


# --- the diff ---------------------------------------------------------------------------------


@dataclass
class _Acc:
    """Changes and guards gathered while walking the instances."""

    changes: list[Change] = field(default_factory=list)
    unmanaged: list[ResourceKey] = field(default_factory=list)
    guards: list[Guard] = field(default_factory=list)
    # Every (instance_id, group_id) seen, to check targets matched something.
    seen: set[tuple[str, str]] = field(default_factory=set)


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
    """
    targets = parse_targets(options.targets)
    refs = planned_instances(desired, state, targets)
    declared = {(inst.region, inst.instance_id): inst for inst in desired.instances}
    state_by_instance: dict[InstanceRef, dict[str, StateResource]] = defaultdict(dict)
    if state is not None:
        for resource in state.resources:
            state_by_instance[(resource.region, resource.instance_id)][resource.group_id] = resource
    namings = _effective_naming(inventories, naming or {})

    acc = _Acc()
    for ref in refs:
        inventory = inventories.get(ref)
        if inventory is None:
            raise PlanError(f"instance {ref[1]} ({ref[0]}) was not refreshed")
        instance = declared.get(ref)
        in_state = state_by_instance.get(ref, {})
        if instance is None:
            _plan_removed_instance(ref, inventory, in_state, options, acc)
        else:
            _check_naming_mismatch(instance, namings.get(ref), acc)
            _plan_instance(instance, inventory, in_state, options, acc)

    _check_targets_matched(targets, acc.seen)
    changes = [c for c in acc.changes if _targeted(c.key, targets)]
    unmanaged = [k for k in acc.unmanaged if _targeted(k, targets)]
    guards = [g for g in acc.guards if _subject_targeted(g.subject, targets)]

    changes = _flag_naming_conflicts(changes, inventories, namings)
    changes = _flag_probable_renames(changes)
    changes, breaker = _circuit_breaker(changes, inventories, desired, options)
    guards.extend(breaker)
    changes = _online_guards_without_lookup(changes, options, breaker_refuses=_refuses(breaker))

    changes.sort(key=lambda c: (c.region, c.instance_id, c.group_id))
    unmanaged.sort(key=lambda k: k.sort_key())
    return Plan(
        tool_version=meta.tool_version,
        created_at=meta.created_at,
        desired_source=meta.desired_source,
        desired_digest=desired.digest(),
        workspace=meta.workspace,
        state_lineage=state.lineage if state is not None else None,
        state_serial=state.serial if state is not None else 0,
        inventory_fingerprints={
            inventory_label(*ref): inventories[ref].fingerprint() for ref in refs
        },
        inventory_group_ids={
            inventory_label(*ref): tuple(sorted(inventories[ref].group_ids())) for ref in refs
        },
        changes=tuple(changes),
        unmanaged=tuple(unmanaged),
        guards=tuple(guards),
        targets=options.targets,
        refresh_only=options.refresh_only,
    )


def _plan_instance(
    instance: DesiredInstance,
    inventory: InstanceInventory,
    in_state: Mapping[str, StateResource],
    options: PlanOptions,
    acc: _Acc,
) -> None:
    cloud = inventory.group_ids()
    present: dict[str, DesiredGroup] = {}
    tombstones: dict[str, DesiredGroup] = {}
    for group in instance.groups:
        (tombstones if group.absent else present)[group.group_id] = group

    names = set(cloud) | set(in_state) | set(present) | set(tombstones)
    region, instance_id = instance.region, instance.instance_id
    for group_id in names:
        acc.seen.add((instance_id, group_id))
        exists = group_id in cloud
        recorded = in_state.get(group_id)
        wanted = present.get(group_id)
        if (
            wanted is not None
            and exists
            and recorded is not None
            and not options.refresh_only
            and wanted.protect == recorded.protect
            and (wanted.topic is None or recorded.topic in (None, wanted.topic))
        ):
            continue  # the common case on a large estate: nothing to say
        if options.refresh_only:
            if recorded is not None and not exists:
                acc.changes.append(_forget(recorded.key, recorded, refresh_only=True))
            continue
        key = _key(region, instance_id, group_id)
        if wanted is not None:
            _plan_present(key, wanted, exists, recorded, acc)
            continue
        tombstone = tombstones.get(group_id)
        if not exists:
            if recorded is not None:
                acc.changes.append(_forget(key, recorded, refresh_only=False))
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
        protected = (recorded is not None and recorded.protect) or (
            tombstone is not None and tombstone.protect
        )
        acc.changes.append(_delete(key, reason, recorded, protected, options))


def _plan_present(
    key: ResourceKey,
    wanted: DesiredGroup,
    exists: bool,
    recorded: StateResource | None,
    acc: _Acc,
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
        acc.changes.append(_change(Action.CREATE, key, reason, wanted, guards))
        return
    if recorded is None:
        acc.changes.append(
            _change(
                Action.ADOPT,
                key,
                "exists in the cloud, not yet in state: recorded without an API call",
                wanted,
            )
        )
        return
    if wanted.topic is not None and recorded.topic is not None and wanted.topic != recorded.topic:
        acc.guards.append(
            Guard(
                kind=GuardKind.TOPIC_CHANGED,
                subject=str(key),
                message=(
                    f"{key.group_id}: topic is {wanted.topic!r} in the file but the GID was "
                    f"created with {recorded.topic!r}; a GID's topic cannot change in place "
                    "(revert the file, or create a GID with a new name)"
                ),
            )
        )
    if wanted.protect != recorded.protect:
        acc.changes.append(
            _change(
                Action.UPDATE,
                key,
                f"protect changes from {str(recorded.protect).lower()} to "
                f"{str(wanted.protect).lower()}: recorded in state without an API call",
                wanted,
                topic=recorded.topic,
            )
        )


def _plan_removed_instance(
    ref: InstanceRef,
    inventory: InstanceInventory,
    in_state: Mapping[str, StateResource],
    options: PlanOptions,
    acc: _Acc,
) -> None:
    cloud = inventory.group_ids()
    for group_id, recorded in in_state.items():
        key = recorded.key
        acc.seen.add((key.instance_id, group_id))
        if group_id not in cloud:
            change = _forget(key, recorded, refresh_only=options.refresh_only)
            if not options.refresh_only:
                change = change.model_copy(
                    update={
                        "reason": f"instance {ref[1]} is no longer declared and the GID is "
                        "gone from the cloud: dropped from state"
                    }
                )
            acc.changes.append(change)
        elif not options.refresh_only:
            reason = (
                f"managed by reconciler; its instance {ref[1]} is no longer declared in the file"
            )
            acc.changes.append(_delete(key, reason, recorded, recorded.protect, options))


def _key(region: str, instance_id: str, group_id: str) -> ResourceKey:
    # The names were validated when their models were built; skip validating them again.
    return ResourceKey.model_construct(region=region, instance_id=instance_id, group_id=group_id)


def _change(
    action: Action,
    key: ResourceKey,
    reason: str,
    wanted: DesiredGroup | None = None,
    guards: tuple[Guard, ...] = (),
    *,
    topic: str | None = None,
) -> Change:
    return Change(
        action=action,
        region=key.region,
        instance_id=key.instance_id,
        group_id=key.group_id,
        reason=reason,
        topic=topic if topic is not None else (wanted.topic if wanted else None),
        protect=wanted.protect if wanted else False,
        guards=guards,
    )


def _forget(key: ResourceKey, recorded: StateResource, *, refresh_only: bool) -> Change:
    reason = (
        "in state but gone from the cloud: dropped from state (refresh only)"
        if refresh_only
        else "not declared, gone from the cloud, still in state: dropped from state"
    )
    return Change(
        action=Action.FORGET,
        region=key.region,
        instance_id=key.instance_id,
        group_id=key.group_id,
        reason=reason,
        topic=recorded.topic,
        protect=recorded.protect,
        guards=(
            Guard(
                kind=GuardKind.DELETED_OUTSIDE,
                message="gone from the cloud: deleted outside reconciler",
            ),
        ),
    )


def _delete(
    key: ResourceKey,
    reason: str,
    recorded: StateResource | None,
    protected: bool,
    options: PlanOptions,
) -> Change:
    guards: tuple[Guard, ...] = ()
    if protected:
        override = f"--allow-protected-delete {key}"
        guards = (
            Guard(
                kind=GuardKind.PROTECTED,
                message="protected (protect: true is recorded in state and stays until "
                "the file sets protect: false)",
                blocking=True,
                override=override,
                overridden=str(key) in options.allow_protected_delete,
            ),
        )
    return Change(
        action=Action.DELETE,
        region=key.region,
        instance_id=key.instance_id,
        group_id=key.group_id,
        reason=reason,
        topic=recorded.topic if recorded else None,
        protect=protected,
        guards=guards,
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
                f"--target {target.instance_id}/{target.group_id}: no such GID in the file, "
                "the state or the cloud"
            )


# --- naming -----------------------------------------------------------------------------------


def _effective_naming(
    inventories: Mapping[InstanceRef, InstanceInventory], naming: Mapping[InstanceRef, bool]
) -> dict[InstanceRef, bool]:
    found: dict[InstanceRef, bool] = dict(naming)
    for ref, inventory in inventories.items():
        listed = inventory.independent_naming()
        if listed is not None:
            found[ref] = listed
    return found


def _check_naming_mismatch(instance: DesiredInstance, cloud: bool | None, acc: _Acc) -> None:
    declared = instance.independent_naming
    if declared is None or cloud is None or declared == cloud:
        return
    acc.guards.append(
        Guard(
            kind=GuardKind.NAMING_MISMATCH,
            subject=instance.instance_id,
            blocking=True,
            message=(
                f"instance {instance.instance_id} declares independent_naming: "
                f"{str(declared).lower()} but the cloud says {str(cloud).lower()}; fix the file"
            ),
        )
    )


def _flag_naming_conflicts(
    changes: list[Change],
    inventories: Mapping[InstanceRef, InstanceInventory],
    namings: Mapping[InstanceRef, bool],
) -> list[Change]:
    """Creates in shared-namespace instances whose name another such instance uses or creates."""
    shared = {ref for ref, independent in namings.items() if not independent}
    if not shared:
        return changes
    owners: dict[str, set[str]] = defaultdict(set)
    for ref in shared:
        inventory = inventories.get(ref)
        if inventory is not None:
            for group_id in inventory.group_ids():
                owners[group_id].add(ref[1])
    creators: dict[str, set[str]] = defaultdict(set)
    for change in changes:
        if change.action is Action.CREATE and (change.region, change.instance_id) in shared:
            creators[change.group_id].add(change.instance_id)

    flagged: list[Change] = []
    for change in changes:
        if change.action is not Action.CREATE or (change.region, change.instance_id) not in shared:
            flagged.append(change)
            continue
        others = sorted(owners[change.group_id] - {change.instance_id})
        also_creating = sorted(creators[change.group_id] - {change.instance_id})
        message = None
        if others:
            message = (
                f"{change.group_id} already exists in instance {', '.join(others)}; instances "
                "without an independent namespace share GID names across the account"
            )
        elif also_creating:
            message = (
                f"{change.group_id} is also declared for instance {', '.join(also_creating)}; "
                "instances without an independent namespace share GID names across the account"
            )
        if message is None:
            flagged.append(change)
            continue
        guard = Guard(kind=GuardKind.NAMING_CONFLICT, message=message, blocking=True)
        flagged.append(change.model_copy(update={"guards": (*change.guards, guard)}))
    return flagged


# --- probable renames ------------------------------------------------------------------------


def _normalised(group_id: str) -> str:
    return group_id.lower().replace("-", "").replace("_", "")


def _flag_probable_renames(changes: list[Change]) -> list[Change]:
    deletes: dict[InstanceRef, list[Change]] = defaultdict(list)
    creates: dict[InstanceRef, list[Change]] = defaultdict(list)
    for change in changes:
        ref = (change.region, change.instance_id)
        if change.action is Action.DELETE:
            deletes[ref].append(change)
        elif change.action is Action.CREATE:
            creates[ref].append(change)

    partner: dict[ResourceKey, str] = {}
    for ref, deleted in deletes.items():
        created = creates.get(ref)
        if not created:
            continue
        exhaustive = len(deleted) * len(created) <= RENAME_PAIR_LIMIT
        by_norm: dict[str, list[str]] = defaultdict(list)
        for create in created:
            by_norm[_normalised(create.group_id)].append(create.group_id)
        for delete in deleted:
            match = _best_match(delete.group_id, created, by_norm, exhaustive=exhaustive)
            if match is not None:
                partner[delete.key] = f"{delete.group_id} -> {match}"
                partner[ResourceKey(region=ref[0], instance_id=ref[1], group_id=match)] = (
                    f"{delete.group_id} -> {match}"
                )
    if not partner:
        return changes

    flagged: list[Change] = []
    for change in changes:
        pair = partner.get(change.key) if change.action in (Action.CREATE, Action.DELETE) else None
        if pair is None:
            flagged.append(change)
            continue
        guard = Guard(
            kind=GuardKind.PROBABLE_RENAME,
            message=(
                f"probable rename {pair}: GIDs cannot be renamed; clients still using the old "
                "name fail authentication on their next reconnect"
            ),
        )
        flagged.append(change.model_copy(update={"guards": (*change.guards, guard)}))
    return flagged


def _best_match(
    name: str, created: list[Change], by_norm: Mapping[str, list[str]], *, exhaustive: bool
) -> str | None:
    same = by_norm.get(_normalised(name))
    if same:
        return same[0]
    if not exhaustive:
        return None
    matcher = difflib.SequenceMatcher(None, b=name, autojunk=False)
    best: tuple[float, str] | None = None
    for create in created:
        matcher.set_seq1(create.group_id)
        if matcher.real_quick_ratio() < RENAME_RATIO or matcher.quick_ratio() < RENAME_RATIO:
            continue
        ratio = matcher.ratio()
        if ratio >= RENAME_RATIO and (best is None or ratio > best[0]):
            best = (ratio, create.group_id)
    return best[1] if best else None


# --- circuit breaker and online clients -----------------------------------------------------


def _refuses(guards: Iterable[Guard]) -> bool:
    return any(guard.refuses for guard in guards)


def _circuit_breaker(
    changes: list[Change],
    inventories: Mapping[InstanceRef, InstanceInventory],
    desired: DesiredState,
    options: PlanOptions,
) -> tuple[list[Change], list[Guard]]:
    safety = desired.safety
    per_instance: dict[InstanceRef, int] = defaultdict(int)
    for change in changes:
        if change.action is Action.DELETE:
            per_instance[(change.region, change.instance_id)] += 1
    total = sum(per_instance.values())
    reasons: list[str] = []
    if total > safety.max_deletes:
        reasons.append(f"{total} deletes exceed safety.max_deletes ({safety.max_deletes})")
    for ref, count in sorted(per_instance.items()):
        inventory = inventories.get(ref)
        size = len(inventory.groups) if inventory is not None else 0
        if size >= safety.share_min_groups and count / size > safety.max_delete_share:
            reasons.append(
                f"{count} of the {size} GIDs of {ref[1]} ({count / size:.0%}) exceed "
                f"safety.max_delete_share ({safety.max_delete_share:.0%})"
            )
    if not reasons:
        return changes, []
    guard = Guard(
        kind=GuardKind.MASS_DELETE,
        message="delete circuit breaker: " + "; ".join(reasons),
        blocking=True,
        override="--allow-mass-delete",
        overridden=options.allow_mass_delete,
    )
    return changes, [guard]


def _online_guards_without_lookup(
    changes: list[Change], options: PlanOptions, *, breaker_refuses: bool
) -> list[Change]:
    if options.skip_online_check:
        message = "online clients not checked (--skip-online-check)"
    elif breaker_refuses:
        message = "online clients not checked: the delete circuit breaker refused the plan first"
    else:
        return changes
    guard = Guard(kind=GuardKind.ONLINE_CHECK_SKIPPED, message=message)
    return [
        c.model_copy(update={"guards": (*c.guards, guard)}) if c.action is Action.DELETE else c
        for c in changes
    ]


def online_check_keys(plan: Plan, options: PlanOptions) -> list[ResourceKey]:
    """Deletes whose online clients must be looked up before the plan is complete.

    None when the check is skipped or the breaker refuses; protected deletes that stay
    refused are not looked up either (the rate-limited calls would be wasted).
    """
    if options.skip_online_check or any(
        g.kind is GuardKind.MASS_DELETE and g.refuses for g in plan.guards
    ):
        return []
    return [
        change.key
        for change in plan.changes
        if change.action is Action.DELETE
        and not any(g.kind is GuardKind.PROTECTED and g.refuses for g in change.guards)
    ]


def with_online_counts(plan: Plan, counts: Mapping[ResourceKey, int], options: PlanOptions) -> Plan:
    """Attach looked-up online-client counts to the deletes; > 0 refuses unless overridden."""
    if not counts:
        return plan
    changes: list[Change] = []
    for change in plan.changes:
        count = counts.get(change.key) if change.action is Action.DELETE else None
        if count is None:
            changes.append(change)
            continue
        guards = change.guards
        if count > 0:
            guards = (
                *guards,
                Guard(
                    kind=GuardKind.ONLINE_CLIENTS,
                    message=f"{count} client(s) online; deleting the GID cuts them off on "
                    "their next reconnect",
                    blocking=True,
                    override="--allow-online-delete",
                    overridden=options.allow_online_delete,
                ),
            )
        changes.append(change.model_copy(update={"online_clients": count, "guards": guards}))
    return plan.model_copy(update={"changes": tuple(changes)})
