"""Text and JSON for what an apply did (``ApplyResult``) and would do (a dry-run call list)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from typing import Any

from reconciler.apply.calls import PlannedCall
from reconciler.apply.result import ActionOutcome, ApplyResult
from reconciler.cloud.error_codes import error_class_for
from reconciler.errors import RetryableApiError
from reconciler.plan.model import Plan
from reconciler.plan.planfile import plan_document
from reconciler.render.style import ACTION_STYLES, BOLD, FAILED, paint


def outcome_line(outcome: ActionOutcome, *, color: bool = False) -> str:
    """One line per finished action, e.g. ``+ post-cn-x/GID_a created (RequestId ...)``."""
    change = outcome.change
    symbol = paint(change.symbol, ACTION_STYLES.get(change.action, ""), color)
    text = f"{symbol} {change.key} {outcome.detail}"
    if outcome.status == "failed":
        text = f"{symbol} {change.key} {paint('failed', FAILED, color)}: {_error_text(outcome)}"
    elif outcome.request_id:
        text += f" (RequestId {outcome.request_id})"
    return text


def _error_text(outcome: ActionOutcome) -> str:
    parts = [part for part in (outcome.error_code, outcome.error_message) if part]
    text = ": ".join(parts) or "unknown error"
    if outcome.request_id:
        text += f" (RequestId {outcome.request_id})"
    return text


def _count_words(outcomes: Sequence[ActionOutcome]) -> str:
    counts = Counter(outcome.detail for outcome in outcomes)
    order = [
        "created",
        "already existed",
        "adopted",
        "updated",
        "deleted",
        "already gone",
        "forgotten",
    ]
    words = [f"{counts[detail]} {detail}" for detail in order if counts[detail]]
    words.extend(f"{n} {detail}" for detail, n in counts.items() if detail not in order)
    return ", ".join(words) if words else "nothing to do"


def render_result_text(
    result: ApplyResult, *, color: bool = False, rerun: str | None = None
) -> str:
    """The final report. On success one summary line; otherwise it lists exactly what was
    done, what failed (Code and RequestId) and what was not attempted, and what to do next:
    run the apply again, or, given ``rerun`` (a saved plan, stale once partly applied), plan
    again and apply the new plan with those commands."""
    done, failed, skipped = result.done, result.failed, result.not_attempted
    if result.ok:
        return paint(f"Apply complete: {_count_words(done)}.", BOLD, color) + "\n"

    headline = "Apply interrupted" if result.interrupted else "Apply failed"
    counts = f"{len(done)} done, {len(failed)} failed, {len(skipped)} not attempted."
    lines = [paint(f"{headline}: {counts}", BOLD, color)]
    if done:
        lines.append(f"Done ({_count_words(done)}):")
        lines.extend(f"  {outcome_line(outcome, color=color)}" for outcome in done)
    if failed:
        lines.append("Failed:")
        lines.extend(f"  {outcome_line(outcome, color=color)}" for outcome in failed)
    if skipped:
        lines.append("Not attempted:")
        lines.extend(f"  {item.change.symbol} {item.change.key}" for item in skipped)
    if result.state_error is not None:
        lines.append(
            f"The state could not be saved: {result.state_error}. The next plan adopts GIDs "
            "created here and forgets GIDs deleted here."
        )
    elif done:
        lines.append(f"Everything done is recorded in the state (serial {result.state_serial}).")
    transient = all(_transient(outcome) for outcome in failed)
    if rerun is not None:
        first = "Plan again" if transient else "Fix the cause above, then plan again"
        lines.append(
            f"{first} and apply the new plan ({rerun}): it picks up where this one stopped."
        )
    elif transient:
        lines.append("Run the apply again to finish; it picks up where this one stopped.")
    else:
        # Running again only repeats a hard error (a missing topic, a bad key, a parameter).
        lines.append(
            "Fix the cause above and run the apply again; it picks up where this one stopped."
        )
    return "\n".join(lines) + "\n"


def _transient(outcome: ActionOutcome) -> bool:
    """A failure that may pass by itself: throttling, a 5xx, a lost connection (no Code)."""
    if outcome.error_code is None:
        message = outcome.error_message or ""
        return not message.startswith("unexpected ")
    # The status is not kept with the outcome; 5xx answers carry codes listed as retryable.
    return issubclass(error_class_for(outcome.error_code, 400), RetryableApiError)


def result_document(result: ApplyResult) -> dict[str, Any]:
    def entry(outcome: ActionOutcome) -> dict[str, Any]:
        change = outcome.change
        item: dict[str, Any] = {
            "action": change.action.value,
            "region": change.region,
            "instance_id": change.instance_id,
            "group_id": change.group_id,
            "status": outcome.status,
            "detail": outcome.detail,
            "request_id": outcome.request_id,
        }
        if outcome.status == "failed":
            item["error"] = {"code": outcome.error_code, "message": outcome.error_message}
        return item

    done, failed, skipped = result.done, result.failed, result.not_attempted
    return {
        "format_version": result.format_version,
        "status": "interrupted" if result.interrupted else "ok" if result.ok else "failed",
        "summary": {
            "done": len(done),
            "failed": len(failed),
            "not_attempted": len(skipped),
            **dict(Counter(outcome.detail for outcome in done)),
        },
        "done": [entry(outcome) for outcome in done],
        "failed": [entry(outcome) for outcome in failed],
        "not_attempted": [entry(outcome) for outcome in skipped],
        "state": {
            "serial": result.state_serial,
            "writes": result.state_writes,
            "error": result.state_error,
            "lock_lost": result.lock_lost,
            "credentials_lost": result.credentials_lost,
        },
    }


def call_line(call: PlannedCall) -> str:
    if call.kind == "state":
        return f"state-only {call.action} {call.change.key} (no API call)"
    params = " ".join(f"{name}={value}" for name, value in call.params.items())
    return f"{call.action} {params}"


def render_calls_text(calls: Sequence[PlannedCall]) -> str:
    """The dry-run list: every API call in the order an apply would send it."""
    api = sum(1 for call in calls if call.kind == "api")
    steps = len(calls) - api
    if not calls:
        return "Dry run: No changes.\n"
    lines = [
        f"Dry run: {api} API call{'s' if api != 1 else ''} and {steps} state-only "
        f"step{'s' if steps != 1 else ''}; nothing is sent and the state is not written."
    ]
    width = len(str(len(calls)))
    lines.extend(f"{n:>{width}}. {call_line(call)}" for n, call in enumerate(calls, start=1))
    return "\n".join(lines) + "\n"


def calls_document(calls: Sequence[PlannedCall]) -> list[dict[str, Any]]:
    return [
        {
            "kind": call.kind,
            "action": call.action,
            "params": dict(call.params),
            "key": str(call.change.key),
        }
        for call in calls
    ]


def render_apply_json(
    plan: Plan,
    *,
    result: ApplyResult | None = None,
    calls: Sequence[PlannedCall] | None = None,
) -> str:
    """``apply --format json``: the plan applied, then the dry-run calls or the result
    (``result`` is null when there was nothing to do)."""
    document: dict[str, Any] = {
        "format_version": 1,
        "dry_run": calls is not None,
        "plan": plan_document(plan, include_inventory=False),
    }
    if calls is not None:
        document["calls"] = calls_document(calls)
    else:
        document["result"] = result_document(result) if result is not None else None
    return json.dumps(document, indent=2) + "\n"
