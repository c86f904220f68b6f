"""A plan as Markdown for pull-request comments: summary first, one <details> per instance.

Each instance's changes are a ``diff`` code block no wider than ``CODE_WIDTH`` (reasons wrap
under themselves); the guards follow the block as a list, each distinct note once.

Comment bodies have a hard size limit (GitHub: 65,536 characters), so the rendering stays under
``MAX_CHARS``: once the budget runs out it stops, says what was left out and how to see it all.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

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
    head.extend(f"> {_icon(guard)} {guard_text(guard)}" for guard in general_guards(plan))
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
        hint = (
            f"See the whole plan with `reconciler show {plan_file}`."
            if plan_file is not None
            else "To see the whole plan, save it with `-o FILE` and run `reconciler show FILE`."
        )
        body += (
            f"\n> **Truncated** to stay under {max_chars:,} characters: "
            f"{', '.join(left_out)} not shown. {hint}\n"
        )
    return body


def _change_lines(section: InstanceSection) -> int:
    """The change lines a section renders (guards under a change are not counted)."""
    return len(section.changes) + len(section.not_in_place)


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
        row = (
            f"| `{section.instance_id}` | {section.region} | {counts[Action.CREATE]} | "
            f"{counts[Action.ADOPT]} | {counts[Action.DELETE]} | {counts[Action.FORGET]} | "
            f"{counts[Action.UPDATE]} | {_notes_cell(section)} |"
        )
        if used + len(row) + 1 > allowance:
            omitted += 1
            continue
        rows.append(row)
        used += len(row) + 1
    budget.add("\n".join(rows) + "\n\n")
    return omitted


def _notes_cell(section: InstanceSection) -> str:
    """How many refusals and notes the instance's section lists (a rename pair is one)."""
    notes = _Notes()
    for change in section.changes:
        notes.add(change.group_id, change.guards)
    notes.add(None, section.guards)
    refused, other = notes.counts()
    parts = []
    if refused:
        parts.append(f":no_entry: {refused} refused")
    if other:
        parts.append(f":warning: {other} note" + ("" if other == 1 else "s"))
    return ", ".join(parts)


# GitHub shows about this many characters of a code block before it scrolls sideways.
CODE_WIDTH = 100
# Reasons are aligned after GIDs up to this long; a longer GID puts its reason on the next line,
# so a reason always has at least half the width.
_ALIGN_MAX = 40
_NAMES_SHOWN = 10


def _entry_lines(symbol: str, group_id: str, width: int, reason: str) -> list[str]:
    """``+ GID_x  # reason``, the reason wrapped under itself within ``CODE_WIDTH``."""
    label = f"{symbol} {group_id.ljust(width)}  "
    if len(group_id) > _ALIGN_MAX:
        first, indent = [f"{symbol} {group_id}"], "    "
    else:
        first, indent = [], " " * len(label)
    wrapped = textwrap.wrap(
        reason, CODE_WIDTH - len(indent) - 2, break_long_words=True, break_on_hyphens=False
    ) or [""]
    lines = list(first)
    for index, part in enumerate(wrapped):
        lead = label if index == 0 and not first else indent
        lines.append(f"{lead}# {part}")
    return lines


class _Notes:
    """Guards listed under the code block: one bullet per distinct text, naming its GIDs, so a
    probable rename (the same note on its delete and its create) is shown once as the pair."""

    def __init__(self) -> None:
        self._groups: dict[str, tuple[Guard, list[str]]] = {}

    def cost(self, group_id: str | None, guards: Sequence[Guard]) -> int:
        """Characters that adding these guards would take (an upper bound)."""
        total = 0
        for guard in guards:
            text = guard_text(guard)
            if text in self._groups:
                total += len(group_id or "") + 4
            else:
                total += len(text) + len(group_id or "") + 24
        return total

    def add(self, group_id: str | None, guards: Sequence[Guard]) -> None:
        for guard in guards:
            _, names = self._groups.setdefault(guard_text(guard), (guard, []))
            if group_id is not None and group_id not in names:
                names.append(group_id)

    def counts(self) -> tuple[int, int]:
        refused = sum(1 for guard, _ in self._groups.values() if guard.refuses)
        return refused, len(self._groups) - refused

    def lines(self) -> list[str]:
        ordered = sorted(self._groups.items(), key=lambda item: not item[1][0].refuses)
        return [_note_line(guard, text, names) for text, (guard, names) in ordered]


def _note_line(guard: Guard, text: str, names: list[str]) -> str:
    """``- icon GIDs: text``; the GIDs are left out when the text names them all already."""
    icon = _icon(guard)
    if not names or all(name in text for name in names):
        return f"- {icon} {text}"
    shown = ", ".join(f"`{name}`" for name in names[:_NAMES_SHOWN])
    more = len(names) - _NAMES_SHOWN
    if more > 0:
        shown += f" and {more:,} more"
    return f"- {icon} {shown}: {text}"


def _section(
    section: InstanceSection, room: int, state_source: str | None = None
) -> tuple[str | None, int]:
    """The section's text within ``room`` characters (None: not even its header fits) and how
    many change lines were cut."""
    header = f"<details><summary><b>{section.title}</b>: {instance_summary(section)}</summary>\n\n"
    closing = "</details>\n\n"
    named = [change.group_id for change in section.changes]
    named += [difference.group_id for difference in section.not_in_place]
    width = max((len(name) for name in named if len(name) <= _ALIGN_MAX), default=0)
    entries: list[tuple[list[str], str | None, Sequence[Guard]]] = [
        (
            _entry_lines(
                change.symbol,
                change.group_id,
                width,
                change_reason(change, state_source),
            ),
            change.group_id,
            change.guards,
        )
        for change in section.changes
    ]
    entries.extend(
        (_entry_lines(NOT_IN_PLACE_SYMBOL, d.group_id, width, not_in_place_text(d)), None, ())
        for d in section.not_in_place
    )
    notes = _Notes()
    notes.add(None, section.guards)
    fence_open, fence_close = "```diff\n", "```\n\n"

    fixed = len(header) + len(closing) + sum(len(line) + 1 for line in notes.lines()) + 2
    if entries:
        fixed += len(fence_open) + len(fence_close)
    if fixed > room:
        return None, 0
    kept: list[str] = []
    used = fixed
    cut = 0
    for index, (lines, group_id, guards) in enumerate(entries):
        cost = sum(len(line) + 1 for line in lines) + notes.cost(group_id, guards)
        if used + cost > room - 80:
            cut = len(entries) - index
            kept.append(f"... {cut} more change(s) not shown")
            break
        kept.extend(lines)
        notes.add(group_id, guards)
        used += cost
    if entries and cut == len(entries):
        return None, 0  # a section showing no change at all is noise
    parts = [header]
    if kept:
        parts.append(fence_open + "\n".join(kept) + "\n" + fence_close)
    note_lines = notes.lines()
    if note_lines:
        parts.append("\n".join(note_lines) + "\n\n")
    parts.append(closing)
    return "".join(parts), cut


def _icon(guard: Guard) -> str:
    return ":no_entry:" if guard.refuses else ":warning:"
