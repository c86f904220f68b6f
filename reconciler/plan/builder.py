"""Building a plan: refresh the inventory, run the pure diff, look up online clients.

I/O lives here and only here in the plan layer: one listing per planned instance (in
parallel, bounded; its GIDs, then the other kinds' listings ``plan.listings`` says its plan
needs), one account-wide listing per region that has a shared-namespace instance
(to find names used by instances we do not manage), and one online look-up per delete once the
circuit breaker let the plan through (``online_clients``: a count on an API that counts a GID's
clients, paced as its ``online_check`` says; the GID's known client ids on one that cannot).

Each instance is talked to through its own API (``DesiredInstance.api``, or for an instance
only in the state the API its resources were recorded with): ``ClientFor(region, api)`` gives
a client with the capabilities of ``reconciler.cloud.capabilities``; which one is never asked.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from operator import attrgetter

from reconciler import __version__
from reconciler.cloud.capabilities import GroupCapabilities, online_check
from reconciler.cloud.responses import GroupIdRecord
from reconciler.errors import (
    CloudApiError,
    NotFoundError,
    ParameterError,
    UnknownInstanceError,
)
from reconciler.models import (
    APIS,
    DEFAULT_API,
    Api,
    CloudGroup,
    DesiredState,
    InstanceInventory,
    ResourceKey,
    StateDocument,
    construct_trusted,
)
from reconciler.plan.diff import (
    InstanceRef,
    PlanMeta,
    PlanOptions,
    Prepared,
    diff_plan,
    inventory_label,
    prepare,
    with_online_counts,
)
from reconciler.plan.guards import online_check_changes
from reconciler.plan.listings import KindListing, ListingsFor, every_listing, needed_listings
from reconciler.plan.model import Change, ChangeSource, Guard, GuardKind, Plan
from reconciler.plan.options import DEFAULT_PARALLELISM

_SOURCE_FIELDS = {"file", "line"}  # shared by every ChangeSource built here; never mutated


# The client of a region for an API.
ClientFor = Callable[[str, Api], GroupCapabilities]
# (instance_id, group_id) -> (file, line) of the keys that are declared.
LocateDeclarations = Callable[
    [Collection[tuple[str, str]]], Mapping[tuple[str, str], tuple[str, int]]
]
Progress = Callable[[str], None]
StateReader = Callable[[], StateDocument | None]


@dataclass(frozen=True)
class Refreshed:
    """What the cloud lists: every planned instance, plus instances only seen in listings of a
    shared namespace; ``naming`` holds IndependentNaming where a listing told it."""

    inventories: dict[InstanceRef, InstanceInventory]
    naming: dict[InstanceRef, bool]
    notes: tuple[Guard, ...] = ()

    def by_label(self) -> dict[str, InstanceInventory]:
        return {inventory_label(*ref): inv for ref, inv in self.inventories.items()}


@dataclass(frozen=True)
class BuiltPlan:
    plan: Plan
    refreshed: Refreshed


# An instance's own inventory, and the GIDs its listing showed of other instances.
_Listing = tuple[InstanceInventory, dict[InstanceRef, list[CloudGroup]]]


def split_listing(region: str, instance_id: str, records: Iterable[GroupIdRecord]) -> _Listing:
    """The instance's own GIDs, and those of other instances a shared-namespace listing may
    include (the service lists across such instances): never count those as ours. The rows are
    the inventory's groups as they are, but for a row naming no instance, which is the
    listed one's."""
    own: list[CloudGroup] = []
    others: dict[InstanceRef, list[CloudGroup]] = defaultdict(list)
    for record in records:
        if record.instance_id == instance_id:
            own.append(record)
        elif not record.instance_id:
            own.append(record.model_copy(update={"instance_id": instance_id}))
        else:
            others[(region, record.instance_id)].append(record)
    inventory = InstanceInventory.model_construct(
        region=region, instance_id=instance_id, groups=tuple(own)
    )
    return inventory, others


def refresh(
    client_for: ClientFor,
    declared: Iterable[InstanceRef],
    state_only: Iterable[InstanceRef] = (),
    *,
    apis: Mapping[InstanceRef, Api] | None = None,
    listings: ListingsFor = every_listing,
    parallelism: int = DEFAULT_PARALLELISM,
) -> Refreshed:
    """List each instance once, in parallel, through its API (``apis``; default ons): its
    GIDs, then the kind listings ``listings`` gives for it (default: all). A declared instance
    the cloud does not know is an error; one only in the state lists as empty (its GIDs get
    forgotten)."""
    api_of = apis or {}
    declared_refs = sorted(set(declared))
    state_refs = sorted(set(state_only) - set(declared_refs))
    refs = declared_refs + state_refs
    strict = set(declared_refs)

    def one(ref: InstanceRef) -> _Listing | NotFoundError:
        region, instance_id = ref
        client = client_for(region, api_of.get(ref, DEFAULT_API))
        try:
            records = client.list_group_ids(instance_id)
        except NotFoundError as err:
            if ref in strict:
                return err  # every unknown instance is named at once, below
            return split_listing(region, instance_id, [])
        inventory, others = split_listing(region, instance_id, records)
        # Every other kind's listing the plan needs joins the instance's inventory.
        for listing in listings(ref):
            inventory = listing(client, inventory)
        return inventory, others

    inventories: dict[InstanceRef, InstanceInventory] = {}
    naming: dict[InstanceRef, bool] = {}
    seen_elsewhere: dict[InstanceRef, list[CloudGroup]] = defaultdict(list)
    unknown: list[tuple[InstanceRef, NotFoundError]] = []
    if refs:
        with ThreadPoolExecutor(max_workers=max(1, min(parallelism, len(refs)))) as pool:
            for ref, listing in zip(refs, pool.map(one, refs), strict=True):
                if isinstance(listing, NotFoundError):
                    unknown.append((ref, listing))
                    continue
                inventory, others = listing
                inventories[ref] = inventory
                if others:
                    # Only a shared-namespace listing names other instances.
                    naming[ref] = False
                for other, groups in others.items():
                    seen_elsewhere[other].extend(groups)
    if unknown:
        raise _unknown_instances(unknown)
    _add_foreign(inventories, seen_elsewhere)
    return Refreshed(inventories=inventories, naming=naming)


def add_listings(
    client_for: ClientFor,
    refreshed: Refreshed,
    missing: Mapping[InstanceRef, Sequence[KindListing]],
    *,
    apis: Mapping[InstanceRef, Api],
    parallelism: int = DEFAULT_PARALLELISM,
) -> Refreshed:
    """``refreshed`` with the kind listings ``missing`` names run on those instances'
    inventories (listings the state turned out to need after their GIDs were listed)."""
    todo = {ref: listings for ref, listings in missing.items() if listings}
    if not todo:
        return refreshed

    def one(ref: InstanceRef) -> InstanceInventory:
        client = client_for(ref[0], apis.get(ref, DEFAULT_API))
        inventory = refreshed.inventories[ref]
        for listing in todo[ref]:
            inventory = listing(client, inventory)
        return inventory

    with ThreadPoolExecutor(max_workers=max(1, min(parallelism, len(todo)))) as pool:
        listed = dict(zip(todo, pool.map(one, todo), strict=True))
    return replace(refreshed, inventories={**refreshed.inventories, **listed})


def _unknown_instances(
    unknown: Sequence[tuple[InstanceRef, NotFoundError]],
) -> UnknownInstanceError:
    """One error naming every declared instance the cloud does not know."""
    if len(unknown) == 1:
        (((region, instance_id), err),) = unknown
        return UnknownInstanceError(
            f"instance {instance_id} ({region}) is declared but the cloud does not know it: "
            f"{err.code}"
        )
    named = ", ".join(f"{iid} ({region}): {err.code}" for (region, iid), err in unknown)
    return UnknownInstanceError(
        f"{len(unknown)} declared instances are unknown to the cloud (fix their id or region "
        f"in the file): {named}"
    )


def _add_foreign(
    inventories: dict[InstanceRef, InstanceInventory],
    seen: Mapping[InstanceRef, Iterable[CloudGroup]],
) -> None:
    for ref, groups in seen.items():
        if ref in inventories:
            continue  # listed on its own: that listing is the truth
        unique = {g.group_id: g for g in groups}
        inventories[ref] = InstanceInventory(
            region=ref[0], instance_id=ref[1], groups=tuple(unique.values())
        )


def add_shared_namespace(
    client_for: ClientFor,
    refreshed: Refreshed,
    regions: Iterable[str] | Mapping[str, Api],
) -> Refreshed:
    """One account-wide listing per region (no InstanceId): the GIDs of every shared-namespace
    instance, including those the file does not declare. An instance it names is one of them
    (``naming`` False), so its naming is known even when its own listing was empty.

    ``regions`` may map a region to the API to list it through: both generations see the
    account's one namespace, so either listing finds every name (default ons)."""
    inventories = dict(refreshed.inventories)
    naming = dict(refreshed.naming)
    notes = list(refreshed.notes)
    region_apis: Mapping[str, Api] = (
        regions if isinstance(regions, Mapping) else dict.fromkeys(regions, DEFAULT_API)
    )
    for region in sorted(region_apis):
        try:
            records = client_for(region, region_apis[region]).list_group_ids(None)
        except ParameterError as err:
            if err.code.startswith("MissingParameter"):
                # InstanceId is optional only for shared-namespace instances: the service
                # asks for it when the region has none to list, so no name is taken there.
                continue
            notes.append(_unlisted_note(region, err))
            continue
        except CloudApiError as err:
            notes.append(_unlisted_note(region, err))
            continue
        found: dict[InstanceRef, list[CloudGroup]] = defaultdict(list)
        for record in records:
            if not record.independent_naming:
                found[(region, record.instance_id)].append(record)
        naming.update(dict.fromkeys(found, False))
        _add_foreign(inventories, found)
    return Refreshed(inventories=inventories, naming=naming, notes=tuple(notes))


def _unlisted_note(region: str, err: CloudApiError) -> Guard:
    return Guard(
        kind=GuardKind.NAMING_CONFLICT,
        message=(
            f"could not list the shared namespace of {region} ({err.code}); "
            "names were checked against the declared instances only"
        ),
    )


@dataclass(frozen=True)
class OnlineLookup:
    """Online clients per GID looked up; ``online_ids`` names them where the API told which
    (one that asks about known client ids)."""

    counts: dict[ResourceKey, int]
    online_ids: dict[ResourceKey, list[str]]


# The online clients of the deletes that need a look-up (``online_check_changes``).
OnlineCounts = Callable[[Sequence[Change]], OnlineLookup]


def lookup_online(
    client_for: ClientFor, deletes: Sequence[Change], *, parallelism: int = DEFAULT_PARALLELISM
) -> OnlineLookup:
    """Online clients per delete, through its instance's API (a GID deleted since the listing
    has none); a delete whose clients cannot be counted there gets no count."""

    def one(change: Change) -> tuple[int | None, tuple[str, ...]]:
        client = client_for(change.region, change.api)
        found = client.online_clients(
            change.group_id, instance_id=change.instance_id, known_ids=change.clients
        )
        return found.count, found.ids

    if not deletes:
        return OnlineLookup({}, {})
    with ThreadPoolExecutor(max_workers=max(1, min(parallelism, len(deletes)))) as pool:
        answers = list(zip(deletes, pool.map(one, deletes), strict=True))
    return OnlineLookup(
        counts={change.key: count for change, (count, _) in answers if count is not None},
        online_ids={change.key: list(ids) for change, (_, ids) in answers if ids},
    )


def lookup_pacing(deletes: Iterable[Change]) -> str:
    """`` (30 look-ups a minute)`` when the deletes' look-ups are paced, for progress lines."""
    paces = sorted({pace for change in deletes if (pace := online_check(change.api).pacing())})
    return f" ({', '.join(paces)})" if paces else ""


_instance_api = attrgetter("region", "instance_id", "api")


def instance_apis(desired: DesiredState, state: StateDocument | None) -> dict[InstanceRef, Api]:
    """The API of every declared instance (the file's word) and of every instance only in the
    state (the newest generation its resources were written with: an account that moved on
    may have lost the old API)."""
    apis: dict[InstanceRef, Api] = {}
    if state is not None:
        # Each instance's few distinct APIs, gathered in C: a Python step per resource of a
        # 100,000-resource state cost a plan a twentieth of a second, twice.
        for region, instance_id, api in set(map(_instance_api, state.resources)):
            ref = (region, instance_id)
            apis[ref] = max(apis.get(ref, api), api, key=APIS.index)
    apis.update({(i.region, i.instance_id): i.api for i in desired.instances})
    return apis


def build_plan(
    desired: DesiredState,
    state: StateDocument | StateReader | None,
    client_for: ClientFor,
    options: PlanOptions,
    meta: PlanMeta,
    *,
    parallelism: int = DEFAULT_PARALLELISM,
    progress: Progress | None = None,
    locate: LocateDeclarations | None = None,
) -> BuiltPlan:
    """Refresh, diff, and (unless skipped or the breaker refuses) check online clients.

    ``locate`` says where GIDs are declared (``FILE``, line): each change gets its source.

    ``state`` may be a reader: the declared instances are then listed while it reads (the
    listing mostly waits on the network, reading a large state is CPU), and the instances
    found only in the state are listed after.
    """
    say = progress or (lambda _message: None)
    targets = options.targets
    declared = {(inst.region, inst.instance_id) for inst in desired.instances}
    early = sorted(
        ref for ref in declared if not targets or any(t.covers_instance(ref[1]) for t in targets)
    )
    say(f"Refreshing {len(early)} instance(s)...")
    declared_apis = instance_apis(desired, None)
    # While the state is read, only the file and the targets say which kind listings an
    # instance needs; those the state adds run once it is read.
    by_file = needed_listings(desired, None, targets)
    with ThreadPoolExecutor(max_workers=1) as background:
        listing = background.submit(
            refresh,
            client_for,
            early,
            apis=declared_apis,
            listings=by_file,
            parallelism=parallelism,
        )
        try:
            current = state() if callable(state) else state
            # What the file and the state alone give the rest, made while the listings are
            # in flight (the main thread would only wait for them).
            prepared = prepare(desired, current, targets, recorded=meta.recorded)
            needed = needed_listings(desired, current, targets)
            apis = instance_apis(desired, current)
        finally:
            refreshed = listing.result()
    refs = prepared.refs
    listed = set(early)
    refreshed = add_listings(
        client_for,
        refreshed,
        {ref: [run for run in needed(ref) if run not in by_file(ref)] for ref in early},
        apis=apis,
        parallelism=parallelism,
    )
    late = [ref for ref in refs if ref not in listed]
    if late:
        more = refresh(client_for, [], late, apis=apis, listings=needed, parallelism=parallelism)
        inventories = dict(refreshed.inventories)
        for ref, inventory in more.inventories.items():
            # A direct listing beats what a shared-namespace listing showed of an instance.
            if ref in late or ref not in inventories:
                inventories[ref] = inventory
        refreshed = Refreshed(inventories=inventories, naming={**refreshed.naming, **more.naming})

    def look_up(deletes: Sequence[Change]) -> OnlineLookup:
        paced = lookup_pacing(deletes)
        say(f"Checking online clients of {len(deletes)} GID(s) to delete{paced}...")
        return lookup_online(client_for, deletes, parallelism=parallelism)

    return plan_from_listings(
        desired,
        current,
        refreshed,
        client_for,
        options=options,
        meta=meta,
        online=look_up,
        locate=locate,
        prepared=prepared,
    )


def plan_from_listings(
    desired: DesiredState,
    state: StateDocument | None,
    refreshed: Refreshed,
    client_for: ClientFor,
    *,
    options: PlanOptions,
    meta: PlanMeta,
    online: OnlineCounts,
    locate: LocateDeclarations | None = None,
    prepared: Prepared | None = None,
) -> BuiltPlan:
    """The plan once every planned instance is listed (``refreshed``): the shared namespaces'
    listings, the diff, the online counts ``online`` gives for the deletes that need them
    (a look-up, or what a saved plan recorded), and where each change is declared.
    ``prepared``: ``diff.prepare`` of the same inputs, if made already."""
    if prepared is None:
        prepared = prepare(desired, state, options.targets, recorded=meta.recorded)
    refs = prepared.refs
    shared_regions = _shared_regions(desired, refreshed, refs)
    if shared_regions:
        apis = instance_apis(desired, state)
        refreshed = add_shared_namespace(
            client_for, refreshed, _listing_apis(shared_regions, refs, apis)
        )

    plan = diff_plan(
        desired,
        refreshed.inventories,
        state,
        options,
        meta,
        naming=refreshed.naming,
        prepared=prepared,
    )
    if refreshed.notes:
        plan = plan.model_copy(update={"guards": (*plan.guards, *refreshed.notes)})
    deletes = online_check_changes(plan, options)
    if deletes:
        found = online(deletes)
        plan = with_online_counts(plan, found.counts, options, found.online_ids)
    if locate is not None:
        plan = with_sources(plan, locate)
    return BuiltPlan(plan=plan, refreshed=refreshed)


def with_sources(plan: Plan, locate: LocateDeclarations) -> Plan:
    """The plan with each change's declaration (file and line) attached, where it has one."""
    keys = {(change.instance_id, change.group_id) for change in plan.changes}
    keys.update((difference.instance_id, difference.group_id) for difference in plan.not_in_place)
    found = locate(keys) if keys else {}
    if not found:
        return plan
    # Built without validating again (the values are the plan's own and the loader's): a
    # bootstrap plan has 100,000 changes, and model_copy costs about 30 us each.
    files: dict[str, str] = {}
    fields_sets: dict[frozenset[str], set[str]] = {}
    changes = []
    for change in plan.changes:
        place = found.get((change.instance_id, change.group_id))
        if place is None:
            changes.append(change)
            continue
        file = files.setdefault(place[0], place[0])
        source = construct_trusted(ChangeSource, _SOURCE_FIELDS, {"file": file, "line": place[1]})
        named = change.model_fields_set
        fields = fields_sets.get(frozenset(named))
        if fields is None:
            fields = fields_sets[frozenset(named)] = {*named, "source"}
        changes.append(construct_trusted(Change, fields, {**change.__dict__, "source": source}))
    differences = []
    for difference in plan.not_in_place:
        where = found.get((difference.instance_id, difference.group_id))
        declared = None if where is None else ChangeSource(file=where[0], line=where[1])
        differences.append(difference.model_copy(update={"source": declared}))
    return plan.model_copy(update={"changes": tuple(changes), "not_in_place": tuple(differences)})


def _listing_apis(
    regions: Iterable[str], refs: Sequence[InstanceRef], apis: Mapping[InstanceRef, Api]
) -> dict[str, Api]:
    """The API to list each region's shared namespace through: the one every planned instance
    of the region uses (an account that moved on may have lost the other), else the default
    (it lists a shared namespace in one call, where OnsMqtt 2020-04-20 needs one per instance)."""
    chosen: dict[str, Api] = {}
    for region in regions:
        used = {apis.get(ref, DEFAULT_API) for ref in refs if ref[0] == region}
        chosen[region] = used.pop() if len(used) == 1 else DEFAULT_API
    return chosen


def make_plan(
    desired: DesiredState,
    state: StateDocument | StateReader | None,
    client_for: ClientFor,
    options: PlanOptions,
    *,
    workspace: str,
    desired_source: str | None,
    desired_inputs: Sequence[str] = (),
    state_backend: str | None = None,
    parallelism: int = DEFAULT_PARALLELISM,
    progress: Progress | None = None,
    locate: LocateDeclarations | None = None,
    recorded: bool = True,
) -> BuiltPlan:
    """``build_plan`` stamped with this tool's version and the current time; ``recorded``
    as ``PlanMeta.recorded``."""
    meta = PlanMeta(
        tool_version=__version__,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        workspace=workspace,
        desired_source=desired_source,
        desired_inputs=tuple(desired_inputs),
        state_backend=state_backend,
        recorded=recorded,
    )
    return build_plan(
        desired,
        state,
        client_for,
        options,
        meta,
        parallelism=parallelism,
        progress=progress,
        locate=locate,
    )


def _shared_regions(
    desired: DesiredState, refreshed: Refreshed, refs: Sequence[InstanceRef]
) -> set[str]:
    """Regions to list the shared namespace of: those of planned instances that share it, by
    the cloud's word or else the file's, and of declared instances whose naming nothing tells
    (no GIDs, none declared): they might share it too."""
    declared = {(i.region, i.instance_id): i for i in desired.instances}
    regions: set[str] = set()
    for ref in refs:
        inventory = refreshed.inventories.get(ref)
        listed = inventory.independent_naming() if inventory is not None else None
        naming = listed if listed is not None else refreshed.naming.get(ref)
        instance = declared.get(ref)
        if naming is None and instance is not None:
            naming = instance.independent_naming
            if naming is None:
                regions.add(ref[0])
        if naming is False:
            regions.add(ref[0])
    return regions
