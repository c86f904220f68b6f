"""Run a plan's changes against the cloud: bounded concurrency, paced, journaled.

The feeder (the calling thread) walks the changes in plan order. State-only steps (adopt,
forget) are recorded at once. API calls wait for a free worker slot and, with a rate, a token
from their action's bucket, then run on a thread pool. Each finished call is recorded in the
``StateJournal`` before it is reported to the observer. Setting ``stop`` (SIGINT) stops the
feeder; calls in flight finish and are recorded. One failed call never stops the others.
Retries of transient errors are the client's job, not ours.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

from reconciler.apply.calls import PlannedCall, planned_calls, send
from reconciler.apply.journal import StateJournal
from reconciler.apply.result import ActionOutcome, ApplyResult, OutcomeStatus
from reconciler.errors import CloudApiError, CloudError, CredentialsError, LockLostError, StateError
from reconciler.models import (
    StateOrigin,
    StateResource,
    construct_trusted,
    named_values,
    write_only_digest,
)
from reconciler.plan.builder import ClientFor
from reconciler.plan.model import Action, Change
from reconciler.plan.options import DEFAULT_PARALLELISM
from reconciler.ratelimit import Rate, TokenBucket

_POLL_SECONDS = 0.1
# The fields set of every resource the executor records: all of them (shared, never mutated).
_RECORDED_FIELDS = set(StateResource.model_fields)
_STATE_STEP_DETAIL = {Action.ADOPT: "adopted", Action.FORGET: "forgotten", Action.UPDATE: "updated"}


class ApplyObserver(Protocol):
    """Progress hooks; called one at a time (never concurrently), from any thread."""

    def started(self, total: int) -> None: ...

    def finished(self, outcome: ActionOutcome) -> None: ...


@dataclass(frozen=True)
class ExecutionOptions:
    parallelism: int = DEFAULT_PARALLELISM
    # Applies to each API action separately (creates and deletes each get a bucket).
    rate: Rate | None = None


def execute(
    changes: Sequence[Change],
    *,
    client_for: ClientFor,
    journal: StateJournal,
    options: ExecutionOptions = ExecutionOptions(),
    observer: ApplyObserver | None = None,
    stop: threading.Event | None = None,
    check_lock: Callable[[], None] | None = None,
) -> ApplyResult:
    """Apply ``changes`` in order; returns one outcome per change, never raises for a failed
    call. The journal is flushed before returning; a state that cannot be saved is reported in
    ``ApplyResult.state_error``. ``check_lock`` (raises ``LockLostError``) runs before each
    API call: once the state lock is lost nothing more is started (``ApplyResult.lock_lost``),
    since another run may be changing the same GIDs."""
    if options.parallelism < 1:
        raise ValueError("parallelism must be at least 1")
    run = _Run(
        client_for, journal, options, observer, stop or threading.Event(), check_lock=check_lock
    )
    calls = planned_calls(changes, client_for)
    # What is alive now (the desired state, the plan, the state, the calls: millions of
    # objects in a large apply) outlives the calls, yet each full collection while they ran
    # scanned it all, freeing nothing: seeding 10,000 creates spent 5% of the client's CPU so.
    # Frozen out of the collector's sight for the calls, and handed back after.
    gc.freeze()
    try:
        return run.execute(calls)
    finally:
        gc.unfreeze()


class _Run:
    def __init__(
        self,
        client_for: ClientFor,
        journal: StateJournal,
        options: ExecutionOptions,
        observer: ApplyObserver | None,
        stop: threading.Event,
        *,
        check_lock: Callable[[], None] | None = None,
    ) -> None:
        self._client_for = client_for
        self._check_lock = check_lock
        self._lock_lost: str | None = None
        self._credentials_lost: str | None = None
        self._journal = journal
        self._options = options
        self._observer = observer
        self._observer_lock = threading.Lock()
        self._stop = stop
        # Set by SIGINT (``stop``), a lost lock or a state write that failed: stop scheduling, since
        # every further call would widen the gap between the cloud and the state.
        self._halt = threading.Event()
        self._slots = threading.Semaphore(options.parallelism)
        self._buckets: dict[str, TokenBucket] = {}
        if options.rate is not None:
            self._buckets = {
                action.value: TokenBucket(options.rate)
                for action in (Action.CREATE, Action.UPDATE, Action.DELETE)
            }

    def _halted(self) -> bool:
        if self._stop.is_set() or self._journal.error is not None:
            self._halt.set()
        return self._halt.is_set()

    def execute(self, calls: list[PlannedCall]) -> ApplyResult:
        outcomes: list[ActionOutcome | None] = [None] * len(calls)
        self._notify_started(len(calls))
        futures: list[Future[None]] = []
        # One thread more than calls in flight: the worker that happens to write the state
        # (group commit) must not hold back the next call.
        with ThreadPoolExecutor(
            max_workers=self._options.parallelism + 1, thread_name_prefix="apply"
        ) as pool:
            for index, call in enumerate(calls):
                if self._halted():
                    break
                if call.kind == "state":
                    detail = _STATE_STEP_DETAIL[call.change.action]
                    self._finish(outcomes, index, done(call.change, detail, None))
                    continue
                if not self._take_slot():
                    break
                if not self._take_token(call.change.action):
                    self._slots.release()
                    break
                futures.append(pool.submit(self._call_in_worker, outcomes, index, call))
            # Leaving the ``with`` waits for every call in flight.
        for future in futures:
            future.result()  # _call_in_worker never raises; this surfaces bugs, not API errors

        state_error = None
        try:
            self._journal.flush_pending()
        except StateError as exc:
            state_error = str(exc)
            if isinstance(exc, LockLostError):
                self._note_lock_lost(exc)
        final = tuple(
            outcome
            if outcome is not None
            else ActionOutcome(
                change=call.change, status=OutcomeStatus.NOT_ATTEMPTED, detail="not attempted"
            )
            for outcome, call in zip(outcomes, calls, strict=True)
        )
        return ApplyResult(
            outcomes=final,
            interrupted=self._stop.is_set(),
            lock_lost=self._lock_lost,
            credentials_lost=self._credentials_lost,
            state_error=state_error,
            state_serial=self._journal.serial,
            state_writes=self._journal.writes,
        )

    # --- scheduling -------------------------------------------------------------------------

    def _take_slot(self) -> bool:
        while not self._slots.acquire(timeout=_POLL_SECONDS):
            if self._halted():
                return False
        if self._halted():
            self._slots.release()
            return False
        return True

    def _take_token(self, action: Action) -> bool:
        bucket = self._buckets.get(action.value)
        if bucket is None:
            return True
        while not bucket.try_acquire():
            # Waking on ``stop`` keeps Ctrl-C prompt even at a slow rate.
            if self._stop.wait(min(bucket.wait_time(), _POLL_SECONDS)) or self._halted():
                return False
        return True

    # --- doing ------------------------------------------------------------------------------

    def _call_in_worker(
        self, outcomes: list[ActionOutcome | None], index: int, call: PlannedCall
    ) -> None:
        try:
            outcome = self._api_call(call) if self._still_locked() else None
        finally:
            self._slots.release()
        if outcome is not None:  # else left "not attempted"
            self._finish(outcomes, index, outcome)

    def _still_locked(self) -> bool:
        """Asked right before each call: a lock lost since the last one halts the run."""
        if self._check_lock is None:
            return True
        try:
            self._check_lock()
        except LockLostError as exc:
            self._note_lock_lost(exc)
            return False
        return True

    def _note_lock_lost(self, exc: LockLostError) -> None:
        with self._observer_lock:
            if self._lock_lost is None:
                self._lock_lost = str(exc)
        self._halt.set()

    def _finish(
        self, outcomes: list[ActionOutcome | None], index: int, outcome: ActionOutcome
    ) -> None:
        if outcome.status is OutcomeStatus.DONE:
            self._record(outcome.change)
        outcomes[index] = outcome
        if self._observer is not None:
            with self._observer_lock:
                self._observer.finished(outcome)

    def _notify_started(self, total: int) -> None:
        if self._observer is not None:
            with self._observer_lock:
                self._observer.started(total)

    def _record(self, change: Change) -> None:
        if change.action in (Action.DELETE, Action.FORGET):
            self._journal.drop(change.key)
            return
        # Each write-only value sent is kept as a digest with a salt of its own.
        digests = named_values(
            {
                item.name: write_only_digest(item.value.get_secret_value())
                for item in change.write_only
            }
        )
        if change.action is Action.UPDATE and change.in_state:
            self._journal.amend(
                change.key, protect=change.protect, attributes=change.attributes, digests=digests
            )
            return
        # An update of a resource not yet in the state adopts it with what the call set.
        origin: StateOrigin = "created" if change.action is Action.CREATE else "adopted"
        # Every value comes from the validated plan (validating it again cost a create a
        # tenth of the client's CPU time in a large apply); every field is given, in order.
        values = {
            "kind": change.kind,
            "region": change.region,
            "instance_id": change.instance_id,
            "group_id": change.group_id,
            "topic": change.topic,
            "protect": change.protect,
            "origin": origin,
            "recorded_at": now_text(),
            "api": change.api,
            "clients": change.clients,
            "attributes": change.attributes,
            "digests": digests,
        }
        self._journal.put(construct_trusted(StateResource, _RECORDED_FIELDS, values))

    def _api_call(self, call: PlannedCall) -> ActionOutcome:
        """The call, made and confirmed by its kind's capability over the instance's client
        (which reports a create of one that exists, or a delete of one that is gone, as done
        once it made sure)."""
        change = call.change
        try:
            confirmed = send(change, self._client_for(change.region, change.api))
        except CredentialsError as exc:
            # Temporary credentials that cannot be refreshed fail every later call the same
            # way: start none (as with a lost lock). This call may have had an attempt sent.
            with self._observer_lock:
                if self._credentials_lost is None:
                    self._credentials_lost = str(exc)
            self._halt.set()
            return ActionOutcome(
                change=change, status=OutcomeStatus.FAILED, detail="failed", error_message=str(exc)
            )
        except Exception as exc:  # a bug must not cost the state of the calls that worked
            return failed(change, exc)
        return done(change, confirmed.detail, confirmed.request_id)


def done(change: Change, detail: str, request_id: str | None) -> ActionOutcome:
    return ActionOutcome(
        change=change, status=OutcomeStatus.DONE, detail=detail, request_id=request_id
    )


def failed(change: Change, exc: Exception) -> ActionOutcome:
    """A failed call's outcome; an exception that is no CloudError is a bug, said so."""
    if isinstance(exc, CloudApiError):
        return ActionOutcome(
            change=change,
            status=OutcomeStatus.FAILED,
            detail="failed",
            request_id=exc.request_id,
            error_code=exc.code,
            error_message=exc.api_message,
        )
    message = str(exc) if isinstance(exc, CloudError) else f"unexpected {type(exc).__name__}: {exc}"
    return ActionOutcome(
        change=change, status=OutcomeStatus.FAILED, detail="failed", error_message=message
    )


def now_text() -> str:
    """``datetime.now(UTC).isoformat(timespec="seconds")``, at under half its cost (one per
    recorded resource)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())
