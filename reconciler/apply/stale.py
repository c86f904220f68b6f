"""Why a saved plan no longer matches the world, in words a reviewer can act on.

A saved plan was reviewed against one snapshot: the desired file's digest, the state's lineage
and serial, and each instance's listed GIDs. Applying it to anything else would do what nobody
reviewed, so any difference refuses the apply (``StalePlanError``), naming what moved.
"""

from __future__ import annotations

from collections.abc import Mapping

from reconciler.models import InstanceInventory, StateDocument
from reconciler.plan.model import Plan

_SHOWN_NAMES = 10


def inventory_label(inventory: InstanceInventory) -> str:
    """The key of ``Plan.inventory_fingerprints``: ``REGION/INSTANCE_ID``."""
    return f"{inventory.region}/{inventory.instance_id}"


def stale_reasons(
    plan: Plan,
    *,
    workspace: str,
    desired_digest: str,
    state: StateDocument | None,
    inventories: Mapping[str, InstanceInventory],
) -> list[str]:
    """Every way ``plan`` differs from now; empty when it may be applied.

    ``inventories`` maps ``REGION/INSTANCE_ID`` to what the cloud lists now, for (at least)
    every instance the plan fingerprinted."""
    reasons: list[str] = []
    if plan.workspace != workspace:
        reasons.append(
            f"the plan was made for workspace {plan.workspace!r}, "
            f"but the state backend is workspace {workspace!r}"
        )
    reasons.extend(_state_reasons(plan, state))
    if plan.desired_digest != desired_digest:
        source = plan.desired_source or "the desired-state file"
        reasons.append(
            f"{source} changed since the plan (digest {plan.desired_digest[:12]} is now "
            f"{desired_digest[:12]}); plan again"
        )
    for label in sorted(plan.inventory_fingerprints):
        reason = _inventory_reason(plan, label, inventories.get(label))
        if reason:
            reasons.append(reason)
    return reasons


def _state_reasons(plan: Plan, state: StateDocument | None) -> list[str]:
    lineage = state.lineage if state is not None else None
    serial = state.serial if state is not None else 0
    if plan.state_lineage is not None and lineage is None:
        return [f"the state the plan was made on (lineage {plan.state_lineage}) no longer exists"]
    if plan.state_lineage is None and lineage is not None and serial > 0:
        return [
            f"the plan was made on an empty state, but the state now exists "
            f"(lineage {lineage}, serial {serial})"
        ]
    if plan.state_lineage is not None and plan.state_lineage != lineage:
        return [
            f"the state lineage changed from {plan.state_lineage} to {lineage}: "
            "it is a different state"
        ]
    if plan.state_serial != serial:
        return [
            f"the state serial moved from {plan.state_serial} to {serial} since the plan "
            "(another apply or a state command ran)"
        ]
    return []


def _inventory_reason(plan: Plan, label: str, now: InstanceInventory | None) -> str | None:
    if now is None:
        return f"instance {label} was not listed (it is no longer in the desired file)"
    if now.fingerprint() == plan.inventory_fingerprints[label]:
        return None
    before = plan.inventory_group_ids.get(label)
    if before is None:
        return f"the GIDs of instance {label} changed since the plan"
    current = now.group_ids()
    appeared = sorted(current - set(before))
    vanished = sorted(set(before) - current)
    parts = []
    if appeared:
        parts.append(f"appeared: {_names(appeared)}")
    if vanished:
        parts.append(f"disappeared: {_names(vanished)}")
    detail = "; ".join(parts) or "listing differs"
    return f"the GIDs of instance {label} changed since the plan ({detail})"


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:_SHOWN_NAMES])
    if len(names) > _SHOWN_NAMES:
        shown += f" and {len(names) - _SHOWN_NAMES} more"
    return shown
