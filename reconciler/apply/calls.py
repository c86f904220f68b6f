"""What each change turns into: an API call of its instance's client, or a state-only step.

The client describes each call (``create_call``, ``delete_call``) with the code that sends it,
so the ``--dry-run`` list is what an apply would send, in the same order, and ``send`` asks the
same client to make it. Parameters are the wire names; nothing secret is ever here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from reconciler.cloud.capabilities import Confirmed, GroupCapabilities, WireCall
from reconciler.models import FrozenModel
from reconciler.plan.builder import ClientFor
from reconciler.plan.model import Action, Change

# The actions that are API calls; the others (adopt, forget, update) only write the state.
API_ACTIONS = frozenset({Action.CREATE, Action.DELETE})


class PlannedCall(FrozenModel):
    """An API call (``kind="api"``, ``action`` is the wire Action) or a state-only step
    (``kind="state"``, ``action`` is ``adopt``, ``forget`` or ``update``)."""

    kind: Literal["api", "state"]
    action: str
    params: dict[str, str]
    change: Change


def call_for(change: Change, client_for: ClientFor) -> PlannedCall:
    wire = _wire_call(change, client_for)
    if wire is None:
        params = {
            "RegionId": change.region,
            "InstanceId": change.instance_id,
            "GroupId": change.group_id,
        }
        return PlannedCall(kind="state", action=change.action.value, params=params, change=change)
    return PlannedCall(kind="api", action=wire.action, params=dict(wire.params), change=change)


def planned_calls(changes: Iterable[Change], client_for: ClientFor) -> list[PlannedCall]:
    """Every call and state step, in the order an apply schedules them."""
    return [call_for(change, client_for) for change in changes]


def send(change: Change, client: GroupCapabilities) -> Confirmed:
    """Make the change's API call, confirmed (raises the CloudError of a call that failed)."""
    if change.action is Action.CREATE:
        return client.create_group(
            change.group_id, instance_id=change.instance_id, topic=change.topic
        )
    return client.delete_group(change.group_id, instance_id=change.instance_id)


def _wire_call(change: Change, client_for: ClientFor) -> WireCall | None:
    if change.action not in API_ACTIONS:
        return None
    client = client_for(change.region, change.api)
    if change.action is Action.CREATE:
        return client.create_call(
            change.group_id, instance_id=change.instance_id, topic=change.topic
        )
    return client.delete_call(change.group_id, instance_id=change.instance_id)
