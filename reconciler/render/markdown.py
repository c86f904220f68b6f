"""A plan as Markdown for pull-request comments: summary first, one <details> per instance.

Comment bodies have a hard size limit (GitHub: 65,536 characters), so the rendering stays under
``MAX_CHARS``: once the budget runs out it stops, says what was left out and how to see it all.
"""

from __future__ import annotations

from reconciler.plan.model import Action, Guard, Plan
from reconciler.render.plan_view import (
    NOT_IN_PLACE_SYMBOL,
    InstanceSection,
    change_reason,
    general_guards,
    guard_text,
    headline_notes,
    instance_summary,
    not_in_place_text,
    sections,
    summary_line,
)

MAX_CHARS = 60_000
# Kept free for the closing notice about what was left out.
_FOOTER_RESERVE = 600


def render_markdown(plan: Plan, *, max_chars: int = MAX_CHARS, plan_file: str | None = None) -> str:
    """``plan_file``: where the plan was saved (``-o``) or read from (``show``), named in the
    notice of a truncated rendering; None when it was not saved."""
    budget = _Budget(max_chars - _FOOTER_RESERVE)
    head: list[str] = ["### reconciler plan", "", f"**{summary_line(plan)}**", ""]
    head.extend(f"> {note}" for note in headline_notes(plan))
    refusals = plan.refusals()
    if refusals:
        head.append(f"> :no_entry: **Refused by {len(refusals)} guard(s); apply will not run it.**")
    head.extend(f"> {_guard(guard)}" for guard in general_guards(plan))
    if head[-1] != "":
        head.append("")
    budget.add("\n".join(head) + "\n")

    all_sections = sections(plan)
    omitted_rows = _table(all_sections, budget)
    shown = 0
    truncated_changes = 0
    for section in all_sections:
        text, cut = _section(section, budget.left, plan.state_source)
        if text is None:
            break
        budget.add(text)
        shown += 1
        truncated_changes += cut

    unmanaged_omitted = 0
    if plan.unmanaged:
        lines = [
            f"<details><summary>{len(plan.unmanaged)} unmanaged GID(s): in the cloud, "
            "not declared, not in state; left alone</summary>",
            "",
        ]
        closing = "\n</details>\n\n"
        used = len("\n".join(lines)) + len(closing) + 1
        for key in plan.unmanaged:
            line = f"- `{key}`"
            if used + len(line) + 1 > budget.left:
                unmanaged_omitted = len(plan.unmanaged) - (len(lines) - 2)
                break
            lines.append(line)
            used += len(line) + 1
        if len(lines) > 2:
            budget.add("\n".join(lines) + closing)
        else:
            unmanaged_omitted = len(plan.unmanaged)

    # A section left out hides every change line it had, not only those of the cut one.
    hidden_changes = truncated_changes + sum(_change_lines(s) for s in all_sections[shown:])
    left_out = []
    if hidden_changes:
        total = sum(_change_lines(s) for s in all_sections)
        left_out.append(f"{hidden_changes:,} of {total:,} change(s)")
    if shown < len(all_sections):
        left_out.append(f"{len(all_sections) - shown} of {len(all_sections)} instance section(s)")
    if omitted_rows:
        left_out.append(f"{omitted_rows} summary row(s)")
    if unmanaged_omitted:
        left_out.append(f"{unmanaged_omitted} unmanaged GID(s)")
    body = budget.text()
    if left_out:
        body += (
            f"\n> **Truncated** to stay under {max_chars:,} characters: "
            f"{', '.join(left_out)} not shown. {_whole_plan_hint(plan_file)}\n"
        )
    return body


def _change_lines(section: InstanceSection) -> int:
    """The change lines a section renders (guards under a change are not counted)."""
    return len(section.changes) + len(section.not_in_place)


def _whole_plan_hint(plan_file: str | None) -> str:
    if plan_file is not None:
        return f"See the whole plan with `reconciler show {plan_file}`."
    return "To see the whole plan, save it with `-o FILE` and run `reconciler show FILE`."


class _Budget:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.parts: list[str] = []
        self.used = 0

    @property
    def left(self) -> int:
        return self.limit - self.used

    def add(self, text: str) -> None:
        self.parts.append(text)
        self.used += len(text)

    def text(self) -> str:
        return "".join(self.parts)


def _table(all_sections: list[InstanceSection], budget: _Budget) -> int:
    """The per-instance counts table; returns how many rows did not fit."""
    if not all_sections:
        return 0
    rows = [
        "| instance | region | + create | = adopt | - delete | ~ forget | * update | notes |",
        "|---|---|--:|--:|--:|--:|--:|---|",
    ]
    used = sum(len(row) + 1 for row in rows) + 1
    # The table may use at most half of what is left; the sections need the rest.
    allowance = budget.left // 2
    omitted = 0
    for section in all_sections:
        counts = section.counts()
        refused = sum(
            1 for change in section.changes for guard in change.guards if guard.refuses
        ) + sum(1 for guard in section.guards if guard.refuses)
        notes = f":no_entry: {refused} refused" if refused else ""
        row = (
            f"| `{section.instance_id}` | {section.region} | {counts[Action.CREATE]} | "
            f"{counts[Action.ADOPT]} | {counts[Action.DELETE]} | {counts[Action.FORGET]} | "
            f"{counts[Action.UPDATE]} | {notes} |"
        )
        if used + len(row) + 1 > allowance:
            omitted += 1
            continue
        rows.append(row)
        used += len(row) + 1
    budget.add("\n".join(rows) + "\n\n")
    return omitted


def _section(
    section: InstanceSection, room: int, state_source: str | None = None
) -> tuple[str | None, int]:
    """The section's text within ``room`` characters (None: not even its header fits) and how
    many change lines were cut."""
    header = f"<details><summary><b>{section.title}</b>: {instance_summary(section)}</summary>\n\n"
    closing = "</details>\n\n"
    change_lines: list[str] = []
    for change in section.changes:
        reason = change_reason(change, state_source)
        change_lines.append(f"{change.action.symbol} {change.group_id}  # {reason}")
        change_lines.extend(f"    ! {guard_text(guard)}" for guard in change.guards)
    change_lines.extend(
        f"{NOT_IN_PLACE_SYMBOL} {d.group_id}  # {not_in_place_text(d)}"
        for d in section.not_in_place
    )
    notes = [f"- {_guard(guard)}" for guard in section.guards]
    fence_open, fence_close = "```diff\n", "```\n\n"

    fixed = len(header) + len(closing) + sum(len(n) + 1 for n in notes) + 1
    if change_lines:
        fixed += len(fence_open) + len(fence_close)
    if fixed > room:
        return None, 0
    kept: list[str] = []
    used = fixed
    cut = 0
    for index, line in enumerate(change_lines):
        if used + len(line) + 1 > room - 80:
            cut = sum(1 for rest in change_lines[index:] if not rest.startswith("    "))
            kept.append(f"... {cut} more change(s) not shown")
            break
        kept.append(line)
        used += len(line) + 1
    if change_lines and len(kept) == 1 and cut:
        return None, 0  # a section showing no change at all is noise
    parts = [header]
    if kept:
        parts.append(fence_open + "\n".join(kept) + "\n" + fence_close)
    if notes:
        parts.append("\n".join(notes) + "\n\n")
    parts.append(closing)
    return "".join(parts), cut


def _guard(guard: Guard) -> str:
    icon = ":no_entry:" if guard.refuses else ":warning:"
    return f"{icon} {guard_text(guard)}"
