"""What each change turns into: an API call of its kind's capability, or a state-only step.

Every kind's capability (``cloud.capabilities.capability_for``) describes each call
(``create_call``, ``update_call``, ``delete_call``) with the code that sends it, so the
``--dry-run`` list is what an apply would send, in the same order, and ``send`` asks the same
capability to make it. Parameters are the wire names; nothing secret is ever here: a
write-only value is described by a placeholder.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from reconciler.cloud.capabilities import (
    Confirmed,
    GroupCapabilities,
    ResourceCapability,
    ResourceTarget,
    WireCall,
    capability_for,
)
from reconciler.models import KINDS, FrozenModel
from reconciler.plan.builder import ClientFor
from reconciler.plan.model import Action, Change

# What a dry run shows in place of a write-only value.
WRITE_ONLY_PLACEHOLDER = "(write-only)"


class PlannedCall(FrozenModel):
    """An API call (``kind="api"``, ``action`` is the wire Action) or a state-only step
    (``kind="state"``, ``action`` is ``adopt``, ``forget`` or ``update``)."""

    kind: Literal["api", "state"]
    action: str
    params: dict[str, str]
    change: Change


def call_for(change: Change, client_for: ClientFor) -> PlannedCall:
    if not change.calls_api:
        params = {
            "RegionId": change.region,
            "InstanceId": change.instance_id,
            KINDS[change.kind].key_label.title().replace("_", ""): change.group_id,
        }
        return PlannedCall(kind="state", action=change.action.value, params=params, change=change)
    capability = capability_for(change.kind, client_for(change.region, change.api))
    wire = _wire_call(change, capability, target_of(change, reveal=False))
    return PlannedCall(kind="api", action=wire.action, params=dict(wire.params), change=change)


def planned_calls(changes: Iterable[Change], client_for: ClientFor) -> list[PlannedCall]:
    """Every call and state step, in the order an apply schedules them."""
    return [call_for(change, client_for) for change in changes]


def send(change: Change, client: GroupCapabilities) -> Confirmed:
    """Make the change's API call, confirmed (raises the CloudError of a call that failed)."""
    capability = capability_for(change.kind, client)
    target = target_of(change, reveal=True)
    if change.action is Action.CREATE:
        return capability.create(target)
    if change.action is Action.UPDATE:
        return capability.update(target)
    return capability.delete(target)


def target_of(change: Change, *, reveal: bool) -> ResourceTarget:
    """What the call needs of the change; write-only values as they are sent (``reveal``) or
    as a placeholder (a description)."""
    kind = KINDS[change.kind]
    return ResourceTarget(
        instance_id=change.instance_id,
        key=change.group_id,
        attributes={name: change.value(name) for name in kind.sent},
        write_only={
            item.name: item.value.get_secret_value() if reveal else WRITE_ONLY_PLACEHOLDER
            for item in change.write_only
        },
    )


def _wire_call(change: Change, capability: ResourceCapability, target: ResourceTarget) -> WireCall:
    if change.action is Action.CREATE:
        return capability.create_call(target)
    if change.action is Action.UPDATE:
        return capability.update_call(target)
    return capability.delete_call(target)
