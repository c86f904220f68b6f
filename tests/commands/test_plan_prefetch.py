"""A plan run as a user runs it (its own process) reads a state its file's head names in a
forked child, and plans exactly what it plans reading the state itself."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from reconciler.models import LocalBackendConfig, StateDocument, StateResource
from reconciler.state.local import LocalBackend
from tests.fixtures.apply_kit import subprocess_env
from tests.fixtures.emulator import TEST_INSTANCE_ID, TEST_REGION, RunningEmulator

# The CLI, with each prefetch's outcome reported on stderr.
SCRIPT = """\
import sys
from reconciler.cli import main
from reconciler.state import prefetch

take = prefetch.StatePrefetch.take

def reporting(self, path, journal_path):
    taken = take(self, path, journal_path)
    print("PREFETCH", "taken" if taken is not None else "not taken", file=sys.stderr)
    return taken

prefetch.StatePrefetch.take = reporting
prefetch.WORTH_FORKING_BYTES = 0  # the test's state is small
main(sys.argv[1:])
"""

BACKEND = "backend:\n  local:\n    path: state.json\n"


def desired(backend_first: bool) -> str:
    groups = "".join(f"      - GID_pre_{n:02d}\n" for n in range(6))
    instances = f"instances:\n  - id: {TEST_INSTANCE_ID}\n    groups:\n{groups}"
    head = "version: 1\n"
    return head + (BACKEND + instances if backend_first else instances + BACKEND)


def plan(tmp_path: Path, emulator: RunningEmulator, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", SCRIPT, "plan", "d.yaml", "--format", "json", *args],
        cwd=tmp_path,
        env=subprocess_env(emulator.url),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("backend_first", [True, False])
def test_a_plan_takes_the_prefetched_state_only_when_the_head_named_it(
    tmp_path: Path, emulator: RunningEmulator, backend_first: bool
) -> None:
    with emulator.store.transaction() as conn:
        for n in range(8):
            emulator.store.insert_group(conn, TEST_INSTANCE_ID, f"GID_pre_{n:02d}", emulator.topic)
    recorded = tuple(
        StateResource(
            region=TEST_REGION,
            instance_id=TEST_INSTANCE_ID,
            group_id=f"GID_pre_{n:02d}",
            protect=n == 7,
        )
        for n in range(4, 8)
    )
    backend = LocalBackend(LocalBackendConfig(path="state.json"), base_dir=tmp_path)
    backend.write(StateDocument(lineage="l-prefetch", resources=recorded), expected_serial=0)
    (tmp_path / "d.yaml").write_text(desired(backend_first), encoding="utf-8")

    refused = plan(tmp_path, emulator)
    # Backend first: the head names the state, and its child's document is taken. Backend
    # last: the head guessed the default path, so the child's answer is not taken.
    assert ("PREFETCH taken" in refused.stderr) is backend_first, refused.stderr
    # The state's protect holds either way.
    assert refused.returncode == 1, refused.stderr
    assert "--allow-protected-delete post-cn-test0001/GID_pre_07" in refused.stderr

    allowed = plan(tmp_path, emulator, "--allow-protected-delete", f"{TEST_INSTANCE_ID}/GID_pre_07")
    assert allowed.returncode == 0, allowed.stderr
    report: dict[str, Any] = json.loads(allowed.stdout)
    changes = {(c["action"], c["group_id"]) for c in report["changes"]}
    assert changes == {
        ("adopt", "GID_pre_00"),
        ("adopt", "GID_pre_01"),
        ("adopt", "GID_pre_02"),
        ("adopt", "GID_pre_03"),
        ("delete", "GID_pre_06"),
        ("delete", "GID_pre_07"),
    }
