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


class PlannedCall(FrozenModel):
    """An API call (``kind="api"``, ``action`` is the wire Action) or a state-only step
    (``kind="state"``, ``action`` is ``adopt``, ``forget`` or ``update``)."""

    kind: Literal["api", "state"]
    action: str
    params: dict[str, str]
    change: Change


def call_for(change: Change) -> PlannedCall:
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
