"""The README's first steps: `reconciler apply examples/quickstart.yaml --auto-approve` in a fresh
copy of the repository layout, with no account (embedded emulator, local state)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.fixtures.apply_kit import subprocess_env
from tests.fixtures.runs import ROOT

QUICKSTART = ROOT / "examples" / "quickstart.yaml"


def run_reconciler(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = subprocess_env("unused")
    for name in (
        "RECONCILER_ENDPOINT",
        "ALIBABA_CLOUD_ACCESS_KEY_ID",
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
        "ALIBABA_CLOUD_PROFILE",
    ):
        env.pop(name, None)
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_quickstart_applies_then_has_no_changes(tmp_path: Path) -> None:
    (tmp_path / "examples").mkdir()
    shutil.copy(QUICKSTART, tmp_path / "examples" / "quickstart.yaml")

    first = run_reconciler(tmp_path, "apply", "examples/quickstart.yaml", "--auto-approve")
    assert first.returncode == 0, first.stderr
    assert "embedded emulator" in first.stderr
    assert "Apply complete:" in first.stdout
    assert (tmp_path / ".reconciler" / "emulator.sqlite").exists()

    second = run_reconciler(tmp_path, "apply", "examples/quickstart.yaml", "--auto-approve")
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip().splitlines()[-1] == "No changes."
