"""A plan as terminal text: ``+`` create, ``-`` delete, ``=`` adopt, ``~`` forget, ``*`` update,
``!`` a difference that cannot be applied in place.

Plain ANSI escapes rather than rich: ``reconciler plan`` must start fast, and this is all the
colour it needs. Whether to colour is the caller's decision (terminal, NO_COLOR, --no-color).
"""

from __future__ import annotations

from reconciler.plan.model import Action, Guard, Plan
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

_RESET = "\x1b[0m"
_BOLD = "\x1b[1m"
# Also the apply log's (render.apply_result), so a change looks the same in plan and apply.
ACTION_COLOURS = {
    Action.CREATE: "\x1b[32m",  # green
    Action.DELETE: "\x1b[31m",  # red
    Action.ADOPT: "\x1b[36m",  # cyan
    Action.FORGET: "\x1b[35m",  # magenta
    Action.UPDATE: "\x1b[33m",  # yellow
}
_REFUSED = "\x1b[1;31m"
_NOTE = "\x1b[33m"


class _Paint:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __call__(self, text: str, style: str) -> str:
        return f"{style}{text}{_RESET}" if self.enabled else text


def render_text(plan: Plan, *, color: bool = False) -> str:
    paint = _Paint(color)
    lines: list[str] = [paint(note, _BOLD) for note in headline_notes(plan)]
    if lines:
        lines.append("")

    for section in sections(plan):
        lines.append(paint(section.title, _BOLD))
        names = [c.group_id for c in section.changes] + [d.group_id for d in section.not_in_place]
        width = max(map(len, names), default=0)
        for change in section.changes:
            style = ACTION_COLOURS[change.action]
            label = f"{change.action.symbol} {change.group_id.ljust(width)}"
            lines.append(f"  {paint(label, style)}  {change.action.value}: {change_reason(change)}")
            lines.extend(f"      {_guard(guard, paint)}" for guard in change.guards)
        for difference in section.not_in_place:
            label = f"{NOT_IN_PLACE_SYMBOL} {difference.group_id.ljust(width)}"
            lines.append(f"  {paint(label, _NOTE)}  {not_in_place_text(difference)}")
        lines.extend(f"  {_guard(guard, paint)}" for guard in section.guards)
        lines.append("")

    if plan.unmanaged:
        title = "Unmanaged (in the cloud, not declared, not in state; left alone):"
        lines.append(paint(title, _BOLD))
        lines.extend(f"  {key}" for key in plan.unmanaged)
        lines.append("")

    overall = general_guards(plan)
    if overall:
        lines.extend(_guard(guard, paint) for guard in overall)
        lines.append("")

    refusals = plan.refusals()
    if refusals:
        refused = f"This plan is refused by {len(refusals)} guard(s); apply will not run it."
        lines.append(paint(refused, _REFUSED))
    lines.append(paint(summary_line(plan), _BOLD))
    return "\n".join(lines) + "\n"


def _guard(guard: Guard, paint: _Paint) -> str:
    style = _REFUSED if guard.refuses else _NOTE
    return paint(f"! {guard_text(guard)}", style)
