"""`reconciler apply` end to end in this process: real CLI, config, local state and emulator."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from reconciler.state.locking import new_lock_info
from tests.fixtures.apply_kit import cloud, cwd_backend, state_group_ids, write_desired
from tests.fixtures.emulator import TEST_INSTANCE_ID, RunningEmulator
from tests.fixtures.runs import run_cli


def test_apply_with_auto_approve_converges_and_a_second_run_has_no_changes(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator.store.add_group(TEST_INSTANCE_ID, "GID_handmade")
    write_desired("GID_alpha", "{id: GID_bravo, topic: orders, protect: true}", "GID_handmade")

    first = run_cli(capsys, "apply", "desired.yaml", "--auto-approve")
    assert first.code == 0, first.err
    assert "Plan: 2 to create, 1 to adopt" in first.out
    assert f"+ {TEST_INSTANCE_ID}/GID_alpha created (RequestId " in first.out
    assert f"= {TEST_INSTANCE_ID}/GID_handmade adopted" in first.out
    assert "Apply complete: 2 created, 1 adopted." in first.out
    state = cwd_backend().read()
    assert state_group_ids(state) == cloud(emulator) == {"GID_alpha", "GID_bravo", "GID_handmade"}
    assert state is not None
    bravo = next(r for r in state.resources if r.group_id == "GID_bravo")
    assert (bravo.topic, bravo.protect, bravo.origin) == ("orders", True, "created")

    second = run_cli(capsys, "apply", "desired.yaml", "--auto-approve")
    assert second.code == 0, second.err
    assert second.out.strip().endswith("No changes.")
    assert cwd_backend().read() == state  # nothing written


def test_apply_without_a_terminal_refuses_to_prompt(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    write_desired("GID_alpha")
    result = run_cli(capsys, "apply", "desired.yaml")
    assert result.code == 1
    assert "standard input is not a terminal" in result.err
    assert "--auto-approve" in result.err and "saved plan" in result.err
    assert cloud(emulator) == set()
    assert cwd_backend().lock_holder() is None


def test_dry_run_prints_the_calls_in_order_and_sends_nothing(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator.store.add_group(TEST_INSTANCE_ID, "GID_handmade")
    emulator.store.add_group(TEST_INSTANCE_ID, "GID_retired")
    write_desired(
        "{id: GID_alpha, topic: orders}", "GID_handmade", "{id: GID_retired, absent: true}"
    )
    before = cloud(emulator)

    result = run_cli(capsys, "apply", "desired.yaml", "--dry-run", "--skip-online-check")
    assert result.code == 0, result.err
    lines = [line.split(". ", 1)[1] for line in result.out.splitlines() if ". " in line[:6]]
    assert lines == [
        "OnsMqttGroupIdCreate RegionId=cn-hangzhou InstanceId=post-cn-test0001 "
        "GroupId=GID_alpha Topic=orders",
        "state-only adopt post-cn-test0001/GID_handmade (no API call)",
        "OnsMqttGroupIdDelete RegionId=cn-hangzhou InstanceId=post-cn-test0001 GroupId=GID_retired",
    ]
    assert "Dry run: 2 API calls and 1 state-only step" in result.out
    assert emulator.access_key_secret not in result.out + result.err
    assert cloud(emulator) == before
    assert not Path("state.json").exists()


def test_dry_run_json_lists_the_calls(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    write_desired("GID_alpha")
    result = run_cli(capsys, "apply", "desired.yaml", "--dry-run", "--format", "json")
    assert result.code == 0, result.err
    document = json.loads(result.out)
    assert document["dry_run"] is True
    assert document["calls"] == [
        {
            "kind": "api",
            "action": "OnsMqttGroupIdCreate",
            "params": {
                "RegionId": "cn-hangzhou",
                "InstanceId": TEST_INSTANCE_ID,
                "GroupId": "GID_alpha",
            },
            "key": f"{TEST_INSTANCE_ID}/GID_alpha",
        }
    ]
    assert cloud(emulator) == set()


def test_json_format_prints_only_the_result_document(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    write_desired("GID_alpha", "GID_bravo")
    result = run_cli(capsys, "apply", "desired.yaml", "--auto-approve", "--format", "json")
    assert result.code == 0, result.err
    document = json.loads(result.out)
    assert document["plan"]["summary"]["create"] == 2
    assert document["result"]["status"] == "ok"
    assert {item["group_id"] for item in document["result"]["done"]} == {"GID_alpha", "GID_bravo"}
    assert all(item["request_id"] for item in document["result"]["done"])
    assert "created" in result.err  # progress goes to stderr


def test_a_failed_create_does_not_stop_the_others_and_the_report_says_what_happened(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    # Only the cloud knows the instance lacks this parent topic: the create fails there.
    write_desired("GID_alpha", "{id: GID_broken, topic: nosuchtopic}", "GID_charlie")
    result = run_cli(capsys, "apply", "desired.yaml", "--auto-approve")
    assert result.code == 1
    assert "Apply failed: 2 done, 1 failed, 0 not attempted." in result.out
    failed_line = next(line for line in result.out.splitlines() if "GID_broken failed" in line)
    assert "BIZ_TOPIC_NOT_FOUND" in failed_line and "RequestId" in failed_line
    assert "apply did not finish: 1 failed, 0 not attempted, 2 done" in result.err
    assert state_group_ids(cwd_backend().read()) == cloud(emulator) == {"GID_alpha", "GID_charlie"}


def test_a_plan_refused_by_a_guard_is_never_applied(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    write_desired("{id: GID_keep, protect: true}")
    assert run_cli(capsys, "apply", "desired.yaml", "--auto-approve").code == 0
    write_desired()  # GID_keep leaves the file: a protected delete
    result = run_cli(capsys, "apply", "desired.yaml", "--auto-approve", "--skip-online-check")
    assert result.code == 1
    assert "plan refused" in result.err and "--allow-protected-delete" in result.err
    assert cloud(emulator) == {"GID_keep"}

    allowed = run_cli(
        capsys,
        "apply",
        "desired.yaml",
        "--auto-approve",
        "--skip-online-check",
        "--allow-protected-delete",
        f"{TEST_INSTANCE_ID}/GID_keep",
    )
    assert allowed.code == 0, allowed.err
    assert cloud(emulator) == set()
    assert state_group_ids(cwd_backend().read()) == set()


@contextmanager
def locked_elsewhere() -> Iterator[str]:
    """The state locked by another holder for the block; yields the lock id."""
    holder = cwd_backend()
    lock_id = holder.lock(new_lock_info("plan"))
    try:
        yield lock_id
    finally:
        holder.unlock(lock_id)
        holder.close()


def test_apply_names_the_lock_holder_when_the_state_is_locked(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    write_desired("GID_alpha")
    with locked_elsewhere() as lock_id:
        result = run_cli(capsys, "apply", "desired.yaml", "--auto-approve")
    assert result.code == 1
    assert f"lock {lock_id} held by" in result.err
    assert cloud(emulator) == set()


def test_bad_rate_and_lock_timeout_are_usage_errors(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_desired("GID_alpha")
    bad_rate = run_cli(capsys, "apply", "desired.yaml", "--rate", "fast")
    assert bad_rate.code == 1 and "--rate" in bad_rate.err
    bad_timeout = run_cli(capsys, "apply", "desired.yaml", "--lock-timeout", "soon")
    assert bad_timeout.code == 1 and "--lock-timeout" in bad_timeout.err


def test_a_changed_protect_is_recorded_without_an_api_call(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    write_desired("GID_alpha")
    assert run_cli(capsys, "apply", "desired.yaml", "--auto-approve").code == 0
    write_desired("{id: GID_alpha, protect: true}")
    dry = run_cli(capsys, "apply", "desired.yaml", "--dry-run")
    assert "state-only update post-cn-test0001/GID_alpha (no API call)" in dry.out
    result = run_cli(capsys, "apply", "desired.yaml", "--auto-approve")
    assert result.code == 0, result.err
    assert "Apply complete: 1 updated." in result.out
    state = cwd_backend().read()
    assert state is not None
    (alpha,) = state.resources
    assert alpha.protect and alpha.origin == "created"


def test_lock_timeout_waits_for_the_holder_and_says_who_it_is(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    write_desired("GID_alpha")
    holder = cwd_backend()
    lock_id = holder.lock(new_lock_info("plan"))
    releaser = threading.Timer(0.5, holder.unlock, args=(lock_id,))
    releaser.start()
    try:
        result = run_cli(capsys, "apply", "desired.yaml", "--auto-approve", "--lock-timeout", "60s")
    finally:
        releaser.join()
        holder.close()
    assert result.code == 0, result.err
    assert f"waiting for lock {lock_id} held by" in result.err
    assert cloud(emulator) == {"GID_alpha"}


def test_only_a_dry_run_may_skip_the_lock(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    write_desired("GID_alpha")
    with locked_elsewhere():
        for opt_out in (["--lock=false"], ["--no-lock"]):
            refused = run_cli(capsys, "apply", "desired.yaml", "--auto-approve", *opt_out)
            assert refused.code == 1, refused.err
            assert "only --dry-run may skip it" in refused.err
            dry = run_cli(capsys, "apply", "desired.yaml", "--dry-run", *opt_out)
            assert dry.code == 0, dry.err
            assert "OnsMqttGroupIdCreate" in dry.out
    assert cloud(emulator) == set()
