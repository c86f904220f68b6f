"""A saved plan checked against the plan its inputs give now.

``apply PLANFILE`` re-lists the planned instances (the stale check needs them anyway), plans
again from those listings, the desired state and the state, with the options the file
records, and refuses the file unless both plans agree on everything that decides what apply
does: every change and difference (all but the words: a change's reason and where it is
declared) and every guard (all but its message), which also decide whether it is appliable.
Apply then runs the plan made here, so no field of the file can steer a call.

Two things are taken from the file, and why they may be: the options (a file can only claim
an override a ``reconciler plan`` with that flag would have written; the file's digest finds
an edited one, and apply names the overrides it runs with), and the online counts of the
deletes (looking them up again would double the paced look-ups; the online re-check just
before deleting asks the cloud itself, for every delete not planned with an online override).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from pydantic import BaseModel

from reconciler.models import DesiredState, StateDocument
from reconciler.plan.builder import (
    ClientFor,
    LocateDeclarations,
    OnlineLookup,
    Refreshed,
    plan_from_listings,
)
from reconciler.plan.model import Action, Change, Guard, NotInPlace, Plan
from reconciler.plan.options import PlanMeta, PlanOptions, parse_targets

Item = TypeVar("Item", bound=BaseModel)
# What a change, a difference and a guard say rather than do: left out of the comparison
# (the digest covers them).
_WORDS = {
    Change: ("reason", "source"),
    NotInPlace: ("source",),
    Guard: ("message",),
}


def recorded_options(plan: Plan) -> PlanOptions:
    """The options ``plan`` was made with, as it records them."""
    return PlanOptions(
        targets=parse_targets(plan.targets),
        refresh_only=plan.refresh_only,
        allow_protected_delete=frozenset(plan.allow_protected_delete),
        allow_online_delete=plan.allow_online_delete,
        skip_online_check=plan.skip_online_check,
        allow_mass_delete=plan.allow_mass_delete,
        allow_empty=plan.allow_empty,
    )


def override_words(options: PlanOptions) -> list[tuple[str, ...]]:
    """Each guard override of ``options``, as its command-line words (keys sorted)."""
    found: list[tuple[str, ...]] = [
        ("--allow-protected-delete", key) for key in sorted(options.allow_protected_delete)
    ]
    switches = (
        ("--allow-online-delete", options.allow_online_delete),
        ("--skip-online-check", options.skip_online_check),
        ("--allow-mass-delete", options.allow_mass_delete),
        ("--allow-empty", options.allow_empty),
    )
    found.extend((flag,) for flag, given in switches if given)
    return found


def recorded_flags(plan: Plan) -> list[str]:
    """The command-line words that give ``plan``'s options to ``reconciler plan``."""
    words = [word for target in plan.targets for word in ("--target", target)]
    words.extend(word for override in override_words(recorded_options(plan)) for word in override)
    if plan.refresh_only:
        words.append("--refresh-only")
    return words


def replan(
    saved: Plan,
    desired: DesiredState,
    state: StateDocument | None,
    refreshed: Refreshed,
    client_for: ClientFor,
    *,
    locate: LocateDeclarations | None = None,
) -> Plan:
    """The plan ``saved``'s inputs give now: ``refreshed`` must list every instance it
    fingerprinted; its recorded online counts stand in for a look-up."""
    meta = PlanMeta(
        tool_version=saved.tool_version,
        created_at=saved.created_at,
        workspace=saved.workspace,
        desired_source=saved.desired_source,
        desired_inputs=saved.desired_inputs,
        state_backend=saved.state_backend,
    )
    return plan_from_listings(
        desired,
        state,
        refreshed,
        client_for,
        options=recorded_options(saved),
        meta=meta,
        online=_recorded_online(saved),
        locate=locate,
    ).plan


def _recorded_online(saved: Plan) -> Callable[[Sequence[Change]], OnlineLookup]:
    counts = {
        change.key: change.online_clients
        for change in saved.changes
        if change.action is Action.DELETE and change.online_clients is not None
    }

    def online(deletes: Sequence[Change]) -> OnlineLookup:
        found = {d.key: counts[d.key] for d in deletes if d.key in counts}
        return OnlineLookup(counts=found, online_ids={})

    return online


def first_difference(saved: Plan, now: Plan) -> str | None:
    """The first way ``saved`` differs from ``now`` in what apply would do, in words; None
    when they agree."""
    return (
        _first(saved.changes, now.changes, "change", _change_text, _change_identity)
        or _first(saved.guards, now.guards, "plan guard", _guard_text, _guard_identity)
        or _first(
            saved.not_in_place,
            now.not_in_place,
            "difference",
            _difference_text,
            _difference_identity,
        )
    )


def _first(
    in_file: Sequence[Item],
    from_inputs: Sequence[Item],
    noun: str,
    describe: Callable[[Item], str],
    identity: Callable[[Item], object],
) -> str | None:
    for number, (mine, theirs) in enumerate(zip(in_file, from_inputs, strict=False), start=1):
        if _decision(mine) == _decision(theirs):
            continue
        if identity(mine) != identity(theirs):
            return (
                f"{noun} {number} is {describe(mine)} in the file but {describe(theirs)} from "
                "its inputs"
            )
        return f"{noun} {number} ({describe(mine)}): {_field_difference(mine, theirs)}"
    if len(in_file) == len(from_inputs):
        return None
    counts = f"the file has {_count(len(in_file), noun)}, its inputs give {len(from_inputs)}"
    if len(in_file) > len(from_inputs):
        return f"{counts}: {describe(in_file[len(from_inputs)])} is not one of them"
    return f"{counts}: {describe(from_inputs[len(in_file)])} is missing from the file"


def _decision(item: BaseModel) -> tuple[object, ...]:
    """Every field of ``item`` but its words; guards by their own decision."""
    words = _WORDS.get(type(item), ())
    values: list[object] = []
    for name, field in type(item).model_fields.items():
        # Excluded fields (write-only values) are never in a file: not part of a decision.
        if name in words or field.exclude:
            continue
        value = getattr(item, name)
        if name == "guards":
            value = tuple(_decision(guard) for guard in value)
        values.append(value)
    return tuple(values)


def _field_difference(mine: BaseModel, theirs: BaseModel) -> str:
    words = _WORDS.get(type(mine), ())
    for name, field in type(mine).model_fields.items():
        if name in words or field.exclude:
            continue
        left, right = getattr(mine, name), getattr(theirs, name)
        if name == "guards":
            if tuple(map(_decision, left)) != tuple(map(_decision, right)):
                return (
                    f"its guards are {_guard_list(left)} in the file but {_guard_list(right)} "
                    "from its inputs"
                )
        elif left != right:
            return f"{name} is {left!r} in the file but {right!r} from its inputs"
    return "they differ"


def _count(number: int, noun: str) -> str:
    if number == 0:
        return f"no {noun}"
    return f"{number} {noun}" + ("" if number == 1 else "s")


def _change_text(change: Change) -> str:
    return f"{change.symbol} {change.key}"


def _change_identity(change: Change) -> object:
    return (change.action, change.key)


def _guard_text(guard: Guard) -> str:
    subject = f" on {guard.subject}" if guard.subject else ""
    state = " (refuses)" if guard.refuses else " (overridden)" if guard.overridden else ""
    return f"{guard.kind}{subject}{state}"


def _guard_list(guards: Sequence[Guard]) -> str:
    return ", ".join(map(_guard_text, guards)) or "none"


def _guard_identity(guard: Guard) -> object:
    return (guard.kind, guard.subject)


def _difference_text(difference: NotInPlace) -> str:
    return f"{difference.key} {difference.attribute}"


def _difference_identity(difference: NotInPlace) -> object:
    return (difference.key, difference.attribute)
