"""`apply` looks the online clients of its deletes up again just before deleting: a saved plan
(or a plan a person approved at the prompt) must not cut off devices that connected since the
plan's own look-up, unless the plan was made with --allow-online-delete or
--skip-online-check."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fixtures.apply_kit import cloud, cwd_backend, state_group_ids, write_desired
from tests.fixtures.emulator import TEST_INSTANCE_ID, RunningEmulator
from tests.fixtures.runs import run_cli
from tests.fixtures.terminal import Terminal

GID = "GID_meters"
DEVICE = f"{GID}@@@m1"
ONSMQTT = "provider:\n  api: onsmqtt\n"


def _managed_then_removed(
    emulator: RunningEmulator, capsys: pytest.CaptureFixture[str], *, extra: str = ""
) -> None:
    """GID_keep and GID_meters applied (so the state records them), then GID_meters removed
    from the file: the next plan deletes it."""
    entry = f"{{id: {GID}, clients: [{DEVICE}]}}" if extra else GID
    write_desired("GID_keep", entry, extra=extra)
    assert run_cli(capsys, "apply", "desired.yaml", "--auto-approve").code == 0
    write_desired("GID_keep", extra=extra)


def _save_plan(capsys: pytest.CaptureFixture[str], *flags: str) -> None:
    planned = run_cli(capsys, "plan", "desired.yaml", "-o", "del.plan", *flags)
    assert planned.code == 0, planned.out + planned.err
    assert "0 to create, 0 to adopt, 1 to delete" in planned.out


def _online(emulator: RunningEmulator, online: bool = True) -> None:
    emulator.store.add_client(DEVICE, instance_id=TEST_INSTANCE_ID, online=online)


def test_a_device_online_at_apply_refuses_the_saved_plan_until_it_leaves(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    _managed_then_removed(emulator, capsys)
    _save_plan(capsys)  # no device online: the plan's guard passes
    serial = cwd_backend().read().serial  # type: ignore[union-attr]
    _online(emulator)

    refused = run_cli(capsys, "apply", "del.plan")
    assert refused.code == 1
    (error,) = [line for line in refused.err.splitlines() if line.startswith("Error:")]
    assert (
        f"apply refused: 1 GID(s) to delete have clients online now: {TEST_INSTANCE_ID}/{GID} "
        "(1 client(s) online); nothing was changed: plan again to review them (plan with "
        "--allow-online-delete to delete them anyway)" in error
    )
    assert "Checking online clients of 1 GID(s) again before deleting" in refused.err
    assert cloud(emulator) == {"GID_keep", GID}
    after = cwd_backend()
    assert after.read().serial == serial  # type: ignore[union-attr]
    assert after.lock_holder() is None

    # The dry run refuses it alike: it shows what the apply would do.
    dry = run_cli(capsys, "apply", "del.plan", "--dry-run")
    assert dry.code == 1 and "clients online now" in dry.err

    # The device gone, the same plan (still fresh: nothing was changed) applies.
    _online(emulator, online=False)
    applied = run_cli(capsys, "apply", "del.plan")
    assert applied.code == 0, applied.err
    assert cloud(emulator) == {"GID_keep"} == state_group_ids(cwd_backend().read())


def test_a_plan_made_with_allow_online_delete_is_applied_with_the_device_online(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    _managed_then_removed(emulator, capsys)
    _save_plan(capsys, "--allow-online-delete")
    assert json.loads(Path("del.plan").read_text(encoding="utf-8"))["allow_online_delete"]
    shown = run_cli(capsys, "show", "del.plan")
    assert "Planned with --allow-online-delete" in shown.out
    _online(emulator)

    # The plan's override takes effect when the apply repeats it.
    applied = run_cli(capsys, "apply", "del.plan", "--allow-online-delete")
    assert applied.code == 0, applied.err
    assert "again before deleting" not in applied.err  # no look-up spent
    assert cloud(emulator) == {"GID_keep"}


def test_a_plan_made_with_skip_online_check_is_not_checked_at_apply_either(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    _managed_then_removed(emulator, capsys)
    _save_plan(capsys, "--skip-online-check")
    _online(emulator)
    applied = run_cli(capsys, "apply", "del.plan", "--skip-online-check")
    assert applied.code == 0, applied.err
    assert "again before deleting" not in applied.err
    assert cloud(emulator) == {"GID_keep"}


def test_a_saved_plan_takes_no_override_it_was_not_made_with(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    _managed_then_removed(emulator, capsys)
    _save_plan(capsys)
    _online(emulator)
    result = run_cli(capsys, "apply", "del.plan", "--allow-online-delete")
    assert result.code == 1
    assert "--allow-online-delete only applies when planning from a desired file" in result.err
    assert cloud(emulator) == {"GID_keep", GID}


def test_a_saved_plan_without_deletes_spends_no_look_up(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    write_desired("GID_keep")
    assert run_cli(capsys, "plan", "desired.yaml", "-o", "create.plan").code == 0
    applied = run_cli(capsys, "apply", "create.plan")
    assert applied.code == 0, applied.err
    assert "again before deleting" not in applied.err


def test_onsmqtt_known_clients_are_asked_about_again_at_apply(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    _managed_then_removed(emulator, capsys, extra=ONSMQTT)
    recorded = cwd_backend().read()
    assert recorded is not None
    assert next(r for r in recorded.resources if r.group_id == GID).clients == (DEVICE,)
    _save_plan(capsys)
    saved = json.loads(Path("del.plan").read_text(encoding="utf-8"))
    (delete,) = saved["changes"]
    assert delete["api"] == "onsmqtt" and delete["clients"] == [DEVICE]
    _online(emulator)

    refused = run_cli(capsys, "apply", "del.plan")
    assert refused.code == 1
    assert (
        f"{TEST_INSTANCE_ID}/{GID} (1 client(s) online: {DEVICE}); nothing was changed"
        in refused.err
    )
    assert "(30 look-ups a minute)" not in refused.err  # onsmqtt: one batch query
    assert cloud(emulator) == {"GID_keep", GID}

    _online(emulator, online=False)
    applied = run_cli(capsys, "apply", "del.plan")
    assert applied.code == 0, applied.err
    assert cloud(emulator) == {"GID_keep"}


def test_auto_approve_does_not_look_up_twice(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    _managed_then_removed(emulator, capsys)
    applied = run_cli(capsys, "apply", "desired.yaml", "--auto-approve")
    assert applied.code == 0, applied.err
    assert "Checking online clients of 1 GID(s) to delete" in applied.err
    assert "again before deleting" not in applied.err
    assert cloud(emulator) == {"GID_keep"}


def test_a_device_that_connects_while_the_prompt_waits_refuses_the_apply(
    tmp_path: Path, emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    emulator.store.add_group(TEST_INSTANCE_ID, GID)
    write_desired(f"{{id: {GID}, absent: true}}")
    terminal = Terminal(tmp_path, emulator.url, "desired.yaml", "--no-color")
    assert "0 client(s) online" in terminal.read_until("Enter a value:")
    _online(emulator)
    terminal.type("yes\n")
    code = terminal.finish()
    assert code == 1, terminal.output
    assert "again before deleting" in terminal.output
    flat = " ".join(terminal.output.split())  # the terminal wraps long lines
    assert (
        f"{TEST_INSTANCE_ID}/{GID} (1 client(s) online); nothing was changed: apply again to "
        "review them (with --allow-online-delete to delete them anyway)" in flat
    )
    assert cloud(emulator) == {GID}
    assert cwd_backend().read() is None
    assert cwd_backend().lock_holder() is None
