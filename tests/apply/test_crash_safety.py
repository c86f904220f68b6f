"""SIGKILL an apply at random instants; every time, a re-apply converges and the state equals
the cloud: nothing lost (a GID created but unrecorded is adopted), nothing orphaned (a GID
deleted but still recorded is forgotten)."""

from __future__ import annotations

import random
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.emulator.server import EmulatorOptions, EmulatorServer
from reconciler.models import LocalBackendConfig
from reconciler.state.local import LocalBackend
from tests.fixtures.apply_kit import spawn_apply, state_group_ids, wait_for_progress
from tests.fixtures.emulator import TEST_INSTANCE_ID, seeded_server
from tests.fixtures.emulator_store import group_ids
from tests.fixtures.thoroughness import trials

# Each trial costs about 3 s: a few locally, all under CI (every kill point of the cycle is
# covered by the first four: before any call, then after a random number of calls).
TRIALS = trials(quick=4, full=12)
WINDOW = 240  # GIDs declared per trial
SHIFT = 110  # each trial drops the first SHIFT of the last window and adds SHIFT new ones
FLAGS = ("--auto-approve", "--skip-online-check", "--allow-mass-delete")


@pytest.fixture
def slow_emulator() -> Iterator[EmulatorServer]:
    # A little latency so a kill lands among calls in flight, as it would against the service.
    with seeded_server(EmulatorOptions(latency_ms=15)) as server:
        yield server


def write_window(path: Path, first: int) -> set[str]:
    names = [f"GID_crash{n:05d}" for n in range(first, first + WINDOW)]
    groups = "".join(f"      - {name}\n" for name in names)
    path.write_text(
        "version: 1\nbackend:\n  local:\n    path: state.json\n"
        f"instances:\n  - id: {TEST_INSTANCE_ID}\n    groups:\n{groups}",
        encoding="utf-8",
    )
    return set(names)


def test_apply_killed_at_random_instants_always_converges(
    slow_emulator: EmulatorServer, tmp_path: Path
) -> None:
    rng = random.Random(20240601)
    desired_file = tmp_path / "desired.yaml"
    backend = LocalBackend(LocalBackendConfig(path="state.json"), base_dir=tmp_path)
    store = slow_emulator.store
    killed_mid_apply = 0

    for trial in range(TRIALS):
        wanted = write_window(desired_file, trial * SHIFT)
        # Kill before any call (planning, lock) or after a random number of finished calls.
        finished_before_kill = 0 if trial % 4 == 0 else rng.randint(1, 2 * SHIFT - 1)
        process = spawn_apply(tmp_path, slow_emulator.url, "desired.yaml", *FLAGS)
        try:
            wait_for_progress(process, finished_before_kill)
            process.send_signal(signal.SIGKILL)
        finally:
            process.communicate(timeout=60)
        if process.returncode == -signal.SIGKILL:
            killed_mid_apply += 1

        # The state survives any kill intact (atomic writes), possibly behind the cloud.
        crashed_state = backend.read()
        recorded = state_group_ids(crashed_state)
        cloud_now = set(group_ids(store, TEST_INSTANCE_ID))
        # Whatever is recorded but missing was deleted by the killed run, never anything else.
        assert recorded - cloud_now <= recorded - wanted

        rerun = spawn_apply(tmp_path, slow_emulator.url, "desired.yaml", *FLAGS)
        out, err = rerun.communicate(timeout=120)
        assert rerun.returncode == 0, f"trial {trial}: {err}\n{out[-2000:]}"
        final_state = backend.read()
        cloud_after = set(group_ids(store, TEST_INSTANCE_ID))
        assert cloud_after == wanted, f"trial {trial}"
        assert state_group_ids(final_state) == cloud_after, f"trial {trial}"
        assert backend.lock_holder() is None

    assert killed_mid_apply >= TRIALS // 2  # the kills really landed while applying
