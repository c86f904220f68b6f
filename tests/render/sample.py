"""A plan that shows every action and guard kind, built by the real planner from fixed models."""

from __future__ import annotations

from reconciler.models import ResourceKey, SafetyConfig
from reconciler.plan.builder import with_sources
from reconciler.plan.diff import PlanOptions, with_online_counts
from reconciler.plan.model import Plan
from tests.plan.helpers import (
    INST,
    OTHER,
    REGION,
    desired,
    group,
    instance,
    inventory,
    plan_of,
    resource,
    state,
)

THIRD = "post-cn-test0003"


def sample_plan() -> Plan:
    want = desired(
        instance(
            INST,
            group("GID_new", topic="orders"),
            "GID_recreated",
            "GID_adopted",
            group("GID_kept", topic="orders-v2"),
            group("GID_guarded", protect=True),
            group("GID_retired", absent=True),
            "GID-orders",
        ),
        instance(OTHER, "GID_payments", ownership="exclusive", independent_naming=False),
        safety=SafetyConfig(max_deletes=4),
    )
    have = state(
        (INST, "GID_recreated"),
        resource(INST, "GID_kept", topic="orders"),
        (INST, "GID_guarded"),
        (INST, "GID_orders"),
        resource(INST, "GID_sticky", protect=True),
        (INST, "GID_vanished"),
        (THIRD, "GID_leftover"),
        serial=5,
    )
    inventories = [
        inventory(
            INST,
            [
                *("GID_adopted", "GID_kept", "GID_guarded", "GID_retired"),
                *("GID_orders", "GID_sticky", "GID_manual"),
            ],
        ),
        inventory(OTHER, ["GID_stray"], independent=True),
        inventory(THIRD, ["GID_leftover"]),
    ]
    options = PlanOptions(allow_mass_delete=True)
    plan = plan_of(want, inventories, have, options)
    counts = {
        ResourceKey(region=REGION, instance_id=INST, group_id="GID_retired"): 2,
        ResourceKey(region=REGION, instance_id=INST, group_id="GID_orders"): 0,
    }
    plan = with_online_counts(plan, counts, options)
    # Where each declared GID is, as the loader would say (one of them in a team's file).
    lines = {
        (INST, gid): ("gids.yaml", line)
        for line, gid in enumerate(
            ("GID_new", "GID_recreated", "GID_adopted", "GID_kept", "GID_guarded"), start=8
        )
    }
    lines[(INST, "GID_retired")] = ("teams/payments.yaml", 12)
    lines[(INST, "GID-orders")] = ("teams/payments.yaml", 14)
    return with_sources(plan, lambda keys: {key: lines[key] for key in keys if key in lines})


def empty_plan() -> Plan:
    return plan_of(
        desired(instance(INST, "GID_same")),
        [inventory(INST, ["GID_same"])],
        state((INST, "GID_same")),
    )
