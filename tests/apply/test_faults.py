"""An apply through either API under injected faults (5xx, dropped connections before and
after the change) and throttling: it rides them out through the client's retries and ends in
the right state; a call whose answer was lost counts as done once the service confirms it;
an apply that fails part-way leaves a state the next run converges."""

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
from tests.fixtures.apis import ApiCase, ApiClient
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
CREATES = 160
DELETES = 40
META = PlanMeta(tool_version="test", created_at="2024-01-01T00:00:00+00:00")
OPTIONS = PlanOptions(skip_online_check=True, allow_mass_delete=True)
# The emulator's limits on the GID actions, raised so a test runs in seconds. OnsMqtt counts
# them per account and its client paces itself: it is told the same limits.
EMULATOR_RATES = {"ons": Rate(40, 1.0), "onsmqtt": Rate(50, 1.0)}
# The fault seeds under which about 1 call in 25 loses its answer after the change.
FAULT_SEEDS = {"ons": 5, "onsmqtt": 7}


def serve(api_case: ApiCase, store: EmulatorStore, fault_rate: float, seed: int) -> EmulatorServer:
    actions = api_case.write_actions if api_case.name == "ons" else api_case.group_actions
    options = EmulatorOptions(
        fault_rate=fault_rate,
        fault_seed=seed,
        throttles=dict.fromkeys(actions, EMULATOR_RATES[api_case.name]),
    )
    return EmulatorServer(store, options=options, owns_store=False).start()


def client_for(api_case: ApiCase, url: str, retry: RetryPolicy) -> ApiClient:
    credentials = Credentials(
        access_key_id=TEST_ACCESS_KEY_ID,
        access_key_secret=SecretStr(TEST_ACCESS_KEY_SECRET),
        source="test",
    )
    if api_case.name == "ons":
        return api_case.client(credentials, endpoint=url, retry=retry)
    limits = RateLimits(dict.fromkeys(api_case.group_actions, EMULATOR_RATES[api_case.name]))
    return api_case.client(credentials, endpoint=url, retry=retry, rate_limits=limits)


@pytest.fixture
def store() -> Iterator[EmulatorStore]:
    shared = seeded_store()
    try:
        yield shared
    finally:
        shared.close()


def seed_doomed(api_case: ApiCase, store: EmulatorStore, backend: LocalBackend) -> None:
    start = new_state()
    for n in range(DELETES):
        name = f"GID_old{n:03d}"
        store.add_group(TEST_INSTANCE_ID, name)
        start = start.with_resource(
            StateResource(
                region=TEST_REGION, instance_id=TEST_INSTANCE_ID, group_id=name, api=api_case.name
            )
        )
    backend.write(start, expected_serial=0)


def wanted_state(api_case: ApiCase, names: set[str]) -> DesiredState:
    return DesiredState(
        instances=(
            DesiredInstance(
                instance_id=TEST_INSTANCE_ID,
                api=api_case.name,
                groups=tuple(DesiredGroup(group_id=name) for name in sorted(names)),
            ),
        )
    )


def apply_with(
    client: ApiClient, backend: LocalBackend, desired: DesiredState
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


@pytest.mark.slow  # hundreds of calls through faults: 3 to 6 s
def test_apply_completes_under_faults_and_throttling(
    api_case: ApiCase, store: EmulatorStore, tmp_path: Path
) -> None:
    backend = local_backend(tmp_path)
    seed_doomed(api_case, store, backend)
    wanted = {f"GID_new{n:03d}" for n in range(CREATES)}
    server = serve(api_case, store, fault_rate=0.2, seed=FAULT_SEEDS[api_case.name])
    try:
        with client_for(api_case, server.url, GENEROUS) as client:
            plan, details, ok = apply_with(client, backend, wanted_state(api_case, wanted))
    finally:
        server.stop()

    assert (plan.summary.create, plan.summary.delete) == (CREATES, DELETES)
    assert ok, details
    assert set(group_ids(store, TEST_INSTANCE_ID)) == wanted
    state = backend.read()
    assert state_group_ids(state) == wanted
    assert state is not None and {r.api for r in state.resources} == {api_case.name}
    # Dropped connections after the change make some retried calls meet their own effect: a
    # retried create meets "already exists"; a retried delete "not found" (ONS) or a refusal
    # whose fresh listing shows the GID gone (OnsMqtt, which has no not-found code).
    assert set(details) <= {"created", "already existed", "deleted", "already gone"}
    # ~1 call in 25 loses its answer after the change (0.2 x 1/5 of the fault kinds): with
    # 200 calls, none at all would mean the fault path was not exercised.
    assert details["already existed"] + details["already gone"] > 0


@pytest.mark.slow  # hundreds of calls through faults: 3 to 6 s
def test_a_failed_apply_leaves_a_state_the_next_run_converges(
    api_case: ApiCase, store: EmulatorStore, tmp_path: Path
) -> None:
    backend = local_backend(tmp_path)
    seed_doomed(api_case, store, backend)
    wanted = {f"GID_new{n:03d}" for n in range(CREATES)}
    desired = wanted_state(api_case, wanted)

    faulty = serve(api_case, store, fault_rate=0.4, seed=11)
    try:
        with client_for(api_case, faulty.url, ONE_TRY) as client:
            _, details, ok = apply_with(client, backend, desired)
    finally:
        faulty.stop()
    assert not ok and details["failed"] > 0
    # The state may lag the cloud (a call whose answer was lost): the next plan adopts or
    # forgets what it missed, and retries what failed.

    healthy = serve(api_case, store, fault_rate=0.0, seed=0)
    try:
        with client_for(api_case, healthy.url, GENEROUS) as client:
            plan, details, ok = apply_with(client, backend, desired)
            assert ok, details
            assert plan.summary.create + plan.summary.adopt + plan.summary.delete > 0
            again = build_plan(desired, backend.read(), lambda r, a: client, OPTIONS, META)
    finally:
        healthy.stop()
    assert not again.plan.has_changes
    assert set(group_ids(store, TEST_INSTANCE_ID)) == wanted == state_group_ids(backend.read())


def test_a_failed_delete_of_a_gid_already_gone_counts_as_done(
    api_case: ApiCase, store: EmulatorStore, tmp_path: Path
) -> None:
    backend = local_backend(tmp_path)
    seed_doomed(api_case, store, backend)
    remove_group(store, TEST_INSTANCE_ID, "GID_old000")  # deleted by someone else meanwhile
    changes = [
        Change(
            action=Action.DELETE,
            region=TEST_REGION,
            instance_id=TEST_INSTANCE_ID,
            group_id=name,
            reason="test",
            api=api_case.name,
        )
        for name in ("GID_old000", "GID_old001")
    ]
    server = serve(api_case, store, fault_rate=0.0, seed=0)
    try:
        with client_for(api_case, server.url, GENEROUS) as client:
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
