"""The pure planner: every row of the semantics table and every guard, on hand-built models."""

from __future__ import annotations

import pytest

from reconciler.errors import PlanError
from reconciler.models import (
    CloudGroup,
    InstanceInventory,
    NamedValue,
    ResourceKey,
    SafetyConfig,
)
from reconciler.plan.diff import PlanOptions, online_check_keys, with_online_counts
from reconciler.plan.model import Action, GuardKind
from reconciler.plan.options import parse_targets
from tests.fixtures.plan_models import (
    INST,
    OTHER,
    REGION,
    actions,
    desired,
    group,
    instance,
    inventory,
    plan_of,
    resource,
    state,
)


def key(group_id: str, instance_id: str = INST) -> ResourceKey:
    return ResourceKey(region=REGION, instance_id=instance_id, group_id=group_id)


# --- semantics table ---------------------------------------------------------------------------


def test_declared_missing_is_created() -> None:
    plan = plan_of(desired(instance(INST, group("GID_new", topic="orders"))), [inventory()])
    (change,) = plan.changes
    assert change.action is Action.CREATE
    assert change.topic == "orders"
    assert "deleted outside" not in change.reason
    assert change.guards == ()


def test_declared_missing_but_in_state_is_created_noting_deleted_outside() -> None:
    plan = plan_of(desired(instance(INST, "GID_gone")), [inventory()], state((INST, "GID_gone")))
    (change,) = plan.changes
    assert change.action is Action.CREATE
    assert "deleted outside reconciler" in change.reason
    assert [g.kind for g in change.guards] == [GuardKind.DELETED_OUTSIDE]
    assert not plan.refusals()


def test_declared_existing_not_in_state_is_adopted() -> None:
    plan = plan_of(desired(instance(INST, "GID_aaa")), [inventory(INST, ["GID_aaa"])], state())
    assert actions(plan) == {f"{INST}/GID_aaa": "adopt"}


def test_declared_existing_in_state_is_no_op() -> None:
    plan = plan_of(
        desired(instance(INST, "GID_aaa")), [inventory(INST, ["GID_aaa"])], state((INST, "GID_aaa"))
    )
    assert plan.changes == ()
    assert not plan.has_changes


def test_tombstone_deletes_whether_or_not_in_state() -> None:
    plan = plan_of(
        desired(instance(INST, group("GID_aaa", absent=True), group("GID_bbb", absent=True))),
        [inventory(INST, ["GID_aaa", "GID_bbb"])],
        state((INST, "GID_aaa")),
        PlanOptions(skip_online_check=True),
    )
    assert actions(plan) == {f"{INST}/GID_aaa": "delete", f"{INST}/GID_bbb": "delete"}
    assert all("absent: true" in c.reason for c in plan.changes)


def test_tombstone_of_missing_gid_not_in_state_does_nothing() -> None:
    plan = plan_of(desired(instance(INST, group("GID_aaa", absent=True))), [inventory()], state())
    assert plan.changes == ()


def test_removed_from_file_but_in_state_is_deleted() -> None:
    plan = plan_of(
        desired(instance(INST)),
        [inventory(INST, ["GID_aaa"])],
        state((INST, "GID_aaa")),
        PlanOptions(skip_online_check=True),
    )
    (change,) = plan.changes
    assert change.action is Action.DELETE
    assert "no longer declared" in change.reason


def test_undeclared_unmanaged_gid_is_reported_never_touched() -> None:
    plan = plan_of(desired(instance(INST)), [inventory(INST, ["GID_manual"])], state())
    assert plan.changes == ()
    assert plan.unmanaged == (key("GID_manual"),)
    assert plan.summary.unmanaged == 1


def test_undeclared_gid_is_deleted_under_exclusive_ownership() -> None:
    plan = plan_of(
        desired(instance(INST, ownership="exclusive")),
        [inventory(INST, ["GID_manual"])],
        None,
        PlanOptions(skip_online_check=True),
    )
    (change,) = plan.changes
    assert change.action is Action.DELETE
    assert "exclusive" in change.reason
    assert plan.unmanaged == ()


@pytest.mark.parametrize("declared", [False, True])
def test_vanished_gid_in_state_is_forgotten(declared: bool) -> None:
    groups = [group("GID_aaa", absent=True)] if declared else []
    plan = plan_of(desired(instance(INST, *groups)), [inventory()], state((INST, "GID_aaa")))
    assert actions(plan) == {f"{INST}/GID_aaa": "forget"}


def test_instance_removed_from_file_deletes_its_state_resources_only() -> None:
    plan = plan_of(
        desired(instance(INST, "GID_aaa")),
        [inventory(INST, ["GID_aaa"]), inventory(OTHER, ["GID_managed", "GID_gone2", "GID_xxx"])],
        state((INST, "GID_aaa"), (OTHER, "GID_managed"), (OTHER, "GID_vanished")),
        PlanOptions(skip_online_check=True),
    )
    assert actions(plan) == {f"{OTHER}/GID_managed": "delete", f"{OTHER}/GID_vanished": "forget"}
    deleted = plan.changes[0]
    assert "instance post-cn-test0002 is no longer declared" in deleted.reason
    # Ownership of an undeclared instance is unknown: nothing reported as unmanaged.
    assert plan.unmanaged == ()


def test_protect_change_on_managed_gid_is_a_state_update() -> None:
    plan = plan_of(
        desired(instance(INST, group("GID_aaa", protect=True))),
        [inventory(INST, ["GID_aaa"])],
        state((INST, "GID_aaa")),
    )
    (change,) = plan.changes
    assert change.action is Action.UPDATE
    assert change.protect is True
    assert plan.summary.update == 1


# --- guards ---------------------------------------------------------------------------------


def test_protection_is_sticky_through_state() -> None:
    have = state(resource(INST, "GID_ppp", protect=True))
    plan = plan_of(desired(instance(INST)), [inventory(INST, ["GID_ppp"])], have)
    (change,) = plan.changes
    assert change.action is Action.DELETE
    (guard,) = [g for g in change.guards if g.kind is GuardKind.PROTECTED]
    assert guard.refuses
    assert guard.override == f"--allow-protected-delete {INST}/GID_ppp"
    assert plan.refusals() == [guard]
    # A refused protected delete is not worth a rate-limited look-up.
    assert online_check_keys(plan, PlanOptions()) == []

    allowed = plan_of(
        desired(instance(INST)),
        [inventory(INST, ["GID_ppp"])],
        have,
        PlanOptions(allow_protected_delete=frozenset({f"{INST}/GID_ppp"})),
    )
    assert not allowed.refusals()
    assert allowed.changes[0].guards[0].overridden
    assert online_check_keys(allowed, PlanOptions()) == [key("GID_ppp")]


def test_tombstone_of_protected_gid_is_refused() -> None:
    plan = plan_of(
        desired(instance(INST, group("GID_ppp", absent=True))),
        [inventory(INST, ["GID_ppp"])],
        state(resource(INST, "GID_ppp", protect=True)),
    )
    assert [g.kind for g in plan.refusals()] == [GuardKind.PROTECTED]


def test_online_clients_refuse_a_delete_unless_allowed() -> None:
    want = desired(instance(INST, group("GID_aaa", absent=True), group("GID_bbb", absent=True)))
    invs = [inventory(INST, ["GID_aaa", "GID_bbb"])]
    plan = plan_of(want, invs)
    assert online_check_keys(plan, PlanOptions()) == [key("GID_aaa"), key("GID_bbb")]
    counted = with_online_counts(plan, {key("GID_aaa"): 3, key("GID_bbb"): 0}, PlanOptions())
    a, b = counted.changes
    assert (a.online_clients, b.online_clients) == (3, 0)
    assert [g.kind for g in counted.refusals()] == [GuardKind.ONLINE_CLIENTS]
    assert "3 client(s) online" in a.guards[0].message
    assert b.guards == ()

    options = PlanOptions(allow_online_delete=True)
    allowed = with_online_counts(plan_of(want, invs, options=options), {key("GID_aaa"): 3}, options)
    assert not allowed.refusals()
    assert allowed.changes[0].guards[0].overridden


def test_skip_online_check_says_so_on_each_delete() -> None:
    options = PlanOptions(skip_online_check=True)
    plan = plan_of(
        desired(instance(INST, group("GID_aaa", absent=True))),
        [inventory(INST, ["GID_aaa"])],
        options=options,
    )
    assert [g.kind for g in plan.changes[0].guards] == [GuardKind.ONLINE_CHECK_SKIPPED]
    assert "--skip-online-check" in plan.changes[0].guards[0].message
    assert online_check_keys(plan, options) == []
    assert not plan.refusals()


def test_circuit_breaker_counts_total_deletes_and_skips_lookups() -> None:
    names = [f"GID_n{i:02d}" for i in range(4)]
    want = desired(
        instance(INST, *(group(n, absent=True) for n in names)),
        safety=SafetyConfig(max_deletes=3),
    )
    plan = plan_of(want, [inventory(INST, names)])
    (guard,) = plan.guards
    assert guard.kind is GuardKind.MASS_DELETE and guard.refuses
    assert "4 deletes exceed safety.max_deletes (3)" in guard.message
    assert guard.override == "--allow-mass-delete"
    assert online_check_keys(plan, PlanOptions()) == []
    assert all(g.kind is GuardKind.ONLINE_CHECK_SKIPPED for c in plan.changes for g in c.guards)

    options = PlanOptions(allow_mass_delete=True)
    allowed = plan_of(want, [inventory(INST, names)], options=options)
    assert not allowed.refusals()
    assert len(online_check_keys(allowed, options)) == 4


def test_circuit_breaker_share_applies_only_to_big_enough_instances() -> None:
    safety = SafetyConfig(max_deletes=100, max_delete_share=0.25, share_min_groups=8)
    names = [f"GID_n{i:02d}" for i in range(8)]
    tomb = [group(n, absent=True) for n in names[:3]]
    plan = plan_of(desired(instance(INST, *tomb), safety=safety), [inventory(INST, names)])
    (guard,) = plan.refusals()
    assert "3 of the 8 GIDs of post-cn-test0001 (38%)" in guard.message
    small = plan_of(desired(instance(INST, *tomb), safety=safety), [inventory(INST, names[:7])])
    assert small.refusals() == []


def test_changed_topic_is_shown_and_not_applied() -> None:
    plan = plan_of(
        desired(instance(INST, group("GID_aaa", topic="new"))),
        [inventory(INST, ["GID_aaa"])],
        state(resource(INST, "GID_aaa", topic="old")),
    )
    assert plan.changes == () and plan.guards == ()
    (difference,) = plan.not_in_place
    assert (difference.group_id, difference.attribute) == ("GID_aaa", "topic")
    assert (difference.current, difference.desired) == ("old", "new")
    assert plan.has_differences and not plan.has_changes
    assert plan.summary.not_in_place == 1
    assert plan.refusals() == []


def _tagged_inventory(tags: str | None) -> InstanceInventory:
    listed = CloudGroup(group_id="GID_aaa", instance_id=INST, independent_naming=True, tags=tags)
    return InstanceInventory(region=REGION, instance_id=INST, groups=(listed,))


@pytest.mark.parametrize(
    ("listed", "recorded", "current"),
    [
        ('{"env": "prod"}', None, '{"env": "prod"}'),  # the listing tells
        ('{"env": "prod"}', '{"env": "old"}', '{"env": "prod"}'),  # the listing wins
        (None, '{"env": "old"}', '{"env": "old"}'),  # no listing of tags: the state's
    ],
)
def test_an_immutable_attribute_is_compared_with_the_listing_else_the_state(
    listed: str | None, recorded: str | None, current: str
) -> None:
    attributes = () if recorded is None else (NamedValue(name="tags", value=recorded),)
    plan = plan_of(
        desired(instance(INST, group("GID_aaa", tags='{"env": "dev"}'))),
        [_tagged_inventory(listed)],
        state(resource(INST, "GID_aaa", attributes=attributes)),
    )
    assert plan.changes == ()
    (difference,) = plan.not_in_place
    assert (difference.attribute, difference.current, difference.desired) == (
        "tags",
        current,
        '{"env": "dev"}',
    )


def test_an_immutable_attribute_left_out_of_the_file_is_not_compared() -> None:
    plan = plan_of(
        desired(instance(INST, group("GID_aaa"))),
        [_tagged_inventory('{"env": "prod"}')],
        state(resource(INST, "GID_aaa", attributes=(NamedValue(name="tags", value="{}"),))),
    )
    assert plan.changes == () and plan.not_in_place == ()


def test_an_adopt_records_the_listed_immutable_value_and_shows_a_disagreement() -> None:
    plan = plan_of(
        desired(instance(INST, group("GID_aaa", tags='{"env": "dev"}'))),
        [_tagged_inventory('{"env": "prod"}')],
        state(),
    )
    (change,) = plan.changes
    assert change.action is Action.ADOPT
    assert change.attributes == (NamedValue(name="tags", value='{"env": "prod"}'),)
    (difference,) = plan.not_in_place
    assert (difference.current, difference.desired) == ('{"env": "prod"}', '{"env": "dev"}')


def test_changed_topic_follows_the_targets() -> None:
    plan = plan_of(
        desired(instance(INST, group("GID_aaa", topic="new"), "GID_bbb")),
        [inventory(INST, ["GID_aaa", "GID_bbb"])],
        state(resource(INST, "GID_aaa", topic="old"), (INST, "GID_bbb")),
        PlanOptions(targets=parse_targets([f"{INST}/GID_bbb"])),
    )
    assert plan.not_in_place == ()


@pytest.mark.parametrize(
    ("old", "new"),
    [("GID_orders", "GID-orders"), ("GID_payment_service", "GID_payments_service")],
)
def test_delete_paired_with_near_identical_create_is_a_probable_rename(old: str, new: str) -> None:
    plan = plan_of(
        desired(instance(INST, new, "GID_unrelated_thing")),
        [inventory(INST, [old])],
        state((INST, old)),
        PlanOptions(skip_online_check=True),
    )
    flagged = {
        c.group_id
        for c in plan.changes
        if any(g.kind is GuardKind.PROBABLE_RENAME for g in c.guards)
    }
    assert flagged == {old, new}
    message = next(g.message for c in plan.changes for g in c.guards if g.kind == "probable_rename")
    assert f"{old} -> {new}" in message


def test_shared_namespace_name_used_by_another_instance_is_an_error() -> None:
    plan = plan_of(
        desired(instance(INST, "GID_taken", "GID_free"), instance(OTHER)),
        [
            inventory(INST, ["GID_mine"], independent=False),
            inventory(OTHER, ["GID_taken"], independent=False),
        ],
    )
    refused = [c.group_id for c in plan.changes if any(g.refuses for g in c.guards)]
    assert refused == ["GID_taken"]
    guard = plan.refusals()[0]
    assert guard.kind is GuardKind.NAMING_CONFLICT and guard.override is None
    assert OTHER in guard.message


def test_independent_namespaces_may_share_names() -> None:
    plan = plan_of(
        desired(instance(INST, "GID_taken"), instance(OTHER)),
        [inventory(INST), inventory(OTHER, ["GID_taken"])],
    )
    assert plan.refusals() == []


def test_empty_shared_instance_learns_its_naming_from_the_listing() -> None:
    plan = plan_of(
        desired(instance(INST, "GID_taken"), instance(OTHER)),
        [inventory(INST), inventory(OTHER, ["GID_taken"], independent=False)],
        naming={(REGION, INST): False},
    )
    assert [g.kind for g in plan.refusals()] == [GuardKind.NAMING_CONFLICT]


def test_declared_naming_disagreeing_with_cloud_is_an_error() -> None:
    plan = plan_of(
        desired(instance(INST, "GID_aaa", independent_naming=False)),
        [inventory(INST, ["GID_aaa"], independent=True)],
    )
    (guard,) = plan.refusals()
    assert guard.kind is GuardKind.NAMING_MISMATCH
    assert guard.subject == INST


def test_targets_narrow_the_plan() -> None:
    want = desired(instance(INST, "GID_aaa", "GID_bbb"), instance(OTHER, "GID_ccc"))
    invs = [inventory(INST), inventory(OTHER)]
    plan = plan_of(want, invs, options=PlanOptions(targets=parse_targets([f"{INST}/GID_bbb"])))
    assert actions(plan) == {f"{INST}/GID_bbb": "create"}
    assert plan.targets == (f"{INST}/GID_bbb",)
    whole = plan_of(want, [inventory(OTHER)], options=PlanOptions(targets=parse_targets([OTHER])))
    assert actions(whole) == {f"{OTHER}/GID_ccc": "create"}
    assert list(whole.inventory_fingerprints) == [f"{REGION}/{OTHER}"]


@pytest.mark.parametrize("target", ["post-cn-nope", f"{INST}/GID_nope", "a/b/c", "/GID_aaa"])
def test_bad_or_unmatched_target_is_an_error(target: str) -> None:
    with pytest.raises(PlanError, match="--target"):
        plan_of(
            desired(instance(INST, "GID_aaa")),
            [inventory(INST)],
            options=PlanOptions(targets=parse_targets([target])),
        )


def test_refresh_only_records_drift_and_nothing_else() -> None:
    plan = plan_of(
        desired(instance(INST, "GID_new", "GID_gone", "GID_adopt")),
        [inventory(INST, ["GID_adopt", "GID_manual", "GID_old"])],
        state((INST, "GID_gone"), (INST, "GID_old")),
        PlanOptions(refresh_only=True),
    )
    assert actions(plan) == {f"{INST}/GID_gone": "forget"}
    assert plan.refresh_only
    assert plan.unmanaged == ()


def test_plan_records_what_it_was_built_on() -> None:
    want = desired(instance(INST, "GID_aaa"))
    have = state((INST, "GID_aaa"), serial=7)
    inv = inventory(INST, ["GID_aaa", "GID_zzz"])
    plan = plan_of(want, [inv], have)
    assert plan.desired_digest == want.digest()
    assert (plan.state_lineage, plan.state_serial) == (have.lineage, 7)
    assert plan.inventory_fingerprints == {f"{REGION}/{INST}": inv.fingerprint()}
    assert plan.inventory_group_ids == {f"{REGION}/{INST}": ("GID_aaa", "GID_zzz")}


def test_unrefreshed_instance_is_an_error() -> None:
    with pytest.raises(PlanError, match="not refreshed"):
        plan_of(desired(instance(INST, "GID_aaa")), [])
