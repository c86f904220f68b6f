"""A plan as JSON: the saved-plan document (schemas/plan.schema.json) minus the listed GIDs."""

from __future__ import annotations

from reconciler.plan.model import Plan
from reconciler.plan.planfile import dumps_plan


def render_json(plan: Plan) -> str:
    return dumps_plan(plan, include_inventory=False)
