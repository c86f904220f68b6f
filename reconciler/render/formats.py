"""A plan in the format a command was asked for; each renderer is imported only when chosen."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from reconciler.plan.model import Plan

PLAN_FORMATS = ("text", "json", "markdown")


def render_plan(
    plan: Plan, output_format: str, *, color: bool = False, plan_file: Path | None = None
) -> str:
    """``plan_file``: where the plan is saved, if it is (Markdown names it when truncated)."""
    if output_format == "json":
        from reconciler.render.json import render_json  # noqa: PLC0415

        return render_json(plan)
    if output_format == "markdown":
        from reconciler.render.markdown import render_markdown  # noqa: PLC0415

        return render_markdown(plan, plan_file=None if plan_file is None else str(plan_file))
    from reconciler.render.text import render_text  # noqa: PLC0415

    return render_text(plan, color=color)
