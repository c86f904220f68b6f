"""What every plan renderer shares: sections per instance, guard wording, the summary line."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from reconciler.models import KINDS
from reconciler.plan.model import Action, Change, Guard, NotInPlace, Plan


@dataclass
class InstanceSection:
    region: str
    instance_id: str
    changes: list[Change] = field(default_factory=list)
    # Differences apply cannot make (shown with ``!``).
    not_in_place: list[NotInPlace] = field(default_factory=list)
    # Plan-level guards about this instance or one of its GIDs (topic changes, naming).
    guards: list[Guard] = field(default_factory=list)

    @property
    def title(self) -> str:
        return f"{self.instance_id} ({self.region})"

    def counts(self) -> Counter[Action]:
        return Counter(change.action for change in self.changes)


def sections(plan: Plan) -> list[InstanceSection]:
    """Changes grouped by instance, in (region, instance) order, with their guards."""
    by_ref: dict[tuple[str, str], InstanceSection] = {}

    def section(region: str, instance_id: str) -> InstanceSection:
        ref = (region, instance_id)
        if ref not in by_ref:
            by_ref[ref] = InstanceSection(region, instance_id)
        return by_ref[ref]

    for change in plan.changes:
        section(change.region, change.instance_id).changes.append(change)
    for difference in plan.not_in_place:
        section(difference.region, difference.instance_id).not_in_place.append(difference)
    for guard in plan.guards:
        if guard.subject is None:
            continue
        instance_id = guard.subject.partition("/")[0]
        found = next((s for s in by_ref.values() if s.instance_id == instance_id), None)
        if found is None:
            found = section(_region_from_labels(plan, instance_id), instance_id)
        found.guards.append(guard)
    return [by_ref[ref] for ref in sorted(by_ref)]


def _region_from_labels(plan: Plan, instance_id: str) -> str:
    for label in plan.inventory_fingerprints:
        region, _, listed = label.partition("/")
        if listed == instance_id:
            return region
    return "?"


def general_guards(plan: Plan) -> list[Guard]:
    """Plan-level guards not about one instance (the circuit breaker)."""
    return [guard for guard in plan.guards if guard.subject is None]


def guard_text(guard: Guard) -> str:
    """One line: refusing guards say how to override, overridden ones say what allowed them."""
    if guard.refuses:
        text = f"refused: {guard.message}"
        if guard.override:
            text += f" (override: {guard.override})"
        else:
            text += " (cannot be overridden)"
        return text
    if guard.blocking and guard.overridden:
        return f"allowed by {guard.override}: {guard.message}"
    return f"note: {guard.message}"


NOT_IN_PLACE_SYMBOL = "!"


def summary_line(plan: Plan) -> str:
    if not plan.has_differences:
        return "No changes."
    s = plan.summary
    counts = f"{s.create} to create, {s.adopt} to adopt, {s.delete} to delete, {s.forget} to forget"
    if s.update:
        counts += f", {s.update} to update"
    if s.not_in_place:
        counts += f"; {s.not_in_place} cannot be applied in place"
    return f"Plan: {counts}; {s.unmanaged} unmanaged."


def not_in_place_text(difference: NotInPlace) -> str:
    """``topic orders -> shadow: cannot be changed in place (...)``, after the resource's
    name."""
    text = (
        f"{difference.attribute} {difference.current} -> {difference.desired}: cannot be "
        f"changed in place (revert it, or create a {KINDS[difference.kind].noun} under a new "
        "name)"
    )
    source = difference.source
    return text if source is None else f"{text} ({source.file}:{source.line})"


def not_applied_text(plan: Plan) -> str:
    """What apply leaves undone because it cannot be done: one line each; empty if none."""
    return "".join(f"Not applied: {d.key} {not_in_place_text(d)}\n" for d in plan.not_in_place)


def change_reason(change: Change, state_source: str | None = None) -> str:
    """The reason, plus the online-client count a delete was checked for, then where the GID
    is declared (``(teams/payments.yaml:12)``) or, for one no file declares but the state
    records, the state (``state_source``, the plan's)."""
    reason = change.reason
    if change.online_clients is not None:
        reason = f"{reason}; {change.online_clients} client(s) online"
    if change.source is not None:
        return f"{reason} ({change.source.file}:{change.source.line})"
    if change.in_state:
        return f"{reason} (state: {state_source})" if state_source else f"{reason} (state)"
    return reason


def headline_notes(plan: Plan) -> list[str]:
    notes: list[str] = []
    if plan.refresh_only:
        notes.append(
            "Refresh only: the state records drift (vanished GIDs are forgotten); nothing is "
            "created, adopted or deleted."
        )
    if plan.targets:
        notes.append(
            f"Targeted plan ({', '.join(plan.targets)}): the rest of the file is not planned."
        )
    if plan.allow_online_delete and plan.summary.delete:
        notes.append(
            "Planned with --allow-online-delete: its deletes go ahead even with clients online "
            "(apply does not check them again)."
        )
    return notes


def instance_summary(section: InstanceSection) -> str:
    counts = section.counts()
    parts = [f"{counts[action]} to {action.value}" for action in Action if counts[action]]
    if section.not_in_place:
        parts.append(f"{len(section.not_in_place)} cannot be applied in place")
    if section.guards and not parts:
        parts.append(f"{len(section.guards)} note(s)")
    return ", ".join(parts) or "no changes"
