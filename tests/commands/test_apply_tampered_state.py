"""`reconciler apply` on a state someone edited: refused before any call, never resolved."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fixtures.apply_kit import cloud, write_desired
from tests.fixtures.emulator import RunningEmulator
from tests.fixtures.runs import run_cli


def test_an_unprotected_duplicate_planted_in_the_state_cannot_delete_a_protected_gid(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    write_desired("{id: GID_vault, protect: true}", "GID_other")
    assert run_cli(capsys, "apply", "desired.yaml", "--auto-approve").code == 0
    state_file = workdir / "state.json"
    stored = json.loads(state_file.read_text())
    vault = next(r for r in stored["resources"] if r["group_id"] == "GID_vault")
    stored["resources"].append(vault | {"protect": False})  # the last copy won before
    state_file.write_text(json.dumps(stored))
    write_desired("GID_other")  # GID_vault removed from the file

    refused = run_cli(capsys, "apply", "desired.yaml", "--auto-approve")

    assert refused.code == 1
    assert refused.err.startswith(f"Error: state file {state_file} is corrupt: resources[2] (")
    assert "GID_vault): duplicate resource" in refused.err
    assert refused.err.count("\n") == 1
    assert "GID_vault" in cloud(emulator)


def test_a_protect_that_is_not_a_boolean_is_refused_not_read_as_true(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    write_desired("GID_vault")
    assert run_cli(capsys, "apply", "desired.yaml", "--auto-approve").code == 0
    state_file = workdir / "state.json"
    stored = json.loads(state_file.read_text())
    stored["resources"][0]["protect"] = "no"  # read as true before: a non-empty string
    state_file.write_text(json.dumps(stored))

    refused = run_cli(capsys, "plan", "desired.yaml")

    assert refused.code == 1
    assert refused.err.splitlines()[-1] + "\n" == (
        f"Error: state file {state_file} is corrupt: resources[0] "
        f"({emulator.instance_id}/GID_vault): protect: Input should be a valid boolean "
        '(found "no")\n'
    )
