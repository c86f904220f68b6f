"""SIGKILL an apply on an onsmqtt instance (OnsMqtt 2020-04-20) mid-way: the re-apply converges
and the state equals the cloud, every GID recorded with its api."""

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

WINDOW = 120
SHIFT = 60
# The account limit lifted on both sides so a trial takes seconds, not the service's 10/s.
FLAGS = ("--auto-approve", "--skip-online-check", "--allow-mass-delete", "--rate", "500/s")


@pytest.fixture
def slow_emulator() -> Iterator[EmulatorServer]:
    throttles = dict.fromkeys(("CreateGroupId", "DeleteGroupId", "ListGroupId"))
    with seeded_server(EmulatorOptions(latency_ms=15, throttles=throttles)) as server:
        yield server


def write_window(path: Path, first: int) -> set[str]:
    names = [f"GID_crash{n:05d}" for n in range(first, first + WINDOW)]
    groups = "".join(f"      - {name}\n" for name in names)
    path.write_text(
        "version: 1\nprovider:\n  api: onsmqtt\nbackend:\n  local:\n    path: state.json\n"
        f"instances:\n  - id: {TEST_INSTANCE_ID}\n    groups:\n{groups}",
        encoding="utf-8",
    )
    return set(names)


def test_onsmqtt_apply_killed_mid_way_converges(
    slow_emulator: EmulatorServer, tmp_path: Path
) -> None:
    desired_file = tmp_path / "desired.yaml"
    backend = LocalBackend(LocalBackendConfig(path="state.json"), base_dir=tmp_path)
    store = slow_emulator.store
    killed_mid_apply = 0
    # Trial 0 kills among creates; trial 1 among the deletes and creates of a shifted window.
    for trial, finished_before_kill in enumerate((40, 70)):
        wanted = write_window(desired_file, trial * SHIFT)
        process = spawn_apply(tmp_path, slow_emulator.url, "desired.yaml", *FLAGS)
        try:
            wait_for_progress(process, finished_before_kill)
            process.send_signal(signal.SIGKILL)
        finally:
            process.communicate(timeout=60)
        if process.returncode == -signal.SIGKILL:
            killed_mid_apply += 1

        rerun = spawn_apply(tmp_path, slow_emulator.url, "desired.yaml", *FLAGS)
        out, err = rerun.communicate(timeout=120)
        assert rerun.returncode == 0, f"trial {trial}: {err}\n{out[-2000:]}"
        final_state = backend.read()
        cloud_after = set(group_ids(store, TEST_INSTANCE_ID))
        assert cloud_after == wanted, f"trial {trial}"
        assert state_group_ids(final_state) == cloud_after, f"trial {trial}"
        assert final_state is not None
        assert {resource.api for resource in final_state.resources} == {"onsmqtt"}
        assert backend.lock_holder() is None

    assert killed_mid_apply >= 1  # a kill really landed while applying
