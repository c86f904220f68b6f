"""`reconciler apply PLANFILE`: a reviewed plan is applied as is, or refused when stale."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.models import StateResource
from reconciler.state import new_state
from tests.fixtures.apply_kit import cloud, cwd_backend, state_group_ids, write_desired
from tests.fixtures.emulator import TEST_INSTANCE_ID, RunningEmulator
from tests.fixtures.emulator_store import remove_group
from tests.fixtures.runs import run_cli


def save_plan(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli(capsys, "plan", "desired.yaml", "-o", "plan.json")
    assert result.code == 0, result.err


def test_a_saved_plan_is_applied_without_prompting(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator.store.add_group(TEST_INSTANCE_ID, "GID_handmade")
    write_desired("GID_alpha", "GID_handmade")
    save_plan(capsys)

    result = run_cli(capsys, "apply", "plan.json")  # no terminal, no --auto-approve
    assert result.code == 0, result.err
    assert "Applying saved plan plan.json: Plan: 1 to create, 1 to adopt" in result.err
    assert "Apply complete: 1 created, 1 adopted." in result.out
    assert state_group_ids(cwd_backend().read()) == cloud(emulator)

    # Applied once, the plan is stale: the state it was made on moved on.
    again = run_cli(capsys, "apply", "plan.json")
    assert again.code == 1
    assert "saved plan is stale" in again.err
    assert "made on an empty state, but the state now exists" in again.err


def test_a_saved_plan_dry_run_lists_the_calls_and_changes_nothing(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    write_desired("GID_alpha")
    save_plan(capsys)
    result = run_cli(capsys, "apply", "plan.json", "--dry-run")
    assert result.code == 0, result.err
    assert (
        "1. OnsMqttGroupIdCreate RegionId=cn-hangzhou InstanceId=post-cn-test0001 "
        "GroupId=GID_alpha" in result.out
    )
    assert cloud(emulator) == set()
    assert cwd_backend().read() is None
    # Still fresh: nothing was sent or written.
    assert run_cli(capsys, "apply", "plan.json").code == 0
    assert cloud(emulator) == {"GID_alpha"}


def test_stale_when_a_gid_was_added_out_of_band(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    write_desired("GID_alpha")
    save_plan(capsys)
    emulator.store.add_group(TEST_INSTANCE_ID, "GID_sneaky")
    result = run_cli(capsys, "apply", "plan.json")
    assert result.code == 1
    assert f"the GIDs of instance cn-hangzhou/{TEST_INSTANCE_ID} changed" in result.err
    assert "appeared: GID_sneaky" in result.err
    assert cloud(emulator) == {"GID_sneaky"}


def test_stale_when_a_gid_was_removed_out_of_band(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator.store.add_group(TEST_INSTANCE_ID, "GID_doomed")
    write_desired("GID_alpha", "GID_doomed")
    save_plan(capsys)
    remove_group(emulator.store, TEST_INSTANCE_ID, "GID_doomed")
    result = run_cli(capsys, "apply", "plan.json")
    assert result.code == 1
    assert "vanished: GID_doomed" in result.err
    assert cloud(emulator) == set()
    assert cwd_backend().read() is None


def test_stale_when_the_state_serial_moved(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    backend = cwd_backend()
    first = backend.write(new_state(), expected_serial=0)
    write_desired("GID_alpha")
    save_plan(capsys)
    other = StateResource(
        region="cn-hangzhou", instance_id="post-cn-test0002", group_id="GID_other"
    )
    backend.write(first.with_resource(other), expected_serial=first.serial)
    result = run_cli(capsys, "apply", "plan.json")
    assert result.code == 1
    assert "the state serial moved from 1 to 2 since the plan" in result.err
    assert cloud(emulator) == set()


def test_stale_when_the_state_appeared_since_an_empty_state_plan(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    write_desired("GID_alpha")
    save_plan(capsys)
    cwd_backend().write(new_state(), expected_serial=0)
    result = run_cli(capsys, "apply", "plan.json")
    assert result.code == 1
    assert "the plan was made on an empty state, but the state now exists" in result.err
    assert cloud(emulator) == set()


def test_stale_when_the_desired_file_was_edited(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    write_desired("GID_alpha")
    save_plan(capsys)
    write_desired("GID_alpha", "GID_bravo")
    result = run_cli(capsys, "apply", "plan.json")
    assert result.code == 1
    assert "desired.yaml changed since the plan" in result.err
    assert cloud(emulator) == set()


def test_stale_when_the_plan_was_made_on_another_workspace(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    write_desired("GID_alpha")
    save_plan(capsys)
    document = json.loads(Path("plan.json").read_text())
    document["workspace"] = "staging"
    Path("plan.json").write_text(json.dumps(document))
    result = run_cli(capsys, "apply", "plan.json")
    assert result.code == 1
    assert "the plan was made for workspace 'staging'" in result.err
    assert cloud(emulator) == set()


def test_every_reason_is_reported_at_once(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    write_desired("GID_alpha")
    save_plan(capsys)
    write_desired("GID_alpha", "GID_bravo")
    emulator.store.add_group(TEST_INSTANCE_ID, "GID_sneaky")
    result = run_cli(capsys, "apply", "plan.json")
    assert result.code == 1
    assert "desired.yaml changed" in result.err and "appeared: GID_sneaky" in result.err


def test_a_refused_saved_plan_is_not_applied(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    write_desired("{id: GID_keep, protect: true}")
    assert run_cli(capsys, "apply", "desired.yaml", "--auto-approve").code == 0
    write_desired()
    planned = run_cli(capsys, "plan", "desired.yaml", "-o", "plan.json", "--skip-online-check")
    assert planned.code == 1  # refused, but written for the record
    result = run_cli(capsys, "apply", "plan.json")
    assert result.code == 1
    assert "plan refused" in result.err
    assert cloud(emulator) == {"GID_keep"}


def test_guard_flags_are_refused_with_a_saved_plan(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    write_desired("GID_alpha")
    save_plan(capsys)
    result = run_cli(capsys, "apply", "plan.json", "--allow-mass-delete")
    assert result.code == 1
    assert "--allow-mass-delete only applies when planning from a desired file" in result.err


def test_a_plan_applied_from_another_directory_says_where_each_state_is(
    workdir: Path,
    emulator: RunningEmulator,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    write_desired("GID_alpha")
    assert run_cli(capsys, "apply", "desired.yaml", "--auto-approve").code == 0
    write_desired("GID_alpha", "GID_bravo")
    save_plan(capsys)
    made_in = Path.cwd()
    (made_in / "elsewhere").mkdir()
    monkeypatch.chdir(made_in / "elsewhere")
    result = run_cli(capsys, "apply", str(made_in / "plan.json"))
    assert result.code == 1
    assert (
        f"no state was found at local {made_in / 'elsewhere' / 'state.json'}; the plan was "
        f"made on the state at local {made_in / 'state.json'}" in result.err
    )
    assert "to None" not in result.err
    assert cloud(emulator) == {"GID_alpha"}


def test_a_partly_failed_saved_plan_advises_planning_again(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    # Only the cloud knows the instance lacks this parent topic: the create fails there.
    write_desired("GID_alpha", "{id: GID_broken, topic: nosuchtopic}")
    save_plan(capsys)
    result = run_cli(capsys, "apply", "plan.json")
    assert result.code == 1
    assert "Apply failed: 1 done, 1 failed, 0 not attempted." in result.out
    assert result.out.splitlines()[-1] == (
        "Fix the cause above, then plan again and apply the new plan "
        "(reconciler plan desired.yaml -o plan.json; reconciler apply plan.json): "
        "it picks up where this one stopped."
    )
    assert cloud(emulator) == {"GID_alpha"}
