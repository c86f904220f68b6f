"""Hand-built models for planner and renderer tests."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from reconciler.models import (
    CloudGroup,
    DesiredGroup,
    DesiredInstance,
    DesiredState,
    InstanceInventory,
    SafetyConfig,
    StateDocument,
    StateResource,
)
from reconciler.plan.diff import InstanceRef, PlanMeta, PlanOptions, diff_plan
from reconciler.plan.model import Plan

REGION = "cn-hangzhou"
INST = "post-cn-test0001"
OTHER = "post-cn-test0002"
META = PlanMeta(tool_version="0.1.0", created_at="2024-01-01T00:00:00Z", desired_source="d.yaml")


def group(group_id: str, **kwargs: Any) -> DesiredGroup:
    return DesiredGroup(group_id=group_id, **kwargs)


def desired(*instances: DesiredInstance, safety: SafetyConfig | None = None) -> DesiredState:
    return DesiredState(instances=instances, safety=safety or SafetyConfig())


def instance(
    instance_id: str = INST, *groups: DesiredGroup | str, **kwargs: Any
) -> DesiredInstance:
    return DesiredInstance(
        instance_id=instance_id,
        groups=tuple(group(g) if isinstance(g, str) else g for g in groups),
        **kwargs,
    )


def inventory(
    instance_id: str = INST,
    group_ids: Iterable[str] = (),
    *,
    independent: bool = True,
    region: str = REGION,
    listed_as: str | None = None,
) -> InstanceInventory:
    return InstanceInventory(
        region=region,
        instance_id=instance_id,
        groups=tuple(
            CloudGroup(
                group_id=g, instance_id=listed_as or instance_id, independent_naming=independent
            )
            for g in group_ids
        ),
    )


def state(*resources: tuple[str, str] | StateResource, serial: int = 1) -> StateDocument:
    built = tuple(
        r
        if isinstance(r, StateResource)
        else StateResource(region=REGION, instance_id=r[0], group_id=r[1])
        for r in resources
    )
    return StateDocument(
        lineage="11111111-2222-3333-4444-555555555555", serial=serial, resources=built
    )


def resource(instance_id: str, group_id: str, **kwargs: Any) -> StateResource:
    return StateResource(region=REGION, instance_id=instance_id, group_id=group_id, **kwargs)


def plan_of(
    want: DesiredState,
    inventories: Iterable[InstanceInventory],
    have: StateDocument | None = None,
    options: PlanOptions | None = None,
    naming: Mapping[InstanceRef, bool] | None = None,
) -> Plan:
    invs = {(inv.region, inv.instance_id): inv for inv in inventories}
    return diff_plan(want, invs, have, options or PlanOptions(), META, naming=naming)


def actions(plan: Plan) -> dict[str, str]:
    return {f"{c.instance_id}/{c.group_id}": c.action.value for c in plan.changes}
