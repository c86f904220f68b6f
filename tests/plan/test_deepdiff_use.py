"""deepdiff explains what changed under a stale plan and stays off the planner's hot path.

Each step runs in a fresh interpreter (the test process has imported deepdiff long ago) on the
quickstart against the embedded emulator, and reports whether deepdiff was imported.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.apply_kit import subprocess_env
from tests.fixtures.runs import ROOT

SCRIPT = """\
import sys
from reconciler.cli import main
try:
    main(sys.argv[1:])
except SystemExit as exited:
    print("EXIT", exited.code, file=sys.stderr)
print("DEEPDIFF", "deepdiff" in sys.modules, file=sys.stderr)
"""


def _run(cwd: Path, *args: str) -> str:
    env = subprocess_env("unused")
    env.pop("RECONCILER_ENDPOINT")  # the file's endpoint: the embedded emulator
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stderr


@pytest.mark.slow  # three fresh interpreters: 4 s
def test_planning_does_not_import_deepdiff_and_a_stale_plan_is_explained_with_it(
    tmp_path: Path,
) -> None:
    desired = tmp_path / "quickstart.yaml"
    shutil.copy(ROOT / "examples" / "quickstart.yaml", desired)

    planned = _run(tmp_path, "plan", str(desired), "-o", "plan.json")
    assert "EXIT 0" in planned
    assert "DEEPDIFF False" in planned

    applied = _run(tmp_path, "apply", "plan.json", "--auto-approve")
    assert "EXIT 0" in applied
    assert "DEEPDIFF False" in applied  # a fresh plan needs no explaining

    _run(tmp_path, "plan", str(desired), "-o", "plan.json")
    desired.write_text(desired.read_text().replace("topic: orders", "topic: shadow"))
    stale = _run(tmp_path, "apply", "plan.json", "--auto-approve")
    assert "EXIT 1" in stale
    assert "topic of GID_orders changed (orders -> shadow)" in stale
    assert "DEEPDIFF True" in stale
