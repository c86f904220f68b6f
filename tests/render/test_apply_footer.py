"""The apply report's last line says whether running again can finish the job."""

from __future__ import annotations

from reconciler.apply.result import ActionOutcome, ApplyResult, OutcomeStatus
from reconciler.plan.model import Action
from reconciler.render.apply_result import render_result_text
from tests.fixtures.apply_kit import change

AGAIN = "Run the apply again to finish; it picks up where this one stopped."
FIX = "Fix the cause above and run the apply again; it picks up where this one stopped."


def _failed(group_id: str, code: str | None, message: str = "boom") -> ActionOutcome:
    return ActionOutcome(
        change=change(Action.CREATE, group_id),
        status=OutcomeStatus.FAILED,
        detail="failed",
        error_code=code,
        error_message=message,
    )


def _footer(*outcomes: ActionOutcome) -> str:
    return render_result_text(ApplyResult(outcomes=outcomes)).splitlines()[-1]


def test_transient_failures_say_run_again() -> None:
    assert (
        _footer(_failed("GID_a", "Throttling.User"), _failed("GID_b", "ServiceUnavailable"))
        == AGAIN
    )
    assert _footer(_failed("GID_a", None, "OnsMqttGroupIdCreate: cannot reach x")) == AGAIN


def test_a_hard_failure_says_fix_the_cause_first() -> None:
    assert _footer(_failed("GID_a", "BIZ_TOPIC_NOT_FOUND")) == FIX
    assert _footer(_failed("GID_a", "Throttling.User"), _failed("GID_b", "MissingParameter")) == FIX
    assert _footer(_failed("GID_a", None, "unexpected KeyError: 'x'")) == FIX


def test_only_not_attempted_changes_say_run_again() -> None:
    skipped = ActionOutcome(
        change=change(Action.CREATE, "GID_a"),
        status=OutcomeStatus.NOT_ATTEMPTED,
        detail="not attempted",
    )
    assert _footer(skipped) == AGAIN


def test_a_saved_plan_says_plan_again_with_the_commands() -> None:
    rerun = "reconciler plan desired.yaml -o plan.json; reconciler apply plan.json"
    transient = ApplyResult(outcomes=(_failed("GID_a", "Throttling.User"),))
    hard = ApplyResult(outcomes=(_failed("GID_a", "BIZ_TOPIC_NOT_FOUND"),))
    assert render_result_text(transient, rerun=rerun).splitlines()[-1] == (
        f"Plan again and apply the new plan ({rerun}): it picks up where this one stopped."
    )
    assert render_result_text(hard, rerun=rerun).splitlines()[-1] == (
        f"Fix the cause above, then plan again and apply the new plan ({rerun}): it picks up "
        "where this one stopped."
    )
