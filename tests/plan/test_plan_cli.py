"""`reconciler plan` and `apply` end to end for the plan audit's findings: the real CLI,
config loader, local state and the emulator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fixtures.apply_kit import cloud, write_desired
from tests.fixtures.emulator import TEST_INSTANCE_ID as INST
from tests.fixtures.emulator import RunningEmulator
from tests.fixtures.emulator_store import group_ids
from tests.fixtures.runs import run_cli

REGION = "cn-hangzhou"


@pytest.fixture
def workdir(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The shared ``workdir``, without colours."""
    monkeypatch.setenv("NO_COLOR", "1")
    return workdir


# --- naming of an instance without GIDs --------------------------------------------------------


def test_create_in_an_empty_shared_instance_clashing_with_another_is_refused(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    store = emulator.store
    for instance_id in ("MQ_INST_9_s2", "MQ_INST_9_s3"):
        store.add_instance(instance_id, region=REGION, independent_naming=False)
    store.add_group("MQ_INST_9_s2", "GID_clash")
    write_desired("GID_clash", instance_id="MQ_INST_9_s3")

    result = run_cli(capsys, "plan", "desired.yaml", "--detailed-exitcode")
    assert result.code == 1
    assert "GID_clash already exists in instance MQ_INST_9_s2" in result.out
    assert (
        "independent_naming of MQ_INST_9_s3 cannot be verified: the instance has no GIDs"
        in result.out
    )
    applied = run_cli(capsys, "apply", "desired.yaml", "--auto-approve")
    assert applied.code == 1
    assert "BIZ_SUBSCRIPTION_EXISTED" not in applied.out + applied.err
    assert group_ids(store, "MQ_INST_9_s3") == []


def test_empty_namespaced_instance_declared_shared_is_noted(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    write_desired("GID_new", instance_id=INST)
    Path("desired.yaml").write_text(
        Path("desired.yaml")
        .read_text(encoding="utf-8")
        .replace(f"  - id: {INST}\n", f"  - id: {INST}\n    independent_naming: false\n"),
        encoding="utf-8",
    )
    result = run_cli(capsys, "plan", "desired.yaml")
    assert result.code == 0, result.err
    assert (
        f"note: independent_naming of {INST} cannot be verified: the instance has no GIDs; "
        "planned as declared (independent_naming: false)" in result.out
    )
    assert cloud(emulator) == set()


# --- a changed topic ----------------------------------------------------------------------------


@pytest.fixture
def topic_changed(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    """GID_orders was created with topic orders; the file now says shadow."""
    emulator.store.add_topic(INST, "shadow")
    write_desired("{id: GID_orders, topic: orders}")
    assert run_cli(capsys, "apply", "desired.yaml", "--auto-approve").code == 0
    write_desired("{id: GID_orders, topic: shadow}")


SHOWN = (
    "  ! GID_orders  topic orders -> shadow: cannot be changed in place (revert it, or create "
    "a GID under a new name) (desired.yaml:8)"
)
NOT_APPLIED_ERROR = (
    "Error: 1 difference was not applied (a GID cannot be changed in place): the cloud does "
    "not match the desired state"
)
SUMMARY = (
    "Plan: 0 to create, 0 to adopt, 0 to delete, 0 to forget; 1 cannot be applied in place; "
    "0 unmanaged."
)


@pytest.mark.usefixtures("topic_changed")
def test_changed_topic_is_a_difference_for_detailed_exitcode(
    capsys: pytest.CaptureFixture[str],
) -> None:
    result = run_cli(capsys, "plan", "desired.yaml", "--detailed-exitcode")
    assert result.code == 2, result.err
    assert result.out.splitlines() == [f"{INST} ({REGION})", SHOWN, "", SUMMARY]
    as_json = run_cli(capsys, "plan", "desired.yaml", "--format", "json")
    document = json.loads(as_json.out)
    assert document["summary"]["not_in_place"] == 1
    assert [d["group_id"] for d in document["not_in_place"]] == ["GID_orders"]


@pytest.mark.usefixtures("topic_changed")
def test_apply_reports_a_changed_topic_as_not_applied(
    emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    applied = run_cli(capsys, "apply", "desired.yaml", "--auto-approve")
    assert applied.code == 4, applied.err  # ExitCode.NOT_APPLIED
    assert NOT_APPLIED_ERROR in applied.err
    assert SHOWN in applied.out
    assert (
        f"Not applied: {INST}/GID_orders topic orders -> shadow: cannot be changed in place"
        in applied.out
    )
    assert run_cli(capsys, "plan", "desired.yaml", "-o", "plan.json").code == 0
    saved = run_cli(capsys, "apply", "plan.json")
    assert saved.code == 4, saved.err
    assert NOT_APPLIED_ERROR in saved.err
    assert f"Not applied: {INST}/GID_orders topic orders" in saved.out
    assert cloud(emulator) == {"GID_orders"}


# --- a stale saved plan explains what changed in the desired file ------------------------------


def test_stale_plan_says_what_changed_in_the_desired_file(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    write_desired("GID_alpha", "GID_gamma")
    assert run_cli(capsys, "plan", "desired.yaml", "-o", "plan.json").code == 0
    write_desired("{id: GID_alpha, protect: true}", "GID_bravo")
    result = run_cli(capsys, "apply", "plan.json")
    assert result.code == 1
    assert (
        f"desired.yaml changed since the plan: {INST}: GID_bravo added, GID_gamma removed, "
        "protect of GID_alpha changed (unset -> true)"
    ) in result.err
    assert cloud(emulator) == set()
