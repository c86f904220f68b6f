"""The apply sequence: lock -> (plan | stale check) -> execute or dry-run -> unlock.

Everything that reads the state happens under the lock, and the state that the plan (or the
stale check) saw is the one the journal writes on top of, so nothing can slip in between. How a
plan is built and how a person approves it are passed in by the command layer: this module only
orders the steps and never prints.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from reconciler.apply.calls import PlannedCall, planned_calls
from reconciler.apply.executor import (
    ApplyObserver,
    ClientForRegion,
    ExecutionOptions,
    execute,
)
from reconciler.apply.journal import StateJournal
from reconciler.apply.result import ApplyResult
from reconciler.apply.stale import stale_reasons
from reconciler.errors import PlanError, PlanRefusedError, StalePlanError
from reconciler.models import CloudGroup, InstanceInventory, StateDocument
from reconciler.plan.model import Plan
from reconciler.state import new_state
from reconciler.state.base import OnWait, StateBackend
from reconciler.state.locking import hold_lock

LOCK_OPERATION = "apply"
_LIST_PARALLELISM = 8


@dataclass(frozen=True)
class ApplyRun:
    """What happened. ``result`` is None when nothing ran: no changes, a dry run (``calls``
    is then the call list), or the user declined (``declined``)."""

    plan: Plan
    result: ApplyResult | None = None
    calls: list[PlannedCall] = field(default_factory=list)
    declined: bool = False


@dataclass(frozen=True)
class RunSettings:
    execution: ExecutionOptions = field(default_factory=ExecutionOptions)
    lock_timeout: float = 0.0
    on_wait: OnWait | None = None
    dry_run: bool = False
    observer: ApplyObserver | None = None
    stop: threading.Event = field(default_factory=threading.Event)


def apply_desired(
    backend: StateBackend,
    *,
    build_plan: Callable[[StateDocument | None], Plan],
    review: Callable[[Plan], None],
    approve: Callable[[Plan], bool],
    client_for: ClientForRegion,
    settings: RunSettings,
) -> ApplyRun:
    """Plan from a desired file under the lock, show it (``review``), ask (``approve``, not
    called for a dry run or an empty plan), then execute."""
    with hold_lock(
        backend, LOCK_OPERATION, timeout=settings.lock_timeout, on_wait=settings.on_wait
    ):
        state = backend.read()
        plan = build_plan(state)
        review(plan)
        _refuse_guarded(plan)
        if not plan.has_changes:
            return ApplyRun(plan=plan)
        if settings.dry_run:
            return ApplyRun(plan=plan, calls=planned_calls(plan.changes))
        if not approve(plan):
            return ApplyRun(plan=plan, declined=True)
        result = _execute(plan, backend, state, client_for, settings)
        return ApplyRun(plan=plan, result=result)


def apply_saved(
    plan: Plan,
    backend: StateBackend,
    *,
    desired_digest: str,
    client_for: ClientForRegion,
    settings: RunSettings,
) -> ApplyRun:
    """Apply a reviewed plan file: under the lock, re-list its instances and refuse it
    (``StalePlanError``, every reason) unless the world is still the one it was made on."""
    with hold_lock(
        backend, LOCK_OPERATION, timeout=settings.lock_timeout, on_wait=settings.on_wait
    ):
        state = backend.read()
        inventories = list_inventories(plan.inventory_fingerprints, client_for)
        reasons = stale_reasons(
            plan,
            workspace=backend.workspace,
            desired_digest=desired_digest,
            state=state,
            inventories=inventories,
        )
        if reasons:
            raise StalePlanError(reasons)
        _refuse_guarded(plan)
        if not plan.has_changes:
            return ApplyRun(plan=plan)
        if settings.dry_run:
            return ApplyRun(plan=plan, calls=planned_calls(plan.changes))
        result = _execute(plan, backend, state, client_for, settings)
        return ApplyRun(plan=plan, result=result)


def _refuse_guarded(plan: Plan) -> None:
    refusals = plan.refusals()
    if refusals:
        raise PlanRefusedError(
            [
                f"{guard.message} (override: {guard.override})" if guard.override else guard.message
                for guard in refusals
            ]
        )


def _execute(
    plan: Plan,
    backend: StateBackend,
    state: StateDocument | None,
    client_for: ClientForRegion,
    settings: RunSettings,
) -> ApplyResult:
    journal = StateJournal(backend, state if state is not None else new_state())
    return execute(
        plan.changes,
        client_for=client_for,
        journal=journal,
        options=settings.execution,
        observer=settings.observer,
        stop=settings.stop,
    )


def list_inventories(
    labels: Iterable[str], client_for: ClientForRegion
) -> Mapping[str, InstanceInventory]:
    """List each ``REGION/INSTANCE_ID`` once, in parallel; CloudError propagates."""

    def one(label: str) -> InstanceInventory:
        region, sep, instance_id = label.partition("/")
        if not sep:
            raise PlanError(f"saved plan names instance {label!r}, not REGION/INSTANCE_ID")
        records = client_for(region).list_group_ids(instance_id)
        groups = tuple(
            CloudGroup(
                group_id=record.group_id,
                instance_id=record.instance_id,
                independent_naming=record.independent_naming,
                create_time=record.create_time,
                update_time=record.update_time,
            )
            for record in records
        )
        return InstanceInventory(region=region, instance_id=instance_id, groups=groups)

    wanted = sorted(set(labels))
    if not wanted:
        return {}
    with ThreadPoolExecutor(max_workers=min(_LIST_PARALLELISM, len(wanted))) as pool:
        return dict(zip(wanted, pool.map(one, wanted), strict=True))
