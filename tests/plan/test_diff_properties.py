"""Property tests of the pure planner against the semantics table and safety rules
(see ARCHITECTURE.md, semantics table).

Small random worlds (1-3 declared instances, GIDs from a pool of four names so the desired
file, the cloud and the state collide often) are planned with ``diff_plan`` plus the online
look-up step the builder runs (``online_check_keys`` / ``with_online_counts``), and checked
against an oracle written straight from the table, then applied the way the executor applies
a plan and planned again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.errors import PlanError
from reconciler.models import (
    CloudGroup,
    DesiredGroup,
    DesiredInstance,
    DesiredState,
    InstanceInventory,
    ResourceKey,
    SafetyConfig,
    StateDocument,
    StateResource,
)
from reconciler.plan.diff import (
    InstanceRef,
    PlanOptions,
    Target,
    diff_plan,
    online_check_keys,
    with_online_counts,
)
from reconciler.plan.model import Action, Change, GuardKind, Plan
from reconciler.plan.options import parse_targets
from tests.fixtures.plan_models import META

REGION = "cn-hangzhou"
INSTANCES = ("post-cn-prop0001", "post-cn-prop0002", "post-cn-prop0003")
REFS: tuple[InstanceRef, ...] = tuple((REGION, iid) for iid in INSTANCES)
# GID_aaa / GID_aab are near-identical on purpose (probable renames).
NAMES = ("GID_aaa", "GID_aab", "GID_bbb", "GID_ccc")
TOPICS = (None, "orders", "events")
LINEAGE = "11111111-2222-3333-4444-555555555555"

PROPERTY_SETTINGS = settings(deadline=None, derandomize=True)

Cloud = dict[InstanceRef, frozenset[str]]
Unmanaged = Literal["unmanaged"]


@dataclass(frozen=True)
class World:
    desired: DesiredState
    cloud: Cloud
    # The cloud's IndependentNaming of each instance (what its listing says).
    independent: Mapping[InstanceRef, bool]
    state: StateDocument
    options: PlanOptions
    # OnsMqttQueryClientByGroupId's answer per GID that exists.
    online: Mapping[ResourceKey, int]


def key_of(ref: InstanceRef, group_id: str) -> ResourceKey:
    return ResourceKey(region=ref[0], instance_id=ref[1], group_id=group_id)


# --- strategies -------------------------------------------------------------------------------


@st.composite
def desired_groups(draw: st.DrawFn) -> tuple[DesiredGroup, ...]:
    # Per name rather than a drawn list: the file, the cloud and the state then overlap often.
    return tuple(
        DesiredGroup(
            group_id=name,
            topic=draw(st.sampled_from(TOPICS)),
            protect=draw(st.booleans()),
            absent=draw(st.booleans()),
        )
        for name in NAMES
        if draw(st.booleans())
    )


def subset_of_names(draw: st.DrawFn) -> list[str]:
    return [name for name in NAMES if draw(st.booleans())]


@st.composite
def worlds(draw: st.DrawFn, *, with_targets: bool = True) -> World:
    declared_ids = draw(st.lists(st.sampled_from(INSTANCES), min_size=1, max_size=3, unique=True))
    instances = tuple(
        DesiredInstance(
            instance_id=iid,
            region=REGION,
            ownership=draw(st.sampled_from(("managed", "exclusive"))),
            independent_naming=draw(st.sampled_from((None, None, True, False))),
            groups=draw(desired_groups()),
        )
        for iid in declared_ids
    )
    safety = SafetyConfig(
        max_deletes=draw(st.sampled_from((0, 2, 10, 10))),
        max_delete_share=draw(st.sampled_from((0.25, 0.5, 1.0))),
        # 20: more GIDs than an instance here ever has, so the share rule is off.
        share_min_groups=draw(st.sampled_from((1, 3, 20, 20))),
    )
    cloud: Cloud = {ref: frozenset(subset_of_names(draw)) for ref in REFS}
    independent = {ref: draw(st.booleans()) for ref in REFS}
    resources: list[StateResource] = []
    for ref in REFS:
        for name in subset_of_names(draw):
            resources.append(
                StateResource(
                    region=ref[0],
                    instance_id=ref[1],
                    group_id=name,
                    topic=draw(st.sampled_from(TOPICS)),
                    protect=draw(st.booleans()),
                    origin=draw(st.sampled_from(("created", "adopted", "imported"))),
                )
            )
    state = StateDocument(lineage=LINEAGE, serial=3, resources=tuple(resources))
    all_keys = [f"{iid}/{name}" for iid in INSTANCES for name in NAMES]
    targets: tuple[str, ...] = ()
    if with_targets and draw(st.booleans()):
        targets = tuple(
            draw(
                st.lists(
                    st.sampled_from((*INSTANCES, *all_keys)), min_size=1, max_size=2, unique=True
                )
            )
        )
    options = PlanOptions(
        targets=parse_targets(targets),
        allow_protected_delete=frozenset(draw(st.lists(st.sampled_from(all_keys), max_size=4))),
        allow_online_delete=draw(st.booleans()),
        skip_online_check=draw(st.sampled_from((False, False, True))),
        allow_mass_delete=draw(st.booleans()),
    )
    online = {
        key_of(ref, name): draw(st.integers(min_value=0, max_value=2))
        for ref in REFS
        for name in cloud[ref]
    }
    return World(
        desired=DesiredState(instances=instances, safety=safety),
        cloud=cloud,
        independent=independent,
        state=state,
        options=options,
        online=online,
    )


# --- running the planner the way the builder does ----------------------------------------------


def inventories(world: World, cloud: Cloud) -> dict[InstanceRef, InstanceInventory]:
    return {
        ref: InstanceInventory(
            region=ref[0],
            instance_id=ref[1],
            groups=tuple(
                CloudGroup(
                    group_id=name, instance_id=ref[1], independent_naming=world.independent[ref]
                )
                for name in sorted(names)
            ),
        )
        for ref, names in cloud.items()
    }


def run_plan(world: World, cloud: Cloud, state: StateDocument) -> Plan:
    plan = diff_plan(world.desired, inventories(world, cloud), state, world.options, META)
    keys = online_check_keys(plan, world.options)
    return with_online_counts(plan, {k: world.online.get(k, 0) for k in keys}, world.options)


# --- the oracle: the semantics table (ARCHITECTURE.md), row by row ------------------------------


def table_row(
    wanted: DesiredGroup | None,
    exists: bool,
    recorded: StateResource | None,
    ownership: str | None,
) -> Action | Unmanaged | None:
    """The table's action for one (desired, cloud, state) triple; ``ownership`` is None for
    an instance only in the state (planned as "not declared", never reporting or deleting
    what the state does not hold: diff.py's documented decision)."""
    if wanted is not None and not wanted.absent:
        if not exists:
            return Action.CREATE
        if recorded is None:
            return Action.ADOPT
        # The planner's ``update``: a changed protect is recorded so it stays sticky.
        return Action.UPDATE if wanted.protect != recorded.protect else None
    if not exists:
        return Action.FORGET if recorded is not None else None
    if wanted is not None or recorded is not None:  # tombstone, or managed and undeclared
        return Action.DELETE
    if ownership == "exclusive":
        return Action.DELETE
    if ownership == "managed":
        return "unmanaged"
    return None


@dataclass(frozen=True)
class Expected:
    actions: dict[ResourceKey, Action]
    unmanaged: set[ResourceKey]
    not_in_place: set[ResourceKey]
    # What every GID of a planned instance looks like: desired group (or None), recorded.
    wanted: dict[ResourceKey, DesiredGroup]
    recorded: dict[ResourceKey, StateResource]


def planned_refs(world: World, state: StateDocument) -> set[InstanceRef]:
    return {(i.region, i.instance_id) for i in world.desired.instances} | {
        (r.region, r.instance_id) for r in state.resources
    }


def targeted(key: ResourceKey, targets: Iterable[Target]) -> bool:
    targets = tuple(targets)
    return not targets or any(t.covers(key) for t in targets)


def expected_plan(world: World, cloud: Cloud, state: StateDocument) -> Expected:
    declared = {(i.region, i.instance_id): i for i in world.desired.instances}
    recorded_all = state.by_key()
    targets = world.options.targets
    result = Expected({}, set(), set(), {}, recorded_all)
    for ref in planned_refs(world, state):
        instance = declared.get(ref)
        groups = {g.group_id: g for g in instance.groups} if instance is not None else {}
        names = (
            set(cloud[ref])
            | set(groups)
            | {k.group_id for k in recorded_all if (k.region, k.instance_id) == ref}
        )
        for name in names:
            key = key_of(ref, name)
            wanted = groups.get(name)
            if wanted is not None:
                result.wanted[key] = wanted
            recorded = recorded_all.get(key)
            exists = name in cloud[ref]
            row = table_row(
                wanted, exists, recorded, instance.ownership if instance is not None else None
            )
            if not targeted(key, targets):
                continue
            if row == "unmanaged":
                result.unmanaged.add(key)
            elif row is not None:
                result.actions[key] = row
            if (
                wanted is not None
                and not wanted.absent
                and exists
                and recorded is not None
                and wanted.topic is not None
                and recorded.topic is not None
                and wanted.topic != recorded.topic
            ):
                result.not_in_place.add(key)
    return result


def target_error_expected(world: World, cloud: Cloud, state: StateDocument) -> bool:
    """Whether ``--target`` must be refused: an instance neither declared nor in state, or a
    GID neither the instance's file, nor its state, nor its cloud listing holds."""
    refs = planned_refs(world, state)
    declared = {(i.region, i.instance_id): i for i in world.desired.instances}
    for target in world.options.targets:
        ref = (REGION, target.instance_id)
        if ref not in refs:
            return True
        if target.group_id is None:
            continue
        known = {r.group_id for r in state.resources if (r.region, r.instance_id) == ref}
        known |= cloud[ref]
        instance = declared.get(ref)
        if instance is not None:
            known |= {g.group_id for g in instance.groups}
        if target.group_id not in known:
            return True
    return False


# --- applying a plan the way the executor does -------------------------------------------------


def refused_changes(plan: Plan) -> dict[ResourceKey, Action]:
    """Changes an apply would not carry out: refused by their own guards, deletes when the
    circuit breaker refuses, and everything of an instance whose declared naming is wrong."""
    mass = any(g.kind is GuardKind.MASS_DELETE and g.refuses for g in plan.guards)
    blocked_instances = {
        g.subject for g in plan.guards if g.refuses and g.kind is GuardKind.NAMING_MISMATCH
    }
    return {
        c.key: c.action
        for c in plan.changes
        if any(g.refuses for g in c.guards)
        or (mass and c.action is Action.DELETE)
        or c.instance_id in blocked_instances
    }


def simulate_apply(plan: Plan, cloud: Cloud, state: StateDocument) -> tuple[Cloud, StateDocument]:
    refused = refused_changes(plan)
    listed = {ref: set(names) for ref, names in cloud.items()}
    for change in plan.changes:
        if change.key in refused:
            continue
        ref = (change.region, change.instance_id)
        if change.action is Action.CREATE:
            listed[ref].add(change.group_id)
            state = state.with_resource(recorded_as(change, "created"))
        elif change.action is Action.ADOPT:
            state = state.with_resource(recorded_as(change, "adopted"))
        elif change.action is Action.DELETE:
            listed[ref].discard(change.group_id)
            state = state.without(change.key)
        elif change.action is Action.FORGET:
            state = state.without(change.key)
        else:
            assert change.action is Action.UPDATE
            current = state.by_key().get(change.key)
            if current is not None:
                state = state.with_resource(current.model_copy(update={"protect": change.protect}))
    return {ref: frozenset(names) for ref, names in listed.items()}, state.model_copy(
        update={"serial": state.serial + 1}
    )


def recorded_as(change: Change, origin: Literal["created", "adopted"]) -> StateResource:
    return StateResource(
        region=change.region,
        instance_id=change.instance_id,
        group_id=change.group_id,
        topic=change.topic,
        protect=change.protect,
        origin=origin,
    )


def plan_or_none(world: World, cloud: Cloud, state: StateDocument) -> Plan | None:
    """The plan, or None when ``--target`` is (rightly) refused."""
    if target_error_expected(world, cloud, state):
        try:
            run_plan(world, cloud, state)
        except PlanError:
            return None
        raise AssertionError(f"targets {world.options.targets} should have been refused")
    return run_plan(world, cloud, state)


# --- 1. the semantics table --------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(worlds())
def test_every_change_is_the_table_row_of_its_triple(world: World) -> None:
    plan = plan_or_none(world, world.cloud, world.state)
    if plan is None:
        return
    expected = expected_plan(world, world.cloud, world.state)

    keys = [c.key for c in plan.changes]
    assert len(keys) == len(set(keys)), "a GID got more than one change"
    assert {c.key: c.action for c in plan.changes} == expected.actions
    assert set(plan.unmanaged) == expected.unmanaged
    assert len(plan.unmanaged) == len(set(plan.unmanaged))
    assert {d.key for d in plan.not_in_place} == expected.not_in_place

    for change in plan.changes:
        wanted = expected.wanted.get(change.key)
        recorded = expected.recorded.get(change.key)
        if change.action in (Action.CREATE, Action.ADOPT):
            assert wanted is not None
            assert (change.topic, change.protect) == (wanted.topic, wanted.protect)
        elif change.action is Action.UPDATE:
            assert wanted is not None and recorded is not None
            assert change.protect == wanted.protect
            assert change.topic == recorded.topic
        elif change.action is Action.DELETE:
            assert change.topic == (recorded.topic if recorded is not None else None)
        is_outside = any(g.kind is GuardKind.DELETED_OUTSIDE for g in change.guards)
        # "deleted outside reconciler": a create of a GID in state, and every forget.
        assert is_outside == (
            change.action is Action.FORGET
            or (change.action is Action.CREATE and recorded is not None)
        )


# --- 2. convergence and idempotence ------------------------------------------------------------


@PROPERTY_SETTINGS
@given(worlds())
def test_applying_a_plan_converges(world: World) -> None:
    plan = plan_or_none(world, world.cloud, world.state)
    if plan is None:
        return
    refused = refused_changes(plan)
    cloud, state = simulate_apply(plan, world.cloud, world.state)
    again = plan_or_none(world, cloud, state)
    if again is None:
        return  # a targeted instance left the state with its last GID: rightly an error now

    # Only what was refused the first time is still to do, and it is the same action: the
    # triple of a GID whose change was not applied has not moved.
    for change in again.changes:
        assert refused.get(change.key) is change.action, f"{change.key} did not converge"
    assert again.unmanaged == plan.unmanaged
    assert again.not_in_place == plan.not_in_place


@PROPERTY_SETTINGS
@given(worlds())
def test_a_plan_without_changes_is_a_fixed_point(world: World) -> None:
    plan = plan_or_none(world, world.cloud, world.state)
    if plan is None:
        return
    assert run_plan(world, world.cloud, world.state) == plan, "the planner is not deterministic"
    cloud, state = simulate_apply(plan, world.cloud, world.state)
    settled = plan_or_none(world, cloud, state)
    if settled is None or settled.changes:
        return  # refusals left to do; covered above
    cloud_after, state_after = simulate_apply(settled, cloud, state)
    assert (cloud_after, state_after.resources) == (cloud, state.resources)
    replanned = run_plan(world, cloud_after, state_after)
    assert replanned.model_dump(exclude={"state_serial"}) == settled.model_dump(
        exclude={"state_serial"}
    )


# --- 3. safety ---------------------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(worlds())
def test_safety_rules_hold(world: World) -> None:
    plan = plan_or_none(world, world.cloud, world.state)
    if plan is None:
        return
    options = world.options
    recorded = world.state.by_key()
    declared = {i.instance_id: i for i in world.desired.instances}
    refused = refused_changes(plan)
    mass_refuses = any(g.kind is GuardKind.MASS_DELETE and g.refuses for g in plan.guards)

    for change in plan.changes:
        key = change.key
        instance = declared.get(change.instance_id)
        group = (
            next((g for g in instance.groups if g.group_id == change.group_id), None)
            if instance is not None
            else None
        )
        tombstone = group is not None and group.absent
        if change.action is Action.CREATE:
            assert not tombstone, f"created a tombstone {key}"
        if change.action is not Action.DELETE:
            continue
        in_state = recorded.get(key)
        # Protection is sticky: only the KEY's own override lets the delete through.
        if (in_state is not None and in_state.protect) or (group is not None and group.protect):
            guards = [g for g in change.guards if g.kind is GuardKind.PROTECTED]
            assert len(guards) == 1, f"{key} is protected, its delete is not guarded"
            assert guards[0].refuses == (str(key) not in options.allow_protected_delete)
        # Online clients: never deleted without the override, unless the check was skipped.
        if options.skip_online_check:
            assert change.online_clients is None
            assert any(g.kind is GuardKind.ONLINE_CHECK_SKIPPED for g in change.guards)
        elif world.online.get(key, 0) > 0 and not options.allow_online_delete:
            assert key in refused, f"{key} has online clients and would be deleted"
        protect_refuses = any(g.kind is GuardKind.PROTECTED and g.refuses for g in change.guards)
        if not (options.skip_online_check or mass_refuses or protect_refuses):
            # Looked up, and the answer attached.
            assert change.online_clients == world.online.get(key, 0)
        else:
            assert change.online_clients is None, "a wasted rate-limited look-up"

        # ownership: managed deletes only what the state holds or the file tombstones.
        if instance is None or instance.ownership == "managed":
            assert in_state is not None or tombstone, f"{key} deleted though not managed"


@PROPERTY_SETTINGS
@given(worlds())
def test_circuit_breaker_refuses_as_configured(world: World) -> None:
    plan = plan_or_none(world, world.cloud, world.state)
    if plan is None:
        return
    safety = world.desired.safety
    deletes: dict[str, int] = {}
    for change in plan.changes:
        if change.action is Action.DELETE:
            deletes[change.instance_id] = deletes.get(change.instance_id, 0) + 1
    trips = sum(deletes.values()) > safety.max_deletes or any(
        len(world.cloud[(REGION, iid)]) >= safety.share_min_groups
        and count / len(world.cloud[(REGION, iid)]) > safety.max_delete_share
        for iid, count in deletes.items()
    )
    breakers = [g for g in plan.guards if g.kind is GuardKind.MASS_DELETE]
    assert bool(breakers) == trips
    assert all(g.refuses == (not world.options.allow_mass_delete) for g in breakers)
    if trips and not world.options.allow_mass_delete:
        # Its rate-limited online look-ups are not wasted on a refused plan.
        assert all(c.online_clients is None for c in plan.changes)


@PROPERTY_SETTINGS
@given(worlds())
def test_target_plan_holds_only_targeted_keys(world: World) -> None:
    plan = plan_or_none(world, world.cloud, world.state)
    if plan is None or not world.options.targets:
        return
    targets = world.options.targets
    for key in (
        *(c.key for c in plan.changes),
        *plan.unmanaged,
        *(d.key for d in plan.not_in_place),
    ):
        assert targeted(key, targets), f"{key} is outside --target {world.options.targets}"
    # The same (key, action) pairs as the whole plan, narrowed to the targets.
    untargeted = World(
        desired=world.desired,
        cloud=world.cloud,
        independent=world.independent,
        state=world.state,
        options=PlanOptions(skip_online_check=True),
        online=world.online,
    )
    whole = run_plan(untargeted, world.cloud, world.state)
    assert {(c.key, c.action) for c in plan.changes} == {
        (c.key, c.action) for c in whole.changes if targeted(c.key, targets)
    }


@PROPERTY_SETTINGS
@given(worlds())
def test_refresh_only_forgets_exactly_what_vanished(world: World) -> None:
    world = World(
        desired=world.desired,
        cloud=world.cloud,
        independent=world.independent,
        state=world.state,
        options=PlanOptions(refresh_only=True, targets=world.options.targets),
        online=world.online,
    )
    plan = plan_or_none(world, world.cloud, world.state)
    if plan is None:
        return
    targets = world.options.targets
    vanished = {
        r.key
        for r in world.state.resources
        if r.group_id not in world.cloud[(r.region, r.instance_id)] and targeted(r.key, targets)
    }
    assert {c.key: c.action for c in plan.changes} == dict.fromkeys(vanished, Action.FORGET)


def planned_naming(world: World, cloud: Cloud, ref: InstanceRef) -> bool | None:
    """IndependentNaming as the planner must see it: the listing's, else the file's."""
    if cloud[ref]:
        return world.independent[ref]
    declared = {(i.region, i.instance_id): i for i in world.desired.instances}
    instance = declared.get(ref)
    return instance.independent_naming if instance is not None else None


@PROPERTY_SETTINGS
@given(worlds())
def test_creates_in_a_shared_namespace_refuse_names_used_elsewhere(world: World) -> None:
    plan = plan_or_none(world, world.cloud, world.state)
    if plan is None:
        return
    naming = {ref: planned_naming(world, world.cloud, ref) for ref in REFS}
    shared = {ref for ref, independent in naming.items() if independent is False}
    creates = [c for c in plan.changes if c.action is Action.CREATE]
    for change in creates:
        ref = (change.region, change.instance_id)
        flagged = any(g.kind is GuardKind.NAMING_CONFLICT and g.refuses for g in change.guards)
        if naming[ref] is True:
            assert not flagged, f"{change.key} has its own namespace"
            continue
        # Shared, or not known (an empty instance the file says nothing of): checked.
        listed_elsewhere = any(
            change.group_id in world.cloud[other] for other in shared if other != ref
        )
        created_elsewhere = ref in shared and any(
            c.group_id == change.group_id and c.instance_id != change.instance_id
            for c in creates
            if (c.region, c.instance_id) in shared
        )
        assert flagged == (listed_elsewhere or created_elsewhere), change.key


def test_protect_update_keeps_the_recorded_topic_not_the_files() -> None:
    """Found by the properties: an ``update`` of a GID recorded without a topic showed the
    file's topic, as if the GID had been created with it (the state keeps None)."""
    ref = REFS[0]
    world = World(
        desired=DesiredState(
            instances=(
                DesiredInstance(
                    instance_id=ref[1],
                    groups=(DesiredGroup(group_id="GID_aaa", topic="orders", protect=True),),
                ),
            )
        ),
        cloud={ref: frozenset({"GID_aaa"})},
        independent={ref: True},
        state=StateDocument(
            lineage=LINEAGE,
            resources=(
                StateResource(region=REGION, instance_id=ref[1], group_id="GID_aaa", topic=None),
            ),
        ),
        options=PlanOptions(),
        online={},
    )
    (change,) = run_plan(world, world.cloud, world.state).changes
    assert (change.action, change.protect, change.topic) == (Action.UPDATE, True, None)


def test_target_of_a_gid_only_listed_in_an_undeclared_instance_is_not_an_error() -> None:
    """Found by the properties: the instance is only in the state, the GID only in its cloud
    listing; --target INSTANCE/GID failed with "no such GID in the file, the state or the
    cloud" although the cloud lists it. The plan has nothing for it (never touched)."""
    ref = REFS[1]
    world = World(
        desired=DesiredState(instances=(DesiredInstance(instance_id=REFS[0][1]),)),
        cloud={REFS[0]: frozenset(), ref: frozenset({"GID_aaa", "GID_bbb"})},
        independent={REFS[0]: True, ref: True},
        state=StateDocument(
            lineage=LINEAGE,
            resources=(StateResource(region=REGION, instance_id=ref[1], group_id="GID_bbb"),),
        ),
        options=PlanOptions(targets=parse_targets([f"{ref[1]}/GID_aaa"]), skip_online_check=True),
        online={},
    )
    plan = run_plan(world, world.cloud, world.state)
    assert (plan.changes, plan.unmanaged) == ((), ())
