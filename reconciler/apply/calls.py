"""The exact API call (or state-only step) each change turns into.

One mapping serves both the executor and ``--dry-run``, so the dry-run list is what an apply
would send, in the same order. Parameters are the wire names; nothing secret is ever here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from reconciler.models import FrozenModel
from reconciler.plan.model import Action, Change

CREATE_ACTION = "OnsMqttGroupIdCreate"
DELETE_ACTION = "OnsMqttGroupIdDelete"
# OnsMqtt 2020-04-20: no topic is bound to a GID, and the region is in the endpoint only.
ONSMQTT_CREATE_ACTION = "CreateGroupId"
ONSMQTT_DELETE_ACTION = "DeleteGroupId"


class PlannedCall(FrozenModel):
    """An API call (``kind="api"``, ``action`` is the wire Action) or a state-only step
    (``kind="state"``, ``action`` is ``adopt``, ``forget`` or ``update``)."""

    kind: Literal["api", "state"]
    action: str
    params: dict[str, str]
    change: Change


def call_for(change: Change) -> PlannedCall:
    if change.api == "onsmqtt" and change.action in (Action.CREATE, Action.DELETE):
        params = {"InstanceId": change.instance_id, "GroupId": change.group_id}
        action = ONSMQTT_CREATE_ACTION if change.action is Action.CREATE else ONSMQTT_DELETE_ACTION
        return PlannedCall(kind="api", action=action, params=params, change=change)
    params = {
        "RegionId": change.region,
        "InstanceId": change.instance_id,
        "GroupId": change.group_id,
    }
    if change.action is Action.CREATE:
        if change.topic:
            params["Topic"] = change.topic
        return PlannedCall(kind="api", action=CREATE_ACTION, params=params, change=change)
    if change.action is Action.DELETE:
        return PlannedCall(kind="api", action=DELETE_ACTION, params=params, change=change)
    return PlannedCall(kind="state", action=change.action.value, params=params, change=change)


def planned_calls(changes: Iterable[Change]) -> list[PlannedCall]:
    """Every call and state step, in the order an apply schedules them."""
    return [call_for(change) for change in changes]
