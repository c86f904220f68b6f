"""The guards a plan carries: naming checks, probable renames, the delete circuit breaker, the
online-client check, and what a kind declares (listings it could not make, changes that cut
off what a resource grants). Pure functions over changes; each guard says why, and how to
override it when it can be overridden.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence

from reconciler.cloud.capabilities import online_check
from reconciler.models import (
    KINDS,
    Api,
    DesiredInstance,
    DesiredState,
    InstanceInventory,
    ResourceKey,
    ResourceKindName,
)
from reconciler.plan.model import Action, Change, Guard, GuardKind, Plan
from reconciler.plan.options import InstanceRef, PlanOptions

RENAME_RATIO = 0.8
# Beyond this many delete x create pairs in one instance, only normalised-equal names are
# compared: difflib over a mass change would cost more than the whole refresh.
RENAME_PAIR_LIMIT = 250_000


# --- naming -----------------------------------------------------------------------------------


def effective_naming(
    inventories: Mapping[InstanceRef, InstanceInventory], naming: Mapping[InstanceRef, bool]
) -> dict[InstanceRef, bool]:
    found: dict[InstanceRef, bool] = dict(naming)
    for ref, inventory in inventories.items():
        listed = inventory.independent_naming()
        if listed is not None:
            found[ref] = listed
    return found


def naming_mismatch(instance: DesiredInstance, cloud: bool | None) -> Guard | None:
    """A refusing guard when the declared independent_naming disagrees with the cloud."""
    declared = instance.independent_naming
    if declared is None or cloud is None or declared == cloud:
        return None
    return Guard(
        kind=GuardKind.NAMING_MISMATCH,
        subject=instance.instance_id,
        blocking=True,
        message=(
            f"instance {instance.instance_id} declares independent_naming: "
            f"{str(declared).lower()} but the cloud says {str(cloud).lower()}; fix the file"
        ),
    )


def unverified_naming(
    refs: Iterable[InstanceRef],
    declared: Mapping[InstanceRef, DesiredInstance],
    namings: Mapping[InstanceRef, bool],
) -> dict[InstanceRef, bool | None]:
    """Declared instances whose naming no listing told (they have no GIDs, and an empty
    instance is in no listing): ref -> the declared independent_naming (None: not declared)."""
    return {
        ref: declared[ref].independent_naming
        for ref in refs
        if ref in declared and ref not in namings
    }


def unverified_naming_notes(
    unverified: Mapping[InstanceRef, bool | None], changes: list[Change]
) -> list[Guard]:
    """A note per such instance that has creates planned of a kind whose names may be shared
    across instances (the only changes naming affects)."""
    creating = {(c.region, c.instance_id) for c in changes if _names_shared(c)}
    notes: list[Guard] = []
    for ref in sorted(unverified.keys() & creating):
        declared = unverified[ref]
        how = (
            f"planned as declared (independent_naming: {str(declared).lower()})"
            if declared is not None
            else "its creates were checked against the shared namespace of the region"
        )
        notes.append(
            Guard(
                kind=GuardKind.NAMING_UNVERIFIED,
                subject=ref[1],
                message=(
                    f"independent_naming of {ref[1]} cannot be verified: the instance has no "
                    f"GIDs; {how}"
                ),
            )
        )
    return notes


def flag_naming_conflicts(
    changes: list[Change],
    inventories: Mapping[InstanceRef, InstanceInventory],
    namings: Mapping[InstanceRef, bool],
    *,
    unknown: Collection[InstanceRef] = (),
) -> list[Change]:
    """Creates in shared-namespace instances whose name another such instance uses or creates.

    ``unknown``: instances whose naming can be told neither by the cloud nor by the file;
    their creates are checked against the names the shared-namespace instances hold, since
    they may be one of them (an empty shared instance is in no listing).
    """
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
        if _names_shared(change) and (change.region, change.instance_id) in shared:
            creators[change.group_id].add(change.instance_id)

    flagged: list[Change] = []
    for change in changes:
        ref = (change.region, change.instance_id)
        checked = ref in shared or ref in unknown
        message = _naming_conflict(change, owners, creators, unverified=ref in unknown)
        if not _names_shared(change) or not checked or message is None:
            flagged.append(change)
            continue
        guard = Guard(kind=GuardKind.NAMING_CONFLICT, message=message, blocking=True)
        flagged.append(change.model_copy(update={"guards": (*change.guards, guard)}))
    return flagged


def _names_shared(change: Change) -> bool:
    """A create of a kind whose names an account's instances without independent naming
    share (``ResourceKind.shared_namespace``: GIDs)."""
    return change.action is Action.CREATE and KINDS[change.kind].shared_namespace


def _naming_conflict(
    change: Change,
    owners: Mapping[str, set[str]],
    creators: Mapping[str, set[str]],
    *,
    unverified: bool,
) -> str | None:
    if change.action is not Action.CREATE:
        return None
    others = sorted(owners.get(change.group_id, set()) - {change.instance_id})
    also_creating = sorted(creators.get(change.group_id, set()) - {change.instance_id})
    shared_rule = "instances without an independent namespace share GID names across the account"
    if others:
        message = f"{change.group_id} already exists in instance {', '.join(others)}; "
    elif also_creating:
        message = f"{change.group_id} is also declared for instance {', '.join(also_creating)}; "
    else:
        return None
    if not unverified:
        return message + shared_rule
    return message + (
        f"{shared_rule}, and whether {change.instance_id} is one cannot be verified (it has no "
        "GIDs): declare its independent_naming in the file (true: it has its own namespace)"
    )


# --- what a kind declares: unavailable listings, cut-offs -----------------------------------


def kind_unavailable(instance_id: str, reason: str, nouns: Sequence[str]) -> Guard:
    """One line per instance whose listing could not list some kinds it declares or records."""
    return Guard(
        kind=GuardKind.KIND_UNAVAILABLE,
        message=f"{' and '.join(nouns)} of {instance_id} not planned: {reason}",
        subject=instance_id,
    )


def flag_cut_offs(
    changes: list[Change], inventories: Mapping[InstanceRef, InstanceInventory]
) -> list[Change]:
    """Warn on each update or delete its kind says takes away what the resource grants now
    (``ResourceKind.cuts_off``), judged on the values the listing reports, else recorded."""
    flagged: list[Change] = []
    for change in changes:
        cuts_off = KINDS[change.kind].cuts_off
        if cuts_off is None or change.action not in (Action.UPDATE, Action.DELETE):
            flagged.append(change)
            continue
        kind = KINDS[change.kind]
        inventory = inventories.get((change.region, change.instance_id))
        listed = kind.listed_values(inventory).get(change.group_id) if inventory else None
        current: dict[str, str | None] = {
            name: change.value(name) for name in kind.mutable if change.action is Action.DELETE
        }
        desired: dict[str, str | None] | None = None
        if change.action is Action.UPDATE:
            current = {item.name: item.current for item in change.changed}
            desired = {name: change.value(name) for name in kind.mutable}
            for name in kind.mutable:
                current.setdefault(name, desired[name])
        if listed:
            current.update(listed)
        words = cuts_off(change.group_id, current, desired)
        if words is None:
            flagged.append(change)
            continue
        guard = Guard(kind=GuardKind.CUTS_OFF, message=words)
        flagged.append(change.model_copy(update={"guards": (*change.guards, guard)}))
    return flagged


# --- probable renames ------------------------------------------------------------------------


def _normalised(group_id: str) -> str:
    return group_id.lower().replace("-", "").replace("_", "")


def flag_probable_renames(changes: list[Change]) -> list[Change]:
    """A delete and a create of near-identical names of one kind in one instance."""
    deletes: dict[tuple[str, str, ResourceKindName], list[Change]] = defaultdict(list)
    creates: dict[tuple[str, str, ResourceKindName], list[Change]] = defaultdict(list)
    for change in changes:
        if KINDS[change.kind].rename_breaks is None:
            continue
        ref = (change.region, change.instance_id, change.kind)
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
                created_key = ResourceKey(
                    region=ref[0], instance_id=ref[1], group_id=match, kind=ref[2]
                )
                partner[created_key] = f"{delete.group_id} -> {match}"
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
                f"probable rename {pair}: {KINDS[change.kind].nouns} cannot be renamed; "
                f"{KINDS[change.kind].rename_breaks}"
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
    # Imported here: only a plan deleting and creating in one instance needs it.
    from difflib import SequenceMatcher  # noqa: PLC0415

    matcher = SequenceMatcher(None, b=name, autojunk=False)
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


def circuit_breaker(
    changes: list[Change],
    inventories: Mapping[InstanceRef, InstanceInventory],
    desired: DesiredState,
    options: PlanOptions,
) -> tuple[list[Change], list[Guard]]:
    """Refuses more deletes of one kind than ``safety.max_deletes``, or a larger share of an
    instance's resources of one kind than ``safety.max_delete_share``."""
    safety = desired.safety
    per_kind: dict[str, dict[InstanceRef, int]] = defaultdict(lambda: defaultdict(int))
    for change in changes:
        if change.action is Action.DELETE:
            per_kind[change.kind][(change.region, change.instance_id)] += 1
    # A kind is named in the reasons only when more than one kind deletes.
    named_kinds = len(per_kind) > 1
    reasons: list[str] = []
    for name, per_instance in sorted(per_kind.items()):
        kind = KINDS[name]
        total = sum(per_instance.values())
        what = f"{kind.noun} deletes" if named_kinds else "deletes"
        if total > safety.max_deletes:
            reasons.append(f"{total} {what} exceed safety.max_deletes ({safety.max_deletes})")
        for ref, count in sorted(per_instance.items()):
            inventory = inventories.get(ref)
            size = len(kind.listed(inventory)) if inventory is not None else 0
            if size >= safety.share_min_groups and count / size > safety.max_delete_share:
                reasons.append(
                    f"{count} of the {size} {kind.nouns} of {ref[1]} ({count / size:.0%}) "
                    f"exceed safety.max_delete_share ({safety.max_delete_share:.0%})"
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


def empty_desired_guard(
    changes: Sequence[Change], desired: DesiredState, options: PlanOptions
) -> Guard | None:
    """A desired state that declares no instance at all (an export of the wrong region, a
    file emptied by mistake) yet deletes managed GIDs is refused unless ``--allow-empty``."""
    if desired.instances:
        return None
    deleted = [change for change in changes if change.action is Action.DELETE]
    if not deleted:
        return None
    nouns = " and ".join(sorted({f"{KINDS[change.kind].noun}(s)" for change in deleted}))
    return Guard(
        kind=GuardKind.EMPTY_DESIRED,
        message=(
            f"the desired state declares no instance, yet deletes {len(deleted)} managed {nouns}"
        ),
        blocking=True,
        override="--allow-empty",
        overridden=options.allow_empty,
    )


def online_check_notes(api: Api, clients: Sequence[str]) -> tuple[Guard, ...]:
    """What a delete says about its online check when its API cannot count a GID's clients
    (``online_check``): only the known client ids (``clients:``) can be asked about."""
    note = online_check(api).note(clients)
    if note is None:
        return ()
    return (Guard(kind=GuardKind.ONLINE_CHECK_UNAVAILABLE, message=note),)


def online_guards_without_lookup(
    changes: list[Change], options: PlanOptions, *, refused_by: Guard | None
) -> list[Change]:
    """Each delete noted when its online clients will not be looked up: skipped on purpose,
    or ``refused_by`` (the circuit breaker, an empty desired state) refused the plan first."""
    if options.skip_online_check:
        message = "online clients not checked (--skip-online-check)"
    elif refused_by is not None:
        what = (
            "the delete circuit breaker"
            if refused_by.kind is GuardKind.MASS_DELETE
            else "the empty desired state"
        )
        message = f"online clients not checked: {what} refused the plan first"
    else:
        return changes
    guard = Guard(kind=GuardKind.ONLINE_CHECK_SKIPPED, message=message)
    return [
        c.model_copy(update={"guards": (*c.guards, guard)}) if _asks_online(c) else c
        for c in changes
    ]


def _asks_online(change: Change) -> bool:
    """A delete of a kind whose online clients are asked about first (GIDs)."""
    return change.action is Action.DELETE and KINDS[change.kind].online_clients


def online_check_keys(plan: Plan, options: PlanOptions) -> list[ResourceKey]:
    """Deletes whose online clients must be looked up before the plan is complete.

    None when the check is skipped or the breaker refuses; protected deletes that stay
    refused are not looked up either (the rate-limited calls would be wasted), nor deletes
    whose API cannot count a GID's clients and that have no known client ids (nothing to ask).
    """
    return [change.key for change in online_check_changes(plan, options)]


def online_check_changes(plan: Plan, options: PlanOptions) -> list[Change]:
    """The deletes ``online_check_keys`` names, with what their look-up needs (the API, the
    known client ids)."""
    # A refused mass delete or empty desired state spends no look-up.
    if options.skip_online_check or any(
        g.kind in (GuardKind.MASS_DELETE, GuardKind.EMPTY_DESIRED) and g.refuses
        for g in plan.guards
    ):
        return []
    return [
        change
        for change in plan.changes
        if _asks_online(change)
        and online_check(change.api).asks(change.clients)
        and not any(g.kind is GuardKind.PROTECTED and g.refuses for g in change.guards)
    ]


def recheck_changes(plan: Plan) -> list[Change]:
    """The deletes whose online clients apply looks up again just before deleting: those the
    plan's own check would look up, unless the plan was made with ``--allow-online-delete``
    (recorded on the plan, or as an overridden guard) or ``--skip-online-check`` (noted on
    each delete). Nothing else is asked: the look-ups may be paced (30 a minute on ons)."""
    if plan.allow_online_delete:
        return []
    return [
        change
        for change in online_check_changes(plan, PlanOptions())
        if not any(
            g.kind is GuardKind.ONLINE_CHECK_SKIPPED
            or (g.kind is GuardKind.ONLINE_CLIENTS and g.overridden)
            for g in change.guards
        )
    ]


def with_online_counts(
    plan: Plan,
    counts: Mapping[ResourceKey, int],
    options: PlanOptions,
    online_ids: Mapping[ResourceKey, Sequence[str]] | None = None,
) -> Plan:
    """Attach looked-up online-client counts to the deletes; > 0 refuses unless overridden.
    ``online_ids`` names the online clients where the look-up told them."""
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
            named = (online_ids or {}).get(change.key)
            which = f" ({', '.join(named)})" if named else ""
            guards = (
                *guards,
                Guard(
                    kind=GuardKind.ONLINE_CLIENTS,
                    message=f"{count} client(s) online{which}; deleting the GID cuts them off "
                    "on their next reconnect",
                    blocking=True,
                    override="--allow-online-delete",
                    overridden=options.allow_online_delete,
                ),
            )
        changes.append(change.model_copy(update={"online_clients": count, "guards": guards}))
    return plan.model_copy(update={"changes": tuple(changes)})
