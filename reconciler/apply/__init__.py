"""Apply: lock -> stale check -> execute (or dry-run) -> persist after each step -> unlock.

``runner`` orders the steps; ``executor`` runs the calls (bounded, paced, journaled);
``journal`` funnels state writes through one writer; ``calls`` maps changes to API calls (the
dry-run list); ``result`` is the report. Staleness of saved plans is explained by
``reconciler.plan.planfile.check_fresh``.

May import: plan, state, cloud, models, errors, ratelimit; never commands or cli
(see ARCHITECTURE.md, layers).
"""

from __future__ import annotations

from reconciler.apply.calls import PlannedCall, planned_calls
from reconciler.apply.executor import ApplyObserver, ExecutionOptions, execute
from reconciler.apply.interrupt import stop_on_sigint
from reconciler.apply.journal import StateJournal
from reconciler.apply.result import ActionOutcome, ApplyResult, OutcomeStatus
from reconciler.apply.runner import ApplyRun, RunSettings, apply_desired, apply_saved

__all__ = [
    "ActionOutcome",
    "ApplyObserver",
    "ApplyResult",
    "ApplyRun",
    "ExecutionOptions",
    "OutcomeStatus",
    "PlannedCall",
    "RunSettings",
    "StateJournal",
    "apply_desired",
    "apply_saved",
    "execute",
    "planned_calls",
    "stop_on_sigint",
]
