"""GID tags end to end on the emulator (issue 19, item 6): plan, apply, --dry-run, saved plans
and export carry them; a changed tag is shown ``!`` and never applied; a GID declared without
tags is not drift, whatever tags the cloud holds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.models import named
from tests.fixtures.apply_kit import cwd_backend, write_desired
from tests.fixtures.emulator import TEST_INSTANCE_ID, RunningEmulator
from tests.fixtures.runs import run_cli

pytestmark = pytest.mark.api("onsmqtt")
ONSMQTT = "provider:\n  api: onsmqtt\n"
TAGGED = "{id: GID_orders, tags: {team: orders, env: prod}}"


def _cloud_tags(emulator: RunningEmulator) -> dict[str, dict[str, str]]:
    return {group.group_id: dict(group.tags) for group in emulator.store.groups([TEST_INSTANCE_ID])}


def _state_tags() -> dict[str, str | None]:
    document = cwd_backend().read()
    assert document is not None
    return {r.group_id: named(r.attributes).get("tags") for r in document.resources}


def test_apply_creates_tagged_gids_and_records_their_tags(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    write_desired(TAGGED, "GID_plain", extra=ONSMQTT)

    dry = run_cli(capsys, "apply", "desired.yaml", "--dry-run")
    assert dry.code == 0, dry.err
    assert (
        f"CreateGroupId InstanceId={TEST_INSTANCE_ID} GroupId=GID_orders "
        'Tags=[{"key":"env","value":"prod"},{"key":"team","value":"orders"}]'
    ) in dry.out
    assert f"CreateGroupId InstanceId={TEST_INSTANCE_ID} GroupId=GID_plain\n" in dry.out
    assert _cloud_tags(emulator) == {}

    applied = run_cli(capsys, "apply", "desired.yaml", "--auto-approve")
    assert applied.code == 0, applied.err
    assert _cloud_tags(emulator) == {
        "GID_orders": {"env": "prod", "team": "orders"},
        "GID_plain": {},
    }
    assert _state_tags() == {"GID_orders": '{"env": "prod", "team": "orders"}', "GID_plain": None}

    again = run_cli(capsys, "plan", "desired.yaml", "--detailed-exitcode")
    assert again.code == 0, again.out


def test_a_changed_tag_is_shown_and_never_applied(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    write_desired(TAGGED, extra=ONSMQTT)
    assert run_cli(capsys, "apply", "desired.yaml", "--auto-approve").code == 0
    write_desired("{id: GID_orders, tags: {team: orders, env: dev}}", extra=ONSMQTT)

    plan = run_cli(capsys, "plan", "desired.yaml", "--detailed-exitcode")
    assert plan.code == 2
    assert (
        '! GID_orders  tags {"env": "prod", "team": "orders"} -> {"env": "dev", "team": "orders"}:'
        " cannot be changed in place"
    ) in plan.out
    as_json = json.loads(run_cli(capsys, "plan", "desired.yaml", "--format", "json").out)
    assert as_json["changes"] == []
    [difference] = as_json["not_in_place"]
    assert difference["attribute"] == "tags"

    applied = run_cli(capsys, "apply", "desired.yaml", "--auto-approve")
    assert applied.code == 4, applied.out + applied.err
    assert _cloud_tags(emulator) == {"GID_orders": {"env": "prod", "team": "orders"}}
    assert _state_tags() == {"GID_orders": '{"env": "prod", "team": "orders"}'}


def test_a_gid_declared_without_tags_is_not_drift_and_is_adopted_with_the_clouds(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator.store.add_group(TEST_INSTANCE_ID, "GID_handmade", tags=(("team", "ops"),))
    write_desired("GID_handmade", extra=ONSMQTT)

    plan = run_cli(capsys, "plan", "desired.yaml")
    assert plan.code == 0, plan.err
    assert "= GID_handmade" in plan.out
    assert "!" not in plan.out
    assert run_cli(capsys, "apply", "desired.yaml", "--auto-approve").code == 0
    assert _state_tags() == {"GID_handmade": '{"team": "ops"}'}
    assert run_cli(capsys, "plan", "desired.yaml", "--detailed-exitcode").code == 0

    # Naming the tags it has is no change either; naming others is shown, never applied.
    write_desired("{id: GID_handmade, tags: {team: ops}}", extra=ONSMQTT)
    assert run_cli(capsys, "plan", "desired.yaml", "--detailed-exitcode").code == 0
    write_desired("{id: GID_handmade, tags: {}}", extra=ONSMQTT)
    plan = run_cli(capsys, "plan", "desired.yaml", "--detailed-exitcode")
    assert plan.code == 2
    assert '! GID_handmade  tags {"team": "ops"} -> {}' in plan.out


def test_adopting_a_gid_whose_tags_disagree_with_the_file_records_the_clouds_and_says_so(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator.store.add_group(TEST_INSTANCE_ID, "GID_handmade", tags=(("team", "ops"),))
    write_desired("{id: GID_handmade, tags: {team: platform}}", extra=ONSMQTT)

    plan = run_cli(capsys, "plan", "desired.yaml")
    assert "= GID_handmade" in plan.out
    assert '! GID_handmade  tags {"team": "ops"} -> {"team": "platform"}' in plan.out
    applied = run_cli(capsys, "apply", "desired.yaml", "--auto-approve")
    assert applied.code == 4
    assert _state_tags() == {"GID_handmade": '{"team": "ops"}'}
    assert _cloud_tags(emulator) == {"GID_handmade": {"team": "ops"}}


def test_a_saved_plan_creates_the_tags_it_shows(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    write_desired(TAGGED, extra=ONSMQTT)
    assert run_cli(capsys, "plan", "desired.yaml", "-o", "plan.json").code == 0
    saved = json.loads(Path("plan.json").read_text(encoding="utf-8"))
    [change] = saved["changes"]
    assert change["attributes"] == [{"name": "tags", "value": '{"env": "prod", "team": "orders"}'}]

    applied = run_cli(capsys, "apply", "plan.json")
    assert applied.code == 0, applied.err
    assert _cloud_tags(emulator) == {"GID_orders": {"env": "prod", "team": "orders"}}


def test_export_writes_the_tags_and_the_export_plans_clean(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    store = emulator.store
    store.add_group(TEST_INSTANCE_ID, "GID_tagged", tags=(("team", "a b"), ("site", "x,y: {z}")))
    store.add_group(TEST_INSTANCE_ID, "GID_plain")
    exported = run_cli(
        capsys,
        "export",
        "--instance",
        TEST_INSTANCE_ID,
        "--region",
        emulator.region,
        "--api",
        "onsmqtt",
        "-o",
        "exported.yaml",
    )
    assert exported.code == 0, exported.err
    text = Path("exported.yaml").read_text(encoding="utf-8")
    assert '      - {id: GID_tagged, tags: {site: "x,y: {z}", team: "a b"}}\n' in text
    assert "      - GID_plain\n" in text
    assert run_cli(capsys, "validate", "exported.yaml").code == 0
    assert run_cli(capsys, "fmt", "--check", "exported.yaml").code == 0
    plan = run_cli(capsys, "plan", "exported.yaml", "--detailed-exitcode")
    assert plan.code == 2  # adopt only
    assert "!" not in plan.out
    assert "Plan: 0 to create, 2 to adopt, 0 to delete" in plan.out


def test_tags_on_an_ons_instance_stop_validate_with_one_located_line(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_desired(TAGGED)
    result = run_cli(capsys, "validate", "desired.yaml")
    assert result.code == 1
    assert result.err.strip().splitlines() == [
        f"desired.yaml:8:32: instance '{TEST_INSTANCE_ID}' uses the ons API, which cannot tag a "
        "GID: tags are set by CreateGroupId of api: onsmqtt instances only "
        "(at instances[0].groups[0].tags)",
        "validate: 1 error in 1 file (of 1 checked)",
    ]
    assert "Traceback" not in result.err
