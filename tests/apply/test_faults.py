"""An apply rides out 20% injected faults (5xx, dropped connections before and after the
change) and throttling, through the client's retries, and ends in the right state."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.apply import ExecutionOptions, RunSettings, apply_desired
from reconciler.cloud.retry import RetryPolicy
from reconciler.emulator.server import EmulatorOptions, EmulatorServer
from reconciler.models import DesiredGroup, DesiredInstance, DesiredState, StateResource
from reconciler.plan.builder import build_plan
from reconciler.plan.diff import PlanMeta, PlanOptions
from reconciler.plan.model import Plan
from reconciler.ratelimit import Rate
from reconciler.state import new_state
from tests.fixtures.apply_kit import client_for_url, local_backend, state_group_ids
from tests.fixtures.emulator import TEST_INSTANCE_ID, TEST_REGION, seeded_server
from tests.fixtures.emulator_store import group_ids

GENEROUS = RetryPolicy(max_attempts=30, base_delay=0.02, max_delay=0.5, deadline=120.0)
CREATES = 160
DELETES = 40


@pytest.fixture
def faulty_emulator() -> Iterator[EmulatorServer]:
    options = EmulatorOptions(
        fault_rate=0.2,
        fault_seed=5,
        throttles={
            "OnsMqttGroupIdCreate": Rate(40, 1.0),
            "OnsMqttGroupIdDelete": Rate(40, 1.0),
        },
    )
    with seeded_server(options) as server:
        yield server


def test_apply_completes_under_faults_and_throttling(
    faulty_emulator: EmulatorServer, tmp_path: Path
) -> None:
    store = faulty_emulator.store
    backend = local_backend(tmp_path)
    doomed = [f"GID_old{n:03d}" for n in range(DELETES)]
    start = new_state()
    for name in doomed:
        store.add_group(TEST_INSTANCE_ID, name)
        start = start.with_resource(
            StateResource(region=TEST_REGION, instance_id=TEST_INSTANCE_ID, group_id=name)
        )
    backend.write(start, expected_serial=0)
    wanted = {f"GID_new{n:03d}" for n in range(CREATES)}
    desired = DesiredState(
        instances=(
            DesiredInstance(
                instance_id=TEST_INSTANCE_ID,
                groups=tuple(DesiredGroup(group_id=name) for name in sorted(wanted)),
            ),
        )
    )
    options = PlanOptions(skip_online_check=True, allow_mass_delete=True)
    meta = PlanMeta(tool_version="test", created_at="2024-01-01T00:00:00+00:00")

    with client_for_url(faulty_emulator.url, retry=GENEROUS) as client:

        def plan_now(state: object) -> Plan:
            return build_plan(
                desired, backend.read(), lambda region, api: client, options, meta
            ).plan

        run = apply_desired(
            backend,
            build_plan=plan_now,
            review=lambda plan: None,
            approve=lambda plan: True,
            client_for=lambda region, api: client,
            settings=RunSettings(execution=ExecutionOptions(parallelism=8)),
        )

    assert run.plan.summary.create == CREATES and run.plan.summary.delete == DELETES
    assert run.result is not None
    assert run.result.ok, [o.error_code for o in run.result.failed]
    assert set(group_ids(store, TEST_INSTANCE_ID)) == wanted
    assert state_group_ids(backend.read()) == wanted
    # Dropped connections after the change make some retried calls meet their own effect.
    details = Counter(outcome.detail for outcome in run.result.done)
    assert set(details) <= {"created", "already existed", "deleted", "already gone"}
    # ~1 call in 25 loses its answer after the change (0.2 x 1/5 of the fault kinds): with
    # 200 calls, none at all would mean the fault path was not exercised.
    assert details["already existed"] + details["already gone"] > 0
