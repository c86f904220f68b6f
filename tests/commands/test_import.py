"""`reconciler import KEY`: adopt one existing GID into the state."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.apply_kit import cwd_backend, key, write_desired
from tests.fixtures.emulator import TEST_INSTANCE_ID, RunningEmulator
from tests.fixtures.runs import run_cli


def test_import_records_an_existing_gid_with_its_declared_settings(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator.store.add_group(TEST_INSTANCE_ID, "GID_console")
    write_desired("{id: GID_console, protect: true, topic: orders}", name="reconciler.yaml")
    result = run_cli(capsys, "import", f"{TEST_INSTANCE_ID}/GID_console")
    assert result.code == 0, result.err
    assert f"Imported {TEST_INSTANCE_ID}/GID_console into the state (serial 1)." in result.out
    state = cwd_backend().read()
    assert state is not None
    recorded = state.by_key()[key("GID_console")]
    assert (recorded.origin, recorded.protect, recorded.topic) == ("imported", True, "orders")
    assert recorded.recorded_at
    assert cwd_backend().lock_holder() is None

    plan = run_cli(capsys, "plan", "reconciler.yaml")
    assert plan.out.strip().endswith("No changes.")


def test_import_of_an_undeclared_gid_warns_that_the_next_plan_deletes_it(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator.store.add_group(TEST_INSTANCE_ID, "GID_console")
    write_desired("GID_other", name="site.yaml")
    result = run_cli(capsys, "import", "-c", "site.yaml", f"{TEST_INSTANCE_ID}/GID_console")
    assert result.code == 0, result.err
    assert "the next plan deletes it" in result.err


def test_import_refuses_a_gid_the_cloud_does_not_have(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    write_desired("GID_ghost", name="reconciler.yaml")
    result = run_cli(capsys, "import", f"{TEST_INSTANCE_ID}/GID_ghost")
    assert result.code == 1
    assert "does not exist in the cloud" in result.err
    assert cwd_backend().read() is None


def test_import_refuses_a_gid_already_in_the_state(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator.store.add_group(TEST_INSTANCE_ID, "GID_console")
    write_desired("GID_console", name="reconciler.yaml")
    assert run_cli(capsys, "import", f"{TEST_INSTANCE_ID}/GID_console").code == 0
    again = run_cli(capsys, "import", f"{TEST_INSTANCE_ID}/GID_console")
    assert again.code == 1
    assert "is already in the state" in again.err
    state = cwd_backend().read()
    assert state is not None and state.serial == 1


def test_import_refuses_an_undeclared_instance_and_a_malformed_key(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    write_desired("GID_console", name="reconciler.yaml")
    undeclared = run_cli(capsys, "import", "post-cn-elsewhere/GID_console")
    assert undeclared.code == 1
    assert "instance post-cn-elsewhere is not declared in reconciler.yaml" in undeclared.err
    malformed = run_cli(capsys, "import", "GID_console")
    assert malformed.code == 1
    assert "INSTANCE_ID/GROUP_ID" in malformed.err
