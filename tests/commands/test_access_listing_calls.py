"""What a plan asks the custom-auth queries, counted at the emulator: nothing for an onsmqtt
instance whose file has no ``access:`` block and whose state records no access entry (nothing
of them could be planned), one query of each per plan otherwise, and a saved plan's apply
re-lists exactly what the plan listed."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.access import with_telemetry, write_access
from tests.fixtures.emulator import TEST_INSTANCE_ID, RunningEmulator
from tests.fixtures.runs import run_cli

QUERIES = ("QueryCustomAuthIdentity", "QueryCustomAuthPermission", "QueryCustomAuthConnectBlack")
BASIC = "post-cn-basic0001"


def write_gids_only(*instance_ids: str) -> Path:
    """A desired file declaring onsmqtt instances with one GID each and no ``access:`` block."""
    body = "".join(
        f"  - id: {iid}\n    api: onsmqtt\n    groups: [GID_listing_{n}]\n"
        for n, iid in enumerate(instance_ids)
    )
    path = Path("desired.yaml")
    path.write_text(f"version: 1\ninstances:\n{body}", encoding="utf-8")
    return path


def query_counts(emulator: RunningEmulator) -> list[int]:
    return [emulator.server.request_count(action) for action in QUERIES]


def plan(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    result = run_cli(capsys, "plan", "desired.yaml", *args)
    assert result.code == 0, result.out + result.err
    return result.out + result.err


def test_no_access_block_and_none_recorded_asks_no_query_and_says_nothing_of_access(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator.store.add_instance(BASIC, edition="basic")
    write_gids_only(TEST_INSTANCE_ID, BASIC)
    shown = plan(capsys)
    assert "Plan: 2 to create" in shown
    assert emulator.server.request_count("ListGroupId") >= 2
    assert query_counts(emulator) == [0, 0, 0]
    # The basic edition answers ApiNotSupport, but nothing asked it.
    assert "ApiNotSupport" not in shown and "not planned" not in shown

    assert run_cli(capsys, "apply", "desired.yaml", "--auto-approve").code == 0
    assert query_counts(emulator) == [0, 0, 0]
    assert plan(capsys, "-o", "gids.plan")
    applied = run_cli(capsys, "apply", "gids.plan")
    assert applied.code == 0, applied.err
    assert query_counts(emulator) == [0, 0, 0]


def test_an_access_block_is_listed_once_per_plan(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    with_telemetry(emulator)
    write_access("blacklist: [dev-9]")
    plan(capsys)
    assert query_counts(emulator) == [1, 1, 1]


def test_entries_the_state_records_are_listed_without_an_access_block(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    """The block dropped from the file: the recorded entries are still planned (deleted as
    no longer declared, like a GID), so the listing runs, in the plan and in a saved plan's
    apply alike."""
    with_telemetry(emulator)
    write_access("blacklist: [dev-9]")
    assert run_cli(capsys, "apply", "desired.yaml", "--auto-approve").code == 0
    write_gids_only(TEST_INSTANCE_ID)
    before = query_counts(emulator)

    shown = plan(capsys, "-o", "drop.plan")
    assert [now - then for now, then in zip(query_counts(emulator), before, strict=True)] == [
        1,
        1,
        1,
    ]
    assert "- blacklist:dev-9" in shown
    applied = run_cli(capsys, "apply", "drop.plan")
    assert applied.code == 0, applied.err
    assert "1 deleted" in applied.out
    assert not emulator.store.is_blacklisted(TEST_INSTANCE_ID, "dev-9")
