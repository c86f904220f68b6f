"""A plan as terminal text: ``+`` create, ``-`` delete, ``=`` adopt, ``~`` forget or an
update call, ``*`` an update of the state only, ``!`` a difference that cannot be applied in
place.

Colour comes from ``render.style`` (rich, loaded only when colour is on); whether to colour is
the caller's decision (terminal, NO_COLOR, --no-color).
"""

from __future__ import annotations

from reconciler.plan.model import Guard, Plan
from reconciler.render.plan_view import (
    NOT_IN_PLACE_SYMBOL,
    change_reason,
    general_guards,
    guard_text,
    headline_notes,
    not_in_place_text,
    sections,
    summary_line,
)
from reconciler.render.style import ACTION_STYLES, BOLD, NOTE, REFUSED, paint


def render_text(plan: Plan, *, color: bool = False) -> str:
    lines: list[str] = [paint(note, BOLD, color) for note in headline_notes(plan)]
    if lines:
        lines.append("")

    for section in sections(plan):
        lines.append(paint(section.title, BOLD, color))
        names = [c.group_id for c in section.changes] + [d.group_id for d in section.not_in_place]
        width = max(map(len, names), default=0)
        for change in section.changes:
            style = ACTION_STYLES[change.action]
            label = f"{change.symbol} {change.group_id.ljust(width)}"
            reason = change_reason(change, plan.state_source)
            lines.append(f"  {paint(label, style, color)}  {change.action.value}: {reason}")
            lines.extend(f"      {_guard(guard, color)}" for guard in change.guards)
        for difference in section.not_in_place:
            label = f"{NOT_IN_PLACE_SYMBOL} {difference.group_id.ljust(width)}"
            lines.append(f"  {paint(label, NOTE, color)}  {not_in_place_text(difference)}")
        lines.extend(f"  {_guard(guard, color)}" for guard in section.guards)
        lines.append("")

    if plan.unmanaged:
        title = "Unmanaged (in the cloud, not declared, not in state; left alone):"
        lines.append(paint(title, BOLD, color))
        lines.extend(f"  {key}" for key in plan.unmanaged)
        lines.append("")

    overall = general_guards(plan)
    if overall:
        lines.extend(_guard(guard, color) for guard in overall)
        lines.append("")

    refusals = plan.refusals()
    if refusals:
        refused = f"This plan is refused by {len(refusals)} guard(s); apply will not run it."
        lines.append(paint(refused, REFUSED, color))
    lines.append(paint(summary_line(plan), BOLD, color))
    return "\n".join(lines) + "\n"


def _guard(guard: Guard, color: bool) -> str:
    style = REFUSED if guard.refuses else NOTE
    return paint(f"! {guard_text(guard)}", style, color)
