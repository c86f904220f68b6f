"""The apply sequence: lock -> (plan | stale check, digest, plan again and compare) -> online
re-check -> execute or dry-run -> unlock.

Everything that reads the state happens under the lock, and the state that the plan (or the
stale check) saw is the one the journal writes on top of, so nothing can slip in between. A
state bound to other desired inputs or another cloud is refused before anything is listed, and
every write records this run's binding. How a
plan is built and how a person approves it are passed in by the command layer: this module only
orders the steps and never prints.
"""

from __future__ import annotations

import shlex
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from functools import partial

from reconciler.apply.calls import PlannedCall, planned_calls
from reconciler.apply.executor import ApplyObserver, ExecutionOptions, execute
from reconciler.apply.interrupt import stop_on_sigint
from reconciler.apply.journal import StateJournal
from reconciler.apply.metadata import with_desired_metadata
from reconciler.apply.result import ApplyResult
from reconciler.errors import (
    ApplyError,
    LockLostError,
    PlanError,
    PlanMismatchError,
    StalePlanError,
)
from reconciler.models import DesiredState, StateDocument
from reconciler.plan.builder import (
    ClientFor,
    LocateDeclarations,
    Refreshed,
    instance_apis,
    refresh,
)
from reconciler.plan.listings import needed_listings
from reconciler.plan.model import Plan
from reconciler.plan.online_recheck import refuse_if_online
from reconciler.plan.options import PlanOptions
from reconciler.plan.planfile import check_fresh, digest_problem, ensure_appliable
from reconciler.plan.replan import first_difference, override_words, recorded_options, replan
from reconciler.state import new_state
from reconciler.state.base import OnWait, StateBackend
from reconciler.state.binding import RunBinding, bound, check_binding
from reconciler.state.locking import hold_lock

LOCK_OPERATION = "apply"
# Raises LockLostError once the state lock this apply holds was broken.
CheckLock = Callable[[], None]
# What a refused apply advises when deletes' GIDs have clients online now (see
# ``plan.online_recheck``). A saved plan takes no override: it is applied as reviewed.
SAVED_PLAN_ADVICE = (
    "plan again to review them (plan with --allow-online-delete to delete them anyway)"
)
DESIRED_FILE_ADVICE = (
    "apply again to review them (with --allow-online-delete to delete them anyway)"
)


@dataclass(frozen=True)
class ApplyRun:
    """What happened. ``result`` is None when nothing ran: no changes, a dry run (``calls``
    is then the call list), or the user declined (``declined``)."""

    plan: Plan
    result: ApplyResult | None = None
    calls: list[PlannedCall] = field(default_factory=list)
    declined: bool = False
    # The plan had no changes but the state was written to record the file's API and known
    # client ids of GIDs it manages (see ``apply.metadata``).
    metadata_recorded: bool = False


@dataclass(frozen=True)
class RunSettings:
    execution: ExecutionOptions = field(default_factory=ExecutionOptions)
    # False skips the state lock; only a dry run (which writes nothing) may.
    lock: bool = True
    lock_timeout: float = 0.0
    on_wait: OnWait | None = None
    dry_run: bool = False
    observer: ApplyObserver | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    # Turn SIGINT into ``stop`` while the calls run (the CLI sets this; library callers may
    # not want their signal handlers touched).
    catch_sigint: bool = False
    # Told what is being looked up before the calls (the online re-check); never printed here.
    progress: Callable[[str], None] | None = None


def apply_desired(
    backend: StateBackend,
    *,
    build_plan: Callable[[StateDocument | None], Plan],
    review: Callable[[Plan], None],
    approve: Callable[[Plan], bool],
    client_for: ClientFor,
    settings: RunSettings,
    desired: DesiredState | None = None,
    recheck_after_approval: bool = False,
    binding: RunBinding | None = None,
) -> ApplyRun:
    """Plan from a desired file under the lock, show it (``review``), ask (``approve``, not
    called for a dry run or an empty plan), then execute. With ``desired`` (the file planned)
    the state also records its API and known client ids (``apply.metadata``).

    ``recheck_after_approval``: a person answered the prompt, maybe long after the plan's
    online look-up, so the deletes' online clients are looked up again once approved. An
    auto-approved plan's look-up is seconds old: asking again would only double its paced cost.

    ``binding``: the state must be bound to it (else ``StateBindingError`` before the plan),
    and every write records it.
    """

    def approve_then_recheck(plan: Plan) -> bool:
        if not approve(plan):
            return False
        if recheck_after_approval:
            _refuse_if_online(plan, client_for, settings, DESIRED_FILE_ADVICE)
        return True

    with _state_lock(backend, settings) as check_lock:
        state = _read_bound(backend, binding)
        plan = build_plan(state)
        review(plan)
        return _run(
            plan,
            backend,
            state,
            client_for,
            settings,
            desired=desired,
            approve=approve_then_recheck,
            binding=binding,
            check_lock=check_lock,
        )


def apply_saved(
    saved: Plan,
    backend: StateBackend,
    *,
    desired: DesiredState,
    client_for: ClientFor,
    settings: RunSettings,
    source: str = "the saved plan",
    locate: LocateDeclarations | None = None,
    confirmed: PlanOptions | None = None,
    binding: RunBinding | None = None,
) -> ApplyRun:
    """Apply a reviewed plan file (``source`` names it): under the lock, refuse a state bound
    elsewhere (``binding``, as for ``apply_desired``), re-list its instances and refuse it
    (``StalePlanError``, every reason) unless the world is still the one it was made on;
    refuse it (``PlanMismatchError``) if the file was edited or differs from the plan its
    inputs give now (``plan.replan``: ``locate`` as for planning), or if an override it was
    made with is not ``confirmed`` by the apply command; then
    refuse it (``ClientsOnlineError``) if a delete's GID has clients online now that the plan
    did not override. What runs is the plan made now, never the file's changes. A dry run is
    refused alike: it shows what the apply would do."""
    with _state_lock(backend, settings) as check_lock:
        state = _read_bound(backend, binding)
        refreshed = list_inventories(saved, desired, client_for, state)
        reasons = check_fresh(
            saved,
            desired,
            state,
            refreshed.by_label(),
            workspace=backend.workspace,
            state_backend=backend.describe(),
        )
        if reasons:
            raise StalePlanError(reasons)
        problem = digest_problem(saved, source)
        if problem is not None:
            raise PlanMismatchError(problem)
        plan = replan(saved, desired, state, refreshed, client_for, locate=locate)
        difference = first_difference(saved, plan)
        if difference is not None:
            raise PlanMismatchError(
                f"{source} differs from the plan its inputs give now: {difference}; plan "
                "again and apply the new plan"
            )
        ensure_appliable(plan)  # a refused plan spends no look-up
        _refuse_unconfirmed_overrides(saved, confirmed or PlanOptions(), source)
        _refuse_if_online(plan, client_for, settings, SAVED_PLAN_ADVICE)
        return _run(
            plan,
            backend,
            state,
            client_for,
            settings,
            desired=desired,
            binding=binding,
            check_lock=check_lock,
        )


def _read_bound(backend: StateBackend, binding: RunBinding | None) -> StateDocument | None:
    state = backend.read()
    if binding is not None:
        check_binding(state, binding, where=backend.describe())
    return state


def _refuse_if_online(
    plan: Plan, client_for: ClientFor, settings: RunSettings, advice: str
) -> None:
    refuse_if_online(
        plan,
        client_for,
        advice=advice,
        parallelism=settings.execution.parallelism,
        progress=settings.progress,
    )


def _with_metadata(
    state: StateDocument | None, desired: DesiredState | None, binding: RunBinding | None
) -> StateDocument | None:
    """``state`` with the file's per-GID metadata and this run's binding; the same object when
    neither changes anything (then a plan without changes writes nothing)."""
    if state is None:
        return state
    if desired is not None:
        state = with_desired_metadata(state, desired)
    return bound(state, binding.binding if binding is not None else None)


def _metadata_only(
    plan: Plan,
    backend: StateBackend,
    state: StateDocument | None,
    base: StateDocument | None,
    settings: RunSettings,
) -> ApplyRun:
    """A plan without changes: write the state only if its metadata lags the file."""
    if state is None or base is None or base is state or settings.dry_run:
        return ApplyRun(plan=plan)
    backend.write(base, expected_serial=state.serial)
    return ApplyRun(plan=plan, metadata_recorded=True)


@contextmanager
def _state_lock(backend: StateBackend, settings: RunSettings) -> Iterator[CheckLock | None]:
    """Hold the state lock for the block; yields the check the executor runs before each
    call (None without a lock)."""
    if not settings.lock:
        if not settings.dry_run:
            raise ApplyError("only a dry run may skip the state lock: apply writes the state")
        yield None
        return
    finished = False
    try:
        with hold_lock(
            backend, LOCK_OPERATION, timeout=settings.lock_timeout, on_wait=settings.on_wait
        ) as info:
            yield partial(backend.check_lock, info.id)
            finished = True
    except LockLostError:
        # A lock lost while the apply ran is in its result (the executor checks it before
        # each call, and the state write fails with it); releasing it then cannot succeed,
        # and raising here would drop the report of what was done.
        if not finished:
            raise


def _run(
    plan: Plan,
    backend: StateBackend,
    state: StateDocument | None,
    client_for: ClientFor,
    settings: RunSettings,
    *,
    desired: DesiredState | None,
    approve: Callable[[Plan], bool] | None = None,
    binding: RunBinding | None = None,
    check_lock: CheckLock | None = None,
) -> ApplyRun:
    """The steps after the plan: refuse, record only metadata when nothing changes, stop at a
    dry run, ask, execute."""
    ensure_appliable(plan)
    base = _with_metadata(state, desired, binding)
    if not plan.has_changes:
        return _metadata_only(plan, backend, state, base, settings)
    if settings.dry_run:
        return ApplyRun(plan=plan, calls=planned_calls(plan.changes, client_for))
    if approve is not None and not approve(plan):
        return ApplyRun(plan=plan, declined=True)
    if base is None:
        base = bound(new_state(), binding.binding if binding is not None else None)
    journal = StateJournal(backend, base, stored=state)
    with ExitStack() as stack:
        if settings.catch_sigint:
            stack.enter_context(stop_on_sigint(settings.stop))
        result = execute(
            plan.changes,
            client_for=client_for,
            journal=journal,
            options=settings.execution,
            observer=settings.observer,
            stop=settings.stop,
            check_lock=check_lock,
        )
    return ApplyRun(plan=plan, result=result)


def _refuse_unconfirmed_overrides(saved: Plan, confirmed: PlanOptions, source: str) -> None:
    """A saved plan's guard overrides take effect only when the apply repeats each of them
    (``confirmed``): the file is an artifact anyone who can write it can edit (its digest is
    no signature), while the apply command line belongs to whoever runs it."""
    recorded = override_words(recorded_options(saved))
    given = override_words(confirmed)
    if all(words in given for words in recorded):
        return
    said = ", ".join(" ".join(words) for words in recorded)
    command = ["reconciler", "apply", source, *(word for words in recorded for word in words)]
    raise PlanError(
        f"{source} was made with {said}: an override takes effect only when apply repeats it "
        f"({shlex.join(command)})"
    )


def list_inventories(
    plan: Plan,
    desired: DesiredState,
    client_for: ClientFor,
    state: StateDocument | None = None,
) -> Refreshed:
    """What the cloud lists now for every instance the plan fingerprinted (``by_label``:
    by ``REGION/INSTANCE_ID``), with the kind listings the plan made (the same inputs choose
    them); a declared instance the cloud does not know is a PlanError."""
    refs: list[tuple[str, str]] = []
    for label in plan.inventory_fingerprints:
        region, sep, instance_id = label.partition("/")
        if not sep:
            raise PlanError(f"the saved plan names instance {label!r}, not REGION/INSTANCE_ID")
        refs.append((region, instance_id))
    declared = {(instance.region, instance.instance_id) for instance in desired.instances}
    return refresh(
        client_for,
        [ref for ref in refs if ref in declared],
        [ref for ref in refs if ref not in declared],
        apis=instance_apis(desired, state),
        listings=needed_listings(desired, state, recorded_options(plan).targets),
    )
