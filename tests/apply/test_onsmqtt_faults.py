"""An apply on an onsmqtt instance (OnsMqtt 2020-04-20) under injected faults: it rides them out
through the client's retries, a delete whose answer was lost counts as done once the listing no
longer shows the GID, and an apply that fails part-way leaves a state the next run converges."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from reconciler.apply import ExecutionOptions, RunSettings, apply_desired, execute
from reconciler.apply.journal import StateJournal
from reconciler.apply.result import OutcomeStatus
from reconciler.cloud.credentials import Credentials
from reconciler.cloud.onsmqtt import OnsMqttClient
from reconciler.cloud.pacing import RateLimits
from reconciler.cloud.retry import RetryPolicy
from reconciler.emulator.server import EmulatorOptions, EmulatorServer
from reconciler.emulator.store import EmulatorStore
from reconciler.models import (
    DesiredGroup,
    DesiredInstance,
    DesiredState,
    StateDocument,
    StateResource,
)
from reconciler.plan.builder import build_plan
from reconciler.plan.diff import PlanMeta, PlanOptions
from reconciler.plan.model import Action, Change, Plan
from reconciler.ratelimit import Rate
from reconciler.state import new_state
from reconciler.state.local import LocalBackend
from tests.fixtures.apply_kit import local_backend, state_group_ids
from tests.fixtures.emulator import (
    TEST_ACCESS_KEY_ID,
    TEST_ACCESS_KEY_SECRET,
    TEST_INSTANCE_ID,
    TEST_REGION,
    seeded_store,
)
from tests.fixtures.emulator_store import group_ids, remove_group

GENEROUS = RetryPolicy(max_attempts=30, base_delay=0.02, max_delay=0.5, deadline=120.0)
ONE_TRY = RetryPolicy(max_attempts=1, base_delay=0.01, max_delay=0.01, deadline=5.0)
FAST = Rate(50, 1.0)
GROUP_ACTIONS = ("CreateGroupId", "DeleteGroupId", "ListGroupId")
CREATES = 160
DELETES = 40
META = PlanMeta(tool_version="test", created_at="2024-01-01T00:00:00+00:00")
OPTIONS = PlanOptions(skip_online_check=True, allow_mass_delete=True)


def serve(store: EmulatorStore, fault_rate: float, seed: int) -> EmulatorServer:
    # The account limit raised so the test runs in seconds; the client is told the same.
    options = EmulatorOptions(
        fault_rate=fault_rate,
        fault_seed=seed,
        throttles=dict.fromkeys(GROUP_ACTIONS, FAST),
    )
    return EmulatorServer(store, options=options, owns_store=False).start()


def onsmqtt_client(url: str, retry: RetryPolicy) -> OnsMqttClient:
    credentials = Credentials(
        access_key_id=TEST_ACCESS_KEY_ID,
        access_key_secret=SecretStr(TEST_ACCESS_KEY_SECRET),
        source="test",
    )
    limits = RateLimits(dict.fromkeys(GROUP_ACTIONS, FAST))
    return OnsMqttClient(
        credentials, region=TEST_REGION, endpoint=url, retry=retry, rate_limits=limits
    )


@pytest.fixture
def store() -> Iterator[EmulatorStore]:
    shared = seeded_store()
    try:
        yield shared
    finally:
        shared.close()


def seed_doomed(store: EmulatorStore, backend: LocalBackend) -> None:
    start = new_state()
    for n in range(DELETES):
        name = f"GID_old{n:03d}"
        store.add_group(TEST_INSTANCE_ID, name)
        start = start.with_resource(
            StateResource(
                region=TEST_REGION, instance_id=TEST_INSTANCE_ID, group_id=name, api="onsmqtt"
            )
        )
    backend.write(start, expected_serial=0)


def wanted_state(names: set[str]) -> DesiredState:
    return DesiredState(
        instances=(
            DesiredInstance(
                instance_id=TEST_INSTANCE_ID,
                api="onsmqtt",
                groups=tuple(DesiredGroup(group_id=name) for name in sorted(names)),
            ),
        )
    )


def apply_with(
    client: OnsMqttClient, backend: LocalBackend, desired: DesiredState
) -> tuple[Plan, Counter[str], bool]:
    def plan_now(state: StateDocument | None) -> Plan:
        return build_plan(desired, state, lambda region, api: client, OPTIONS, META).plan

    run = apply_desired(
        backend,
        build_plan=plan_now,
        review=lambda plan: None,
        approve=lambda plan: True,
        client_for=lambda region, api: client,
        settings=RunSettings(execution=ExecutionOptions(parallelism=8)),
        desired=desired,
    )
    assert run.result is not None
    details = Counter(outcome.detail for outcome in run.result.outcomes)
    return run.plan, details, run.result.ok


def test_onsmqtt_apply_completes_under_faults(store: EmulatorStore, tmp_path: Path) -> None:
    backend = local_backend(tmp_path)
    seed_doomed(store, backend)
    wanted = {f"GID_new{n:03d}" for n in range(CREATES)}
    server = serve(store, fault_rate=0.2, seed=7)
    try:
        with onsmqtt_client(server.url, GENEROUS) as client:
            plan, details, ok = apply_with(client, backend, wanted_state(wanted))
    finally:
        server.stop()

    assert (plan.summary.create, plan.summary.delete) == (CREATES, DELETES)
    assert ok, details
    assert set(group_ids(store, TEST_INSTANCE_ID)) == wanted
    state = backend.read()
    assert state_group_ids(state) == wanted
    assert state is not None and {r.api for r in state.resources} == {"onsmqtt"}
    assert set(details) <= {"created", "already existed", "deleted", "already gone"}
    # ~1 call in 25 loses its answer after the change: a retried create meets "already
    # exists", a retried delete fails (no not-found code) and the listing shows it gone.
    assert details["already existed"] + details["already gone"] > 0


def test_failed_onsmqtt_apply_leaves_a_state_the_next_run_converges(
    store: EmulatorStore, tmp_path: Path
) -> None:
    backend = local_backend(tmp_path)
    seed_doomed(store, backend)
    wanted = {f"GID_new{n:03d}" for n in range(CREATES)}
    desired = wanted_state(wanted)

    faulty = serve(store, fault_rate=0.4, seed=11)
    try:
        with onsmqtt_client(faulty.url, ONE_TRY) as client:
            _, details, ok = apply_with(client, backend, desired)
    finally:
        faulty.stop()
    assert not ok and details["failed"] > 0
    # The state may lag the cloud (a call whose answer was lost): the next plan adopts or
    # forgets what it missed, and retries what failed.

    healthy = serve(store, fault_rate=0.0, seed=0)
    try:
        with onsmqtt_client(healthy.url, GENEROUS) as client:
            plan, details, ok = apply_with(client, backend, desired)
            assert ok, details
            assert plan.summary.create + plan.summary.adopt + plan.summary.delete > 0
            again = build_plan(desired, backend.read(), lambda r, a: client, OPTIONS, META)
    finally:
        healthy.stop()
    assert not again.plan.has_changes
    assert set(group_ids(store, TEST_INSTANCE_ID)) == wanted == state_group_ids(backend.read())


def test_a_failed_delete_of_a_gid_already_gone_counts_as_done(
    store: EmulatorStore, tmp_path: Path
) -> None:
    backend = local_backend(tmp_path)
    seed_doomed(store, backend)
    remove_group(store, TEST_INSTANCE_ID, "GID_old000")  # deleted by someone else meanwhile
    changes = [
        Change(
            action=Action.DELETE,
            region=TEST_REGION,
            instance_id=TEST_INSTANCE_ID,
            group_id=name,
            reason="test",
            api="onsmqtt",
        )
        for name in ("GID_old000", "GID_old001")
    ]
    server = serve(store, fault_rate=0.0, seed=0)
    try:
        with onsmqtt_client(server.url, GENEROUS) as client:
            state = backend.read()
            assert state is not None
            result = execute(
                changes, client_for=lambda region, api: client, journal=StateJournal(backend, state)
            )
    finally:
        server.stop()
    gone, deleted = result.outcomes
    assert (gone.status, gone.detail) == (OutcomeStatus.DONE, "already gone")
    assert (deleted.status, deleted.detail) == (OutcomeStatus.DONE, "deleted")
    assert {"GID_old000", "GID_old001"}.isdisjoint(state_group_ids(backend.read()))
