"""A project that ran reconciler 0.1.0 carries on: its state file (format 1, as 0.1.0 wrote
it: ``tests/fixtures/v0_1_0/state.json``) plans as before, and the first apply stores it as
format 2, every GID kept with its kind and protection."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.fixtures.apply_kit import write_desired
from tests.fixtures.emulator import TEST_ACCESS_KEY_ID, RunningEmulator
from tests.fixtures.runs import run_cli

FIXTURE = Path(__file__).parents[1] / "fixtures" / "v0_1_0" / "state.json"
INSTANCE = "post-cn-quickstart1"
DECLARED = ("GID_billing", "{id: GID_orders, topic: orders}", "GID_telemetry")


@pytest.fixture
def project_of_0_1_0(workdir: Path, emulator: RunningEmulator) -> Path:
    """The quickstart's GIDs in the cloud and 0.1.0's state of them."""
    emulator.store.add_instance(INSTANCE, topics=["orders"], owner=TEST_ACCESS_KEY_ID)
    for group_id in ("GID_billing", "GID_orders", "GID_telemetry"):
        emulator.store.add_group(INSTANCE, group_id)
    shutil.copyfile(FIXTURE, "state.json")
    return workdir


def test_a_0_1_0_state_plans_as_before_and_the_read_writes_nothing(
    project_of_0_1_0: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_desired(*DECLARED, instance_id=INSTANCE)
    result = run_cli(capsys, "plan", "desired.yaml", "--no-color")
    assert result.code == 0, result.err
    assert result.out == "No changes.\n"
    assert Path("state.json").read_bytes() == FIXTURE.read_bytes()


def test_the_first_apply_stores_a_0_1_0_state_as_format_2(
    project_of_0_1_0: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    # GID_orders leaves the file: 0.1.0 recorded it protected, so it stays protected.
    write_desired("GID_billing", "GID_telemetry", "GID_new", instance_id=INSTANCE)
    refused = run_cli(capsys, "plan", "desired.yaml")
    assert refused.code == 1
    assert f"--allow-protected-delete {INSTANCE}/GID_orders" in refused.out
    write_desired(*DECLARED, "GID_new", instance_id=INSTANCE)
    applied = run_cli(capsys, "apply", "desired.yaml", "--auto-approve")
    assert applied.code == 0, applied.err
    before = json.loads(FIXTURE.read_text(encoding="utf-8"))
    after = json.loads(Path("state.json").read_text(encoding="utf-8"))
    assert after["format_version"] == 2
    assert (after["lineage"], after["serial"]) == (before["lineage"], before["serial"] + 1)
    recorded = {r["group_id"]: r for r in after["resources"]}
    assert sorted(recorded) == ["GID_billing", "GID_new", "GID_orders", "GID_telemetry"]
    assert {r["kind"] for r in after["resources"]} == {"gid"}
    for old in before["resources"]:
        assert {name: recorded[old["group_id"]][name] for name in old} == old
    assert json.loads(Path("state.json.backup").read_text(encoding="utf-8")) == before
