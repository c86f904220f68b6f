"""Instances managed through either API (``api: ons`` or ``api: onsmqtt``), end to end through
the CLI against the emulator: the same plan semantics, the state recording the API, saved plans,
the embedded endpoint; then what OnsMqtt 2020-04-20 alone does (the online check asked about
known client ids, import of client ids, export --all), marked for it, and switching between
the APIs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.state.local import LocalBackend
from tests.fixtures.apis import API_CASES, ApiCase
from tests.fixtures.apply_kit import cloud, cwd_backend, state_group_ids, write_desired
from tests.fixtures.emulator import TEST_INSTANCE_ID, TEST_REGION, RunningEmulator
from tests.fixtures.emulator_store import group_ids
from tests.fixtures.runs import run_cli

ONSMQTT = "provider:\n  api: onsmqtt\n"
OTHER = "post-cn-test0002"


def _apis(backend: LocalBackend) -> dict[str, str]:
    state = backend.read()
    assert state is not None
    return {resource.group_id: resource.api for resource in state.resources}


# What a dry run prints for the create of GID_alpha, through each API.
DRY_RUN_CREATE = {
    "ons": f"OnsMqttGroupIdCreate RegionId={TEST_REGION} InstanceId={TEST_INSTANCE_ID} "
    "GroupId=GID_alpha",
    "onsmqtt": f"CreateGroupId InstanceId={TEST_INSTANCE_ID} GroupId=GID_alpha",
}


def test_an_instance_applies_and_records_its_api(
    api_case: ApiCase,
    workdir: Path,
    emulator: RunningEmulator,
    capsys: pytest.CaptureFixture[str],
) -> None:
    emulator.store.add_group(TEST_INSTANCE_ID, "GID_handmade")
    write_desired(
        "GID_alpha", "{id: GID_bravo, protect: true}", "GID_handmade", extra=api_case.provider
    )

    dry = run_cli(capsys, "apply", "desired.yaml", "--dry-run")
    assert dry.code == 0, dry.err
    assert DRY_RUN_CREATE[api_case.name] in dry.out
    other = next(case for case in API_CASES.values() if case is not api_case)
    assert other.create_action not in dry.out

    first = run_cli(capsys, "apply", "desired.yaml", "--auto-approve")
    assert first.code == 0, first.err
    assert "Plan: 2 to create, 1 to adopt" in first.out
    assert cloud(emulator) == {"GID_alpha", "GID_bravo", "GID_handmade"}
    assert _apis(cwd_backend()) == dict.fromkeys(cloud(emulator), api_case.name)

    again = run_cli(capsys, "plan", "desired.yaml", "--detailed-exitcode")
    assert again.code == 0, again.out + again.err
    assert again.out.strip().endswith("No changes.")


def test_switching_an_instance_from_ons_to_onsmqtt_plans_no_changes_and_apply_records_it(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    write_desired("GID_alpha", "GID_bravo")
    assert run_cli(capsys, "apply", "desired.yaml", "--auto-approve").code == 0
    assert set(_apis(cwd_backend()).values()) == {"ons"}
    serial = cwd_backend().read().serial  # type: ignore[union-attr]

    write_desired("GID_alpha", "GID_bravo", extra=ONSMQTT)
    plan = run_cli(capsys, "plan", "desired.yaml", "--detailed-exitcode")
    assert plan.code == 0, plan.out + plan.err
    assert plan.out.strip().endswith("No changes.")
    dry = run_cli(capsys, "apply", "desired.yaml", "--dry-run")
    assert dry.code == 0 and cwd_backend().read().serial == serial  # type: ignore[union-attr]

    applied = run_cli(capsys, "apply", "desired.yaml", "--auto-approve")
    assert applied.code == 0, applied.err
    assert applied.out.strip().endswith("No changes.")
    assert "Recorded the file's API" in applied.err
    assert _apis(cwd_backend()) == {"GID_alpha": "onsmqtt", "GID_bravo": "onsmqtt"}
    # Recorded once: the next apply has nothing to write.
    assert run_cli(capsys, "apply", "desired.yaml", "--auto-approve").code == 0
    assert cwd_backend().read().serial == serial + 1  # type: ignore[union-attr]


@pytest.mark.api("onsmqtt")
def test_delete_on_onsmqtt_notes_that_the_online_check_is_not_available(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    write_desired("GID_alpha", "GID_bravo", extra=ONSMQTT)
    assert run_cli(capsys, "apply", "desired.yaml", "--auto-approve").code == 0
    emulator.store.add_client("GID_bravo@@@device-1", instance_id=TEST_INSTANCE_ID)
    write_desired("GID_alpha", extra=ONSMQTT)

    plan = run_cli(capsys, "plan", "desired.yaml", "--format", "json")
    assert plan.code == 0, plan.err
    (change,) = json.loads(plan.out)["changes"]
    assert change["action"] == "delete" and change["api"] == "onsmqtt"
    assert change["online_clients"] is None  # nothing could be asked
    (note,) = change["guards"]
    assert note["kind"] == "online_check_unavailable"
    assert "online check not available on onsmqtt" in note["message"]
    assert "clients:" in note["message"]

    applied = run_cli(capsys, "apply", "desired.yaml", "--auto-approve")
    assert applied.code == 0, applied.err
    assert cloud(emulator) == {"GID_alpha"}


@pytest.mark.api("onsmqtt")
def test_known_clients_are_asked_about_and_an_online_one_refuses_the_delete(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    clients = "[GID_bravo@@@device-1, GID_bravo@@@device-2]"
    write_desired("GID_alpha", f"{{id: GID_bravo, clients: {clients}}}", extra=ONSMQTT)
    assert run_cli(capsys, "apply", "desired.yaml", "--auto-approve").code == 0
    recorded = cwd_backend().read()
    assert recorded is not None
    bravo = next(r for r in recorded.resources if r.group_id == "GID_bravo")
    assert bravo.clients == ("GID_bravo@@@device-1", "GID_bravo@@@device-2")
    emulator.store.add_client("GID_bravo@@@device-2", instance_id=TEST_INSTANCE_ID)
    # Removed from the file: the known clients come from the state.
    write_desired("GID_alpha", extra=ONSMQTT)

    refused = run_cli(capsys, "plan", "desired.yaml")
    assert refused.code == 1
    assert "1 client(s) online (GID_bravo@@@device-2)" in refused.out
    assert "only its 2 known client id(s) are asked about" in refused.out
    assert "--allow-online-delete" in refused.err
    assert run_cli(capsys, "apply", "desired.yaml", "--auto-approve").code == 1
    assert "GID_bravo" in cloud(emulator)

    skipped = run_cli(capsys, "plan", "desired.yaml", "--skip-online-check")
    assert skipped.code == 0, skipped.err
    assert "online clients not checked (--skip-online-check)" in skipped.out

    allowed = run_cli(capsys, "apply", "desired.yaml", "--auto-approve", "--allow-online-delete")
    assert allowed.code == 0, allowed.err
    assert cloud(emulator) == {"GID_alpha"} == state_group_ids(cwd_backend().read())


@pytest.mark.api("onsmqtt")
def test_a_tombstone_with_offline_clients_is_deleted(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator.store.add_group(TEST_INSTANCE_ID, "GID_old")
    emulator.store.add_client("GID_old@@@d1", instance_id=TEST_INSTANCE_ID, online=False)
    write_desired("{id: GID_old, absent: true, clients: [GID_old@@@d1]}", extra=ONSMQTT)
    result = run_cli(capsys, "apply", "desired.yaml", "--auto-approve")
    assert result.code == 0, result.err
    assert "0 client(s) online" in result.out
    assert cloud(emulator) == set()


def test_saved_plan_applies_and_a_stale_one_is_refused(
    api_case: ApiCase,
    workdir: Path,
    emulator: RunningEmulator,
    capsys: pytest.CaptureFixture[str],
) -> None:
    write_desired("GID_alpha", extra=api_case.provider)
    assert run_cli(capsys, "plan", "desired.yaml", "-o", "plan.json").code == 0
    saved = json.loads(Path("plan.json").read_text(encoding="utf-8"))
    assert [c["api"] for c in saved["changes"]] == [api_case.name]
    emulator.store.add_group(TEST_INSTANCE_ID, "GID_sneaky")
    stale = run_cli(capsys, "apply", "plan.json")
    assert stale.code == 1
    assert "GID_sneaky" in stale.err

    assert run_cli(capsys, "plan", "desired.yaml", "-o", "plan.json").code == 0
    applied = run_cli(capsys, "apply", "plan.json")
    assert applied.code == 0, applied.err
    assert _apis(cwd_backend()) == {"GID_alpha": api_case.name}


def test_names_are_checked_across_apis_in_a_shared_namespace(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator.store.add_instance("post-cn-shared1", region=TEST_REGION, independent_naming=False)
    emulator.store.add_instance("post-cn-shared2", region=TEST_REGION, independent_naming=False)
    emulator.store.add_group("post-cn-shared1", "GID_taken")
    Path("desired.yaml").write_text(
        "version: 1\nbackend:\n  local:\n    path: state.json\n"
        "instances:\n"
        "  - id: post-cn-shared1\n    groups: [GID_taken]\n"
        "  - id: post-cn-shared2\n    api: onsmqtt\n    groups: [GID_taken]\n",
        encoding="utf-8",
    )
    result = run_cli(capsys, "plan", "desired.yaml")
    assert result.code == 1
    assert "GID_taken already exists in instance post-cn-shared1" in result.out


@pytest.mark.api("onsmqtt")
def test_import_records_the_instances_api(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator.store.add_group(TEST_INSTANCE_ID, "GID_made")
    write_desired("{id: GID_made, clients: [GID_made@@@d1]}", extra=ONSMQTT)
    result = run_cli(capsys, "import", f"{TEST_INSTANCE_ID}/GID_made", "-c", "desired.yaml")
    assert result.code == 0, result.err
    state = cwd_backend().read()
    assert state is not None
    (resource,) = state.resources
    assert (resource.api, resource.clients) == ("onsmqtt", ("GID_made@@@d1",))


@pytest.mark.api("onsmqtt")
def test_export_all_then_validate_and_plan_adopts_only(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator.store.add_instance(OTHER, region=TEST_REGION, independent_naming=False)
    emulator.store.add_instance("post-cn-empty", region=TEST_REGION)
    emulator.store.add_instance("post-cn-elsewhere", region="cn-beijing")
    for gid in ("GID_aaa1", "GID_aaa2"):
        emulator.store.add_group(TEST_INSTANCE_ID, gid)
    emulator.store.add_group(OTHER, "GID_bbb1")

    exported = run_cli(
        capsys, "export", "--all", "--region", TEST_REGION, "--api", "onsmqtt", "-o", "all.yaml"
    )
    assert exported.code == 0, exported.err
    assert "3 instance(s)" in exported.err
    text = Path("all.yaml").read_text(encoding="utf-8")
    assert "  api: onsmqtt" in text and "post-cn-elsewhere" not in text
    assert f"  - id: {OTHER}\n    independent_naming: false\n" in text
    assert "  - id: post-cn-empty\n    # independent_naming is left out" in text

    assert run_cli(capsys, "validate", "all.yaml").code == 0
    plan = run_cli(capsys, "plan", "all.yaml", "--format", "json")
    assert plan.code == 0, plan.err
    document = json.loads(plan.out)
    assert document["summary"]["adopt"] == 3, plan.out
    assert {c["action"] for c in document["changes"]} == {"adopt"}
    assert {c["api"] for c in document["changes"]} == {"onsmqtt"}


def test_export_needs_an_instance_or_all(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    neither = run_cli(capsys, "export")
    assert neither.code != 0 and "give --instance ID or --all" in neither.err
    both = run_cli(capsys, "export", "--all", "--instance", TEST_INSTANCE_ID)
    assert both.code != 0 and "give --instance ID or --all" in both.err


def test_bad_api_and_foreign_client_ids_are_located_errors(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    Path("bad.yaml").write_text(
        "version: 1\n"
        "provider:\n  api: onsmqt\n"
        "instances:\n"
        "  - id: post-cn-a\n"
        "    api: mqtt\n"
        "    groups:\n"
        "      - id: GID_mine\n"
        "        clients: [GID_mine@@@ok, GID_other@@@d1]\n",
        encoding="utf-8",
    )
    result = run_cli(capsys, "validate", "bad.yaml")
    assert result.code == 1
    lines = result.out.splitlines() + result.err.splitlines()
    assert (
        "bad.yaml:3:8: unknown api 'onsmqt' (did you mean 'onsmqtt'?): expected 'ons' or "
        "'onsmqtt' (at provider.api)"
    ) in lines
    assert any(line.startswith("bad.yaml:6:10: unknown api 'mqtt'") for line in lines)
    assert (
        "bad.yaml:9:34: client id 'GID_other@@@d1' does not belong to GID_mine: it must start "
        "with GID_mine@@@ (at instances[0].groups[0].clients[1])"
    ) in lines


@pytest.mark.api("ons")
def test_clients_on_an_ons_instance_are_ignored_with_a_located_warning(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    Path("ons.yaml").write_text(
        "version: 1\n"
        "group_sets:\n  base:\n    - {id: GID_set, clients: [GID_set@@@d]}\n"
        "instances:\n"
        "  - id: post-cn-a\n"
        "    include: [base]\n"
        "    groups:\n"
        "      - {id: GID_mine, clients: [GID_mine@@@d]}\n",
        encoding="utf-8",
    )
    result = run_cli(capsys, "validate", "ons.yaml")
    assert result.code == 0, result.out + result.err
    output = result.out + result.err
    assert "ons.yaml:7:15: warning: client ids are ignored on instance 'post-cn-a'" in output
    assert "ons.yaml:9:33: warning: client ids are ignored on instance 'post-cn-a'" in output


def test_a_saved_plan_is_stale_once_the_files_api_changes(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    write_desired("GID_alpha")
    assert run_cli(capsys, "plan", "desired.yaml", "-o", "plan.json").code == 0
    write_desired("GID_alpha", extra=ONSMQTT)
    stale = run_cli(capsys, "apply", "plan.json")
    assert stale.code == 1
    assert f"{TEST_INSTANCE_ID}: api changed (ons -> onsmqtt)" in stale.err
    assert cloud(emulator) == set()


def test_embedded_endpoint_serves_instances_of_either_api(
    api_case: ApiCase,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RECONCILER_ENDPOINT", raising=False)
    write_desired("GID_alpha", extra=f"provider:\n  api: {api_case.name}\n  endpoint: embedded\n")
    first = run_cli(capsys, "apply", "desired.yaml", "--auto-approve")
    assert first.code == 0, first.err
    assert "Using the embedded emulator" in first.err
    assert _apis(cwd_backend()) == {"GID_alpha": api_case.name}
    again = run_cli(capsys, "plan", "desired.yaml")
    assert again.out.strip().endswith("No changes."), again.out


def test_an_instance_removed_from_the_file_is_deleted_through_its_recorded_api(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator.store.add_instance(OTHER, region=TEST_REGION)
    Path("desired.yaml").write_text(
        "version: 1\nbackend:\n  local:\n    path: state.json\n"
        "instances:\n"
        f"  - id: {TEST_INSTANCE_ID}\n    groups: [GID_keep]\n"
        f"  - id: {OTHER}\n    api: onsmqtt\n    groups: [GID_gone]\n",
        encoding="utf-8",
    )
    assert run_cli(capsys, "apply", "desired.yaml", "--auto-approve").code == 0
    write_desired("GID_keep")  # OTHER is no longer declared

    dry = run_cli(capsys, "apply", "desired.yaml", "--dry-run")
    assert dry.code == 0, dry.err
    assert f"DeleteGroupId InstanceId={OTHER} GroupId=GID_gone" in dry.out
    assert "online check not available on onsmqtt" in dry.out
    assert run_cli(capsys, "apply", "desired.yaml", "--auto-approve").code == 0
    assert group_ids(emulator.store, OTHER) == []
    assert state_group_ids(cwd_backend().read()) == {"GID_keep"}
