"""Ctrl-C during an apply: stop scheduling, finish calls in flight, save, unlock, exit 130."""

from __future__ import annotations

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

GIDS = 150


@pytest.fixture
def slow_emulator() -> Iterator[EmulatorServer]:
    with seeded_server(EmulatorOptions(latency_ms=50)) as server:
        yield server


def test_sigint_stops_scheduling_saves_the_state_and_exits_130(
    slow_emulator: EmulatorServer, tmp_path: Path
) -> None:
    names = [f"GID_int{n:04d}" for n in range(GIDS)]
    groups = "".join(f"      - {name}\n" for name in names)
    (tmp_path / "desired.yaml").write_text(
        "version: 1\nbackend:\n  local:\n    path: state.json\n"
        f"instances:\n  - id: {TEST_INSTANCE_ID}\n    groups:\n{groups}",
        encoding="utf-8",
    )
    backend = LocalBackend(LocalBackendConfig(path="state.json"), base_dir=tmp_path)

    process = spawn_apply(
        tmp_path, slow_emulator.url, "desired.yaml", "--auto-approve", "--parallelism", "4"
    )
    try:
        wait_for_progress(process, 12)
        process.send_signal(signal.SIGINT)
    finally:
        out, err = process.communicate(timeout=60)

    assert process.returncode == 130, err
    assert "Apply interrupted:" in out
    assert "Not attempted:" in out
    assert "Interrupted: the state holds everything done so far." in err
    assert "Traceback" not in err
    cloud = set(group_ids(slow_emulator.store, TEST_INSTANCE_ID))
    assert 12 <= len(cloud) < GIDS
    # Calls in flight at the signal finished and were recorded: the state is the cloud.
    assert state_group_ids(backend.read()) == cloud
    assert backend.lock_holder() is None

    rerun = spawn_apply(tmp_path, slow_emulator.url, "desired.yaml", "--auto-approve")
    out, err = rerun.communicate(timeout=60)
    assert rerun.returncode == 0, err
    assert f"Plan: {GIDS - len(cloud)} to create" in out
    assert state_group_ids(backend.read()) == set(names)
