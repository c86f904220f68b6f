"""`reconciler plan` end to end: the real CLI, config loader, state backend and emulator.

Every row of the semantics table and every guard, through the command line. Online-client
look-ups stay few per test (the emulator throttles them at the service's 30 per minute).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from reconciler.commands.options import use_color
from reconciler.models import DesiredState, LocalBackendConfig, StateResource
from reconciler.plan import diff
from reconciler.state.local import LocalBackend
from reconciler.state.locking import new_lock_info
from tests.fixtures.emulator import RunningEmulator
from tests.fixtures.plan_cli import (
    INST,
    REGION,
    groups_yaml,
    seed,
    write_desired,
    write_state,
)
from tests.fixtures.runs import ROOT, Run
from tests.fixtures.runs import run_cli as run


def change_lines(out: str) -> list[str]:
    """The change lines, whitespace collapsed (names are padded to align)."""
    return [
        " ".join(line.split())
        for line in out.splitlines()
        if line.startswith("  ") and line[2] in "+-=~*"
    ]


def json_plan(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[Run, dict[str, Any]]:
    result = run(capsys, "plan", "desired.yaml", "--format", "json", *args)
    return result, json.loads(result.out)


def actions(document: dict[str, Any]) -> dict[str, str]:
    return {f"{c['instance_id']}/{c['group_id']}": c["action"] for c in document["changes"]}


# --- the semantics table -----------------------------------------------------------------------


def test_create_adopt_noop_and_unmanaged(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(emulator, "GID_adoptme", "GID_managed", "GID_byhand")
    write_state((INST, "GID_managed"))
    write_desired(groups_yaml("{id: GID_brandnew, topic: orders}", "GID_adoptme", "GID_managed"))
    result = run(capsys, "plan", "desired.yaml", "--detailed-exitcode", "--no-color")
    assert result.code == 2, result.err
    assert change_lines(result.out) == [
        "= GID_adoptme adopt: exists in the cloud, not yet in state: recorded without an API call "
        "(desired.yaml:6)",
        "+ GID_brandnew create: declared in the file, missing from the cloud (desired.yaml:5)",
    ]
    assert f"  {INST}/GID_byhand" in result.out.splitlines()
    assert result.out.splitlines()[-1] == (
        "Plan: 1 to create, 1 to adopt, 0 to delete, 0 to forget; 1 unmanaged."
    )
    assert "\x1b[" not in result.out


def test_deleted_outside_is_recreated_with_a_note(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_state((INST, "GID_lost"))
    write_desired(groups_yaml("GID_lost"))
    result = run(capsys, "plan", "desired.yaml")
    assert result.code == 0
    assert change_lines(result.out) == [
        "+ GID_lost create: declared in the file, missing from the cloud "
        "(deleted outside reconciler) (desired.yaml:5)"
    ]
    assert "note: in state but gone from the cloud" in result.out


def test_every_kind_of_delete_and_forget(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator.store.add_instance("post-cn-excl0001", region=REGION)
    seed(emulator, "GID_tombstoned", "GID_dropped")
    seed(emulator, "GID_stray", instance_id="post-cn-excl0001")
    write_state((INST, "GID_dropped"), (INST, "GID_vanished"), ("post-cn-gone0001", "GID_orphan"))
    write_desired(
        groups_yaml("{id: GID_tombstoned, absent: true}")
        + "  - id: post-cn-excl0001\n    ownership: exclusive\n"
    )
    result, document = json_plan(capsys, "--detailed-exitcode")
    assert result.code == 2, result.err
    assert actions(document) == {
        f"{INST}/GID_dropped": "delete",
        f"{INST}/GID_tombstoned": "delete",
        f"{INST}/GID_vanished": "forget",
        "post-cn-excl0001/GID_stray": "delete",
        "post-cn-gone0001/GID_orphan": "forget",
    }
    reasons = {c["group_id"]: c["reason"] for c in document["changes"]}
    assert "absent: true" in reasons["GID_tombstoned"]
    assert "no longer declared" in reasons["GID_dropped"]
    assert "exclusive" in reasons["GID_stray"]
    deletes = [c for c in document["changes"] if c["action"] == "delete"]
    assert all(c["online_clients"] == 0 for c in deletes)
    assert document["summary"] == {
        "create": 0,
        "adopt": 0,
        "delete": 3,
        "forget": 2,
        "update": 0,
        "unmanaged": 0,
        "not_in_place": 0,
    }


def test_no_changes_exits_zero_with_detailed_exitcode(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(emulator, "GID_steady")
    write_state((INST, "GID_steady"))
    write_desired(groups_yaml("GID_steady"))
    result = run(capsys, "plan", "desired.yaml", "--detailed-exitcode")
    assert (result.code, result.out) == (0, "No changes.\n")


# --- guards ------------------------------------------------------------------------------------


def test_protection_is_sticky_and_overridable(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(emulator, "GID_precious")
    write_state(
        StateResource(region=REGION, instance_id=INST, group_id="GID_precious", protect=True)
    )
    write_desired(groups_yaml())
    refused = run(capsys, "plan", "desired.yaml", "-o", "refused.json")
    assert refused.code == 1
    assert f"override: --allow-protected-delete {INST}/GID_precious" in refused.out
    assert "Error: plan refused" in refused.err
    assert json.loads(Path("refused.json").read_text())["appliable"] is False

    allowed = run(
        capsys, "plan", "desired.yaml", "--allow-protected-delete", f"{INST}/GID_precious"
    )
    assert allowed.code == 0, allowed.err
    assert "allowed by --allow-protected-delete" in allowed.out


def test_bad_override_key_is_a_usage_error(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_desired(groups_yaml())
    result = run(capsys, "plan", "desired.yaml", "--allow-protected-delete", "GID_nokey")
    assert result.code == 1
    assert "INSTANCE_ID/GROUP_ID" in result.err


def test_online_clients_refuse_a_delete(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(emulator, "GID_live")
    emulator.store.add_client("GID_live@@@sensor-1", instance_id=INST, online=True)
    emulator.store.add_client("GID_live@@@sensor-2", instance_id=INST, online=True)
    write_desired(groups_yaml("{id: GID_live, absent: true}"))
    refused = run(capsys, "plan", "desired.yaml")
    assert refused.code == 1
    assert "2 client(s) online" in refused.out
    assert "override: --allow-online-delete" in refused.out
    allowed = run(capsys, "plan", "desired.yaml", "--allow-online-delete")
    assert allowed.code == 0
    assert "allowed by --allow-online-delete" in allowed.out


def test_skip_online_check_is_said_in_the_plan(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(emulator, "GID_live")
    emulator.store.add_client("GID_live@@@sensor-1", instance_id=INST, online=True)
    write_desired(groups_yaml("{id: GID_live, absent: true}"))
    result, document = json_plan(capsys, "--skip-online-check")
    assert result.code == 0
    (change,) = document["changes"]
    assert change["online_clients"] is None
    assert [g["kind"] for g in change["guards"]] == ["online_check_skipped"]


def test_circuit_breaker_refuses_before_lookups(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(emulator, "GID_one", "GID_two")
    emulator.store.add_client("GID_one@@@sensor-1", instance_id=INST, online=True)
    write_desired(
        "safety:\n  max_deletes: 1\n"
        + groups_yaml("{id: GID_one, absent: true}", "{id: GID_two, absent: true}")
    )
    refused = run(capsys, "plan", "desired.yaml")
    assert refused.code == 1
    assert "2 deletes exceed safety.max_deletes (1)" in refused.out
    assert "override: --allow-mass-delete" in refused.out
    assert "online clients not checked: the delete circuit breaker" in refused.out
    assert "client(s) online" not in refused.out
    # With the breaker overridden the look-ups happen, and find the online client.
    overridden = run(capsys, "plan", "desired.yaml", "--allow-mass-delete")
    assert overridden.code == 1
    assert "1 client(s) online" in overridden.out


def test_changed_topic_is_shown_not_applied(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator.store.add_topic(INST, "billing")
    seed(emulator, "GID_topical")
    write_state(
        StateResource(region=REGION, instance_id=INST, group_id="GID_topical", topic="orders")
    )
    write_desired(groups_yaml("{id: GID_topical, topic: billing}"))
    result = run(capsys, "plan", "desired.yaml", "--detailed-exitcode")
    assert result.code == 2
    assert "! GID_topical  topic orders -> billing: cannot be changed in place" in result.out
    assert result.out.splitlines()[-1].endswith("; 1 cannot be applied in place; 0 unmanaged.")


def test_probable_rename_is_flagged(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(emulator, "GID_orders_v1")
    write_state((INST, "GID_orders_v1"))
    write_desired(groups_yaml("GID_orders_v2"))
    result = run(capsys, "plan", "desired.yaml")
    assert result.code == 0
    assert result.out.count("probable rename GID_orders_v1 -> GID_orders_v2") == 2


def test_shared_namespace_conflict_and_naming_mismatch_are_errors(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    store = emulator.store
    store.add_instance("MQ_INST_shareda", region=REGION, independent_naming=False)
    store.add_instance("MQ_INST_sharedb", region=REGION, independent_naming=False)
    store.add_group("MQ_INST_shareda", "GID_existing")
    store.add_group("MQ_INST_sharedb", "GID_taken")
    seed(emulator, "GID_here")
    write_desired(
        "instances:\n"
        "  - id: MQ_INST_shareda\n    groups: [GID_existing, GID_taken]\n"
        f"  - id: {INST}\n    independent_naming: false\n    groups: [GID_here]\n"
    )
    result = run(capsys, "plan", "desired.yaml")
    assert result.code == 1
    assert "GID_taken already exists in instance MQ_INST_sharedb" in result.out
    assert (
        f"instance {INST} declares independent_naming: false but the cloud says true" in result.out
    )
    assert "cannot be overridden" in result.out


def test_target_narrows_the_plan(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator.store.add_instance("post-cn-test0002", region=REGION)
    write_desired(
        groups_yaml("GID_first", "GID_second")
        + "  - id: post-cn-test0002\n    groups: [GID_third]\n"
    )
    _, one = json_plan(capsys, "--target", f"{INST}/GID_second")
    assert actions(one) == {f"{INST}/GID_second": "create"}
    assert one["targets"] == [f"{INST}/GID_second"]
    _, whole = json_plan(capsys, "--target", "post-cn-test0002")
    assert actions(whole) == {"post-cn-test0002/GID_third": "create"}
    bad = run(capsys, "plan", "desired.yaml", "--target", "post-cn-nowhere")
    assert bad.code == 1
    assert "--target post-cn-nowhere" in bad.err


def test_refresh_only_records_drift_and_can_be_saved(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(emulator, "GID_unmanaged")
    write_state((INST, "GID_vanished"))
    write_desired(groups_yaml("GID_vanished", "GID_wanted"))
    result = run(capsys, "plan", "desired.yaml", "--refresh-only", "-o", "refresh.json")
    assert result.code == 0
    assert change_lines(result.out) == [
        "~ GID_vanished forget: in state but gone from the cloud: dropped from state "
        "(refresh only) (desired.yaml:5)"
    ]
    assert result.out.startswith("Refresh only:")
    saved = json.loads(Path("refresh.json").read_text())
    assert saved["refresh_only"] is True and saved["appliable"] is True


# --- output formats and saved plans -----------------------------------------------------------


def test_json_output_is_only_json_and_matches_the_schema(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(emulator, "GID_byhand")
    write_desired(groups_yaml("GID_new"))
    result, document = json_plan(capsys)
    schema = json.loads((ROOT / "schemas" / "plan.schema.json").read_text())
    jsonschema.validate(document, schema)
    assert document["format_version"] == 2
    assert document["unmanaged"] == [
        {"region": REGION, "instance_id": INST, "group_id": "GID_byhand", "kind": "gid"}
    ]
    assert "Refreshing" in result.err


def test_markdown_output(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_desired(groups_yaml("GID_new"))
    result = run(capsys, "plan", "desired.yaml", "--format", "markdown")
    assert result.code == 0
    assert result.out.startswith("### reconciler plan\n\n**Plan: 1 to create")
    assert f"<details><summary><b>{INST} ({REGION})</b>: 1 to create</summary>" in result.out


def test_saved_plan_records_what_it_was_built_on_and_no_secret(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(emulator, "GID_kept")
    state = write_state((INST, "GID_kept"))
    write_desired(groups_yaml("GID_kept", "GID_new"))
    result = run(capsys, "plan", "desired.yaml", "-o", "plan.json")
    assert result.code == 0
    assert "apply it with: reconciler apply plan.json" in result.err
    text = Path("plan.json").read_text()
    saved = json.loads(text)
    assert saved["state_lineage"] == state.lineage
    assert saved["state_serial"] == state.serial == 1
    assert saved["workspace"] == "default"
    assert saved["desired_source"] == "desired.yaml"
    assert len(saved["desired_digest"]) == 64
    assert list(saved["inventory_fingerprints"]) == [f"{REGION}/{INST}"]
    assert saved["inventory_group_ids"] == {f"{REGION}/{INST}": ["GID_kept"]}
    assert emulator.access_key_secret not in text + result.out + result.err


def test_plan_takes_the_state_lock(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_desired(groups_yaml("GID_new"))
    holder = LocalBackend(LocalBackendConfig(), base_dir=Path.cwd())
    lock_id = holder.lock(new_lock_info("apply"))
    try:
        blocked = run(capsys, "plan", "desired.yaml")
        assert blocked.code == 1
        assert lock_id in blocked.err
        for opt_out in (["--no-lock"], ["--lock=false"], ["--lock", "false"]):
            unlocked = run(capsys, "plan", "desired.yaml", *opt_out)
            assert unlocked.code == 0, opt_out
    finally:
        holder.unlock(lock_id)
        holder.close()
    assert run(capsys, "plan", "desired.yaml", "--lock-timeout", "2s").code == 0
    bad = run(capsys, "plan", "desired.yaml", "--lock-timeout", "soon")
    assert bad.code == 1 and "duration" in bad.err


def test_config_errors_are_one_line_per_problem(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_desired("instances:\n  - id: post-cn-test0001\n    groups: [NOT_A_GID]\n")
    result = run(capsys, "plan", "desired.yaml")
    assert result.code == 1
    assert "desired.yaml:" in result.err
    assert "Traceback" not in result.err


def test_colour_follows_terminal_and_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty:
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    assert use_color(False, Tty())
    assert not use_color(True, Tty())
    assert not use_color(False, object())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not use_color(False, Tty())


def _copy_quickstart(target: Path) -> Path:
    source = ROOT / "examples" / "quickstart.yaml"
    destination = target / "quickstart.yaml"
    destination.write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    return destination


def test_quickstart_plans_against_the_embedded_emulator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in (
        "RECONCILER_ENDPOINT",
        "ALIBABA_CLOUD_ACCESS_KEY_ID",
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
    ):
        monkeypatch.delenv(name, raising=False)
    _copy_quickstart(tmp_path)
    result = run(capsys, "plan", "quickstart.yaml", "--detailed-exitcode")
    assert result.code == 2, result.err
    assert "embedded emulator" in result.err
    assert result.out.splitlines()[-1].startswith("Plan: ")
    assert (tmp_path / ".reconciler" / "emulator.sqlite").exists()


def test_the_files_located_warnings_are_shown_once_on_stderr(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Client ids on an ons instance are ignored: validate warns, and so must plan and apply.
    write_desired(groups_yaml("{id: GID_alpha, clients: [GID_alpha@@@d]}"))
    warning = f"desired.yaml:5:34: warning: client ids are ignored on instance '{INST}'"
    validated = run(capsys, "validate", "desired.yaml")
    expected = [line for line in validated.err.splitlines() if line.startswith(warning)]
    assert len(expected) == 1, validated.err

    text = run(capsys, "plan", "desired.yaml", "--no-color")
    assert text.code == 0, text.err
    assert [line for line in text.err.splitlines() if "warning:" in line] == expected
    assert "warning:" not in text.out

    result, document = json_plan(capsys)  # stdout stays one JSON document
    assert result.code == 0, result.err
    assert actions(document) == {f"{INST}/GID_alpha": "create"}
    assert [line for line in result.err.splitlines() if "warning:" in line] == expected

    applied = run(capsys, "apply", "desired.yaml", "--auto-approve", "--format", "json")
    assert applied.code == 0, applied.err
    assert json.loads(applied.out)["result"]["status"] == "ok"
    assert [line for line in applied.err.splitlines() if "warning:" in line] == expected


@pytest.mark.parametrize(
    ("args", "recorded"),
    [
        ((), False),
        (("--format", "markdown"), False),
        (("--format", "json"), True),
        (("-o", "saved.json"), True),
    ],
    ids=["text", "markdown", "json", "saved"],
)
def test_only_a_saved_or_json_plan_digests_and_summarises_the_desired_state(
    workdir: Path,
    emulator: RunningEmulator,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    args: tuple[str, ...],
    recorded: bool,
) -> None:
    # Only a saved plan's staleness check reads them: a plan only shown skips both passes
    # over every declared GID.
    seed(emulator, "GID_kept")
    write_desired(groups_yaml("GID_kept", "GID_new"))
    calls: list[str] = []
    digest = DesiredState.digest
    summarize = diff.summarize_desired

    def counted_digest(desired: DesiredState) -> str:
        calls.append("digest")
        return digest(desired)

    def counted_summary(desired: DesiredState) -> Any:
        calls.append("summary")
        return summarize(desired)

    monkeypatch.setattr(DesiredState, "digest", counted_digest)
    monkeypatch.setattr(diff, "summarize_desired", counted_summary)
    result = run(capsys, "plan", "desired.yaml", "--no-color", *args)
    assert result.code == 0, result.err
    assert "GID_new" in result.out or Path("saved.json").exists()
    assert sorted(calls) == (["digest", "summary"] if recorded else [])
    if "-o" in args:
        saved = json.loads(Path("saved.json").read_text())
        assert saved["desired_digest"]
        assert saved["desired_instances"]
