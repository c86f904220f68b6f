"""A saved plan against the plan its inputs give now: the first difference, in one line."""

from __future__ import annotations

from reconciler.plan.model import Action, GuardKind, Plan
from reconciler.plan.replan import first_difference, recorded_flags, recorded_options
from tests.fixtures.plan_models import INST
from tests.fixtures.sample_plan import sample_plan


def _edit_change(plan: Plan, group_id: str, **update: object) -> Plan:
    changes = tuple(
        change.model_copy(update=update) if change.group_id == group_id else change
        for change in plan.changes
    )
    return plan.model_copy(update={"changes": changes})


def test_a_plan_agrees_with_itself_whatever_its_words() -> None:
    plan = sample_plan()
    assert first_difference(plan, plan) is None
    reworded = _edit_change(plan, "GID_new", reason="reworded", source=None)
    assert first_difference(reworded, plan) is None


def test_a_guard_taken_off_a_change_is_named() -> None:
    plan = sample_plan()
    guarded = next(c for c in plan.changes if c.action is Action.DELETE and c.guards)
    unguarded = _edit_change(plan, guarded.group_id, guards=())
    difference = first_difference(unguarded, plan)
    assert difference is not None
    assert f"(- {INST}/{guarded.group_id}): its guards are none in the file but " in difference
    assert any(str(g.kind) in difference for g in guarded.guards)


def test_an_edited_setting_names_the_field() -> None:
    plan = sample_plan()
    edited = _edit_change(plan, "GID_new", topic="elsewhere")
    number = 1 + [c.group_id for c in plan.changes].index("GID_new")
    assert first_difference(edited, plan) == (
        f"change {number} (+ {INST}/GID_new): topic is 'elsewhere' in the file but 'orders' "
        "from its inputs"
    )


def test_an_override_turned_on_in_a_guard_is_named() -> None:
    plan = sample_plan()
    guards = tuple(
        g.model_copy(update={"overridden": not g.overridden})
        if g.kind is GuardKind.MASS_DELETE
        else g
        for g in plan.guards
    )
    difference = first_difference(plan.model_copy(update={"guards": guards}), plan)
    assert difference is not None and "mass_delete" in difference
    assert "overridden is" in difference


def test_the_recorded_options_make_the_command_again() -> None:
    plan = sample_plan().model_copy(
        update={"targets": ("post-cn-a/GID_x",), "allow_protected_delete": ("post-cn-a/GID_y",)}
    )
    options = recorded_options(plan)
    assert options.allow_mass_delete and str(options.targets[0]) == "post-cn-a/GID_x"
    assert recorded_flags(plan) == [
        "--target",
        "post-cn-a/GID_x",
        "--allow-protected-delete",
        "post-cn-a/GID_y",
        "--allow-mass-delete",
    ]
