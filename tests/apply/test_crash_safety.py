"""SIGKILL an apply at random instants, through either API; every time, a re-apply converges
and the state equals the cloud: nothing lost (a GID created but unrecorded is adopted),
nothing orphaned (a GID deleted but still recorded is forgotten), every GID recorded with its
api."""

from __future__ import annotations

import random
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from reconciler.emulator.server import EmulatorOptions, EmulatorServer
from reconciler.models import LocalBackendConfig
from reconciler.state.local import LocalBackend
from tests.fixtures.apis import ApiCase
from tests.fixtures.apply_kit import spawn_apply, state_group_ids, wait_for_progress
from tests.fixtures.emulator import TEST_INSTANCE_ID, seeded_server
from tests.fixtures.emulator_store import group_ids

pytestmark = pytest.mark.slow  # the full trials take tens of seconds
FLAGS = ("--auto-approve", "--skip-online-check", "--allow-mass-delete")


@dataclass(frozen=True)
class Trials:
    """How one API's crash trials run."""

    window: int  # GIDs declared per trial
    shift: int  # each trial drops the first SHIFT of the last window and adds SHIFT new ones
    kill_points: tuple[int | None, ...]  # finished calls before the kill; None: at random
    min_kills_mid_apply: int  # the kills really landed while applying
    extra_flags: tuple[str, ...] = ()
    lift_throttles: bool = False


# Each ONS trial costs about 3 s; every kill point of the cycle is covered by each four (before
# any call, then after a random number of calls).
_ONS_TRIALS = 12
TRIALS = {
    "ons": Trials(
        window=240,
        shift=110,
        kill_points=tuple(0 if n % 4 == 0 else None for n in range(_ONS_TRIALS)),
        min_kills_mid_apply=_ONS_TRIALS // 2,
    ),
    # Trial 0 kills among creates; trial 1 among the deletes and creates of a shifted window.
    # The account limit lifted on both sides so a trial takes seconds, not the service's 10/s.
    "onsmqtt": Trials(
        window=120,
        shift=60,
        kill_points=(40, 70),
        min_kills_mid_apply=1,
        extra_flags=("--rate", "500/s"),
        lift_throttles=True,
    ),
}


@pytest.fixture
def slow_emulator(api_case: ApiCase) -> Iterator[EmulatorServer]:
    # A little latency so a kill lands among calls in flight, as it would against the service.
    throttles = (
        dict.fromkeys(api_case.group_actions) if TRIALS[api_case.name].lift_throttles else {}
    )
    with seeded_server(EmulatorOptions(latency_ms=15, throttles=throttles)) as server:
        yield server


def write_window(path: Path, api_case: ApiCase, first: int, window: int) -> set[str]:
    names = [f"GID_crash{n:05d}" for n in range(first, first + window)]
    groups = "".join(f"      - {name}\n" for name in names)
    path.write_text(
        f"version: 1\n{api_case.provider}backend:\n  local:\n    path: state.json\n"
        f"instances:\n  - id: {TEST_INSTANCE_ID}\n    groups:\n{groups}",
        encoding="utf-8",
    )
    return set(names)


def test_apply_killed_at_random_instants_always_converges(
    api_case: ApiCase, slow_emulator: EmulatorServer, tmp_path: Path
) -> None:
    plan = TRIALS[api_case.name]
    flags = FLAGS + plan.extra_flags
    rng = random.Random(20240601)
    desired_file = tmp_path / "desired.yaml"
    backend = LocalBackend(LocalBackendConfig(path="state.json"), base_dir=tmp_path)
    store = slow_emulator.store
    killed_mid_apply = 0

    for trial, kill_point in enumerate(plan.kill_points):
        wanted = write_window(desired_file, api_case, trial * plan.shift, plan.window)
        # Kill before any call (planning, lock) or after a number of finished calls.
        finished_before_kill = (
            kill_point if kill_point is not None else rng.randint(1, 2 * plan.shift - 1)
        )
        process = spawn_apply(tmp_path, slow_emulator.url, "desired.yaml", *flags)
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

        rerun = spawn_apply(tmp_path, slow_emulator.url, "desired.yaml", *flags)
        out, err = rerun.communicate(timeout=120)
        assert rerun.returncode == 0, f"trial {trial}: {err}\n{out[-2000:]}"
        final_state = backend.read()
        cloud_after = set(group_ids(store, TEST_INSTANCE_ID))
        assert cloud_after == wanted, f"trial {trial}"
        assert state_group_ids(final_state) == cloud_after, f"trial {trial}"
        assert final_state is not None
        assert {resource.api for resource in final_state.resources} == {api_case.name}
        assert backend.lock_holder() is None

    assert killed_mid_apply >= plan.min_kills_mid_apply
