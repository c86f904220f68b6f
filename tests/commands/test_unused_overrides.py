"""An --allow-protected-delete KEY that overrides nothing is a warning, not silence."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.models import StateResource
from tests.fixtures.emulator import RunningEmulator
from tests.fixtures.plan_cli import INST, REGION, groups_yaml, seed, write_desired, write_state
from tests.fixtures.runs import run_cli

TYPO = f"{INST}/GID_precius"


def _protected_delete(emulator: RunningEmulator) -> None:
    seed(emulator, "GID_precious")
    write_state(
        StateResource(region=REGION, instance_id=INST, group_id="GID_precious", protect=True)
    )
    write_desired(groups_yaml())


def test_plan_warns_about_a_key_matching_no_protected_delete(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    _protected_delete(emulator)
    result = run_cli(
        capsys, "plan", "desired.yaml",
        "--allow-protected-delete", TYPO,
        "--allow-protected-delete", f"{INST}/GID_precious",
    )  # fmt: skip
    assert result.code == 0, result.err
    warnings = [line for line in result.err.splitlines() if line.startswith("warning:")]
    assert warnings == [
        f"warning: --allow-protected-delete {TYPO} matches no protected delete in this plan"
    ]


def test_apply_warns_too(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    write_desired(groups_yaml("GID_alpha"))
    result = run_cli(capsys, "apply", "desired.yaml", "--dry-run", "--allow-protected-delete", TYPO)
    assert result.code == 0, result.err
    assert f"--allow-protected-delete {TYPO} matches no protected delete" in result.err
