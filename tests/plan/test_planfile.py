"""Saved plan files: round trip, refusals, the schema (and its drift), staleness reasons."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import jsonschema
import pytest

from reconciler.errors import PlanError, PlanRefusedError
from reconciler.models import DesiredState, SafetyConfig
from reconciler.plan.diff import PlanOptions, diff_plan
from reconciler.plan.planfile import (
    check_fresh,
    content_digest,
    digest_problem,
    dumps_plan,
    ensure_appliable,
    load_plan,
    loads_plan,
    plan_document,
    plan_json_schema,
    save_plan,
)
from reconciler.render.json import render_json
from tests.fixtures.plan_models import (
    INST,
    LABEL,
    META,
    OTHER,
    REGION,
    desired,
    fresh_world,
    group,
    instance,
    inventory,
    plan_of,
    state,
)
from tests.fixtures.sample_plan import empty_plan, sample_plan

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "plan.schema.json"


def test_checked_in_schema_matches_the_model() -> None:
    generated = json.dumps(plan_json_schema(), indent=2, sort_keys=True) + "\n"
    if os.environ.get("RECONCILER_UPDATE_SNAPSHOTS", "") not in ("", "0"):
        SCHEMA_PATH.write_text(generated, encoding="utf-8")
    assert SCHEMA_PATH.read_text(encoding="utf-8") == generated, (
        "schemas/plan.schema.json is out of date; run with RECONCILER_UPDATE_SNAPSHOTS=1"
    )


@pytest.mark.parametrize("document", ["file", "json"])
def test_plan_documents_validate_against_the_schema(document: str, tmp_path: Path) -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    plan = sample_plan()
    if document == "file":
        instance_doc = json.loads(save_plan(plan, tmp_path / "p.json").read_text())
    else:
        instance_doc = json.loads(render_json(plan))
    jsonschema.validate(instance_doc, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**instance_doc, "changes": [{"action": "rename"}]}, schema)


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    plan = sample_plan()
    path = save_plan(plan, tmp_path / "plan.json")
    document = json.loads(path.read_text())
    # The saved file carries its digest; the rest loads as it was.
    assert load_plan(path) == plan.model_copy(update={"digest": document["digest"]})
    assert document["inventory_group_ids"][LABEL]
    assert document["summary"]["delete"] == 5
    assert list(tmp_path.iterdir()) == [path]  # no temp file left behind


def test_a_saved_plan_matches_its_digest_until_edited(tmp_path: Path) -> None:
    """Every kind of field survives the round trip unchanged (guards, sources, online counts,
    differences, the desired record), so the digest holds; any edit breaks it."""
    path = save_plan(sample_plan(), tmp_path / "plan.json")
    assert digest_problem(load_plan(path), "plan.json") is None
    document = json.loads(path.read_text())
    document["changes"][0]["reason"] = "reworded"
    edited = loads_plan(json.dumps(document), "plan.json")
    assert "plan.json was edited after it was made" in str(digest_problem(edited, "plan.json"))
    document["digest"] = content_digest(document)
    assert digest_problem(loads_plan(json.dumps(document)), "plan.json") is None


def test_json_on_stdout_carries_no_digest() -> None:
    assert "digest" not in plan_document(sample_plan(), include_inventory=False)


def test_plan_file_holds_no_secret(tmp_path: Path) -> None:
    text = save_plan(sample_plan(), tmp_path / "p.json").read_text()
    for word in ("secret", "password", "dsn", "token", "AccessKey"):
        assert word.lower() not in text.lower()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{nope", "invalid JSON"),
        ("[]", "no format_version"),
        ('{"format_version": 99}', "format version 99"),
        ('{"format_version": 2, "changes": 3}', "not a valid plan file"),
    ],
)
def test_bad_plan_files_are_one_line_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "p.json"
    path.write_text(text)
    with pytest.raises(PlanError, match=message) as info:
        load_plan(path)
    assert "\n" not in str(info.value)
    assert str(path) in str(info.value)


def test_a_plan_saved_in_an_older_format_is_refused_with_plan_again(tmp_path: Path) -> None:
    path = save_plan(sample_plan(), tmp_path / "p.json")
    document = json.loads(path.read_text())
    document["format_version"] = 1
    document["digest"] = content_digest(document)
    path.write_text(json.dumps(document))
    with pytest.raises(PlanError) as info:
        load_plan(path)
    assert str(info.value) == (
        f"{path}: plan format version 1 is older than this reconciler's (2): plan again "
        "and apply the new plan"
    )


def test_a_plan_saved_in_a_newer_format_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text('{"format_version": 3}')
    with pytest.raises(PlanError) as info:
        load_plan(path)
    assert str(info.value) == (
        f"{path}: plan format version 3 is newer than this reconciler reads (2): "
        "use a newer reconciler"
    )


def test_each_resource_of_a_saved_plan_names_its_kind(tmp_path: Path) -> None:
    document = json.loads(save_plan(sample_plan(), tmp_path / "p.json").read_text())
    assert document["format_version"] == 2
    entries = [*document["changes"], *document["not_in_place"], *document["unmanaged"]]
    assert entries and {entry["kind"] for entry in entries} == {"gid"}


def test_a_plan_that_recorded_no_files_is_stale_once_the_desired_state_has_files() -> None:
    # No plan of this format lacks them: an empty record is a plan made from no file.
    want, have, inv, plan = fresh_world()
    from_files = want.model_copy(update={"files": {"d.yaml": "0" * 64}})
    assert plan.desired_files == {}
    reasons = check_fresh(plan, from_files, have, {LABEL: inv})
    assert reasons == ["d.yaml appeared since the plan (it was not one of its files)"]


def test_missing_plan_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match="cannot read plan file"):
        load_plan(tmp_path / "nope.json")


def test_refused_plan_is_not_appliable() -> None:
    with pytest.raises(PlanRefusedError) as info:
        ensure_appliable(sample_plan())
    assert any("--allow-online-delete" in reason for reason in info.value.reasons)
    assert plan_document(sample_plan())["appliable"] is False
    ensure_appliable(empty_plan())


def test_fresh_plan_has_no_reasons() -> None:
    want, have, inv, plan = fresh_world()
    assert check_fresh(plan, want, have, {LABEL: inv}, workspace="default") == []


def test_stale_plan_explains_every_change() -> None:
    _want, have, _inv, plan = fresh_world()
    edited = desired(instance(INST, "GID_aaa", "GID_bbb"))
    moved = have.model_copy(update={"serial": 4})
    now = inventory(INST, ["GID_aaa", "GID_new"])
    reasons = check_fresh(plan, edited, moved, {LABEL: now}, workspace="prod")
    text = "\n".join(reasons)
    assert "workspace 'default', but this is workspace 'prod'" in text
    assert "state serial moved from 3 to 4" in text
    assert "d.yaml changed since the plan" in text
    assert "appeared: GID_new" in text and "vanished: GID_old" in text
    assert len(reasons) == 4


def test_other_lineage_and_unlisted_instance_are_stale() -> None:
    want, have, _inv, plan = fresh_world()
    other = have.model_copy(update={"lineage": "99999999-2222-3333-4444-555555555555"})
    reasons = check_fresh(plan, want, other, {})
    assert any("lineage changed" in r for r in reasons)
    assert any("was not listed" in r for r in reasons)


def test_another_state_says_where_each_is() -> None:
    want, have, inv, plan = fresh_world()
    plan = plan.model_copy(update={"state_backend": "local /a/state.json"})
    other = have.model_copy(update={"lineage": "99999999-2222-3333-4444-555555555555"})
    (reason,) = check_fresh(plan, want, other, {LABEL: inv}, state_backend="local /b/state.json")
    assert reason.endswith(
        "it is a different state (the plan's was at local /a/state.json; this one is at "
        "local /b/state.json)"
    )
    (missing,) = check_fresh(plan, want, None, {LABEL: inv}, state_backend="local /b/state.json")
    assert missing.startswith(
        "no state was found at local /b/state.json; the plan was made on the state at "
        "local /a/state.json (lineage "
    )


def test_plan_on_no_state_stays_fresh_until_state_is_written() -> None:
    want = desired(instance(INST, "GID_aaa"))
    inv = inventory(INST)
    plan = plan_of(want, [inv], None)
    created = state(serial=0)
    assert check_fresh(plan, want, created, {LABEL: inv}) == []
    assert check_fresh(plan, want, state(serial=1), {LABEL: inv}) != []


# --- what changed in the desired file ---------------------------------------------------------


def _desired_reason(before: DesiredState, after: DesiredState) -> str:
    invs = [inventory(i.instance_id) for i in before.instances]
    plan = loads_plan(dumps_plan(plan_of(before, invs)))  # as saved and loaded
    reasons = [r for r in check_fresh(plan, after, None, {}) if "changed since" in r]
    assert len(reasons) == 1
    return reasons[0]


def test_stale_desired_file_says_which_gids_and_settings_changed() -> None:
    before = desired(
        instance(INST, "GID_keep", "GID_gone", group("GID_safe", topic="orders")),
        instance(OTHER, group("GID_zzz", protect=True), "GID_www"),
    )
    after = desired(
        instance(INST, "GID_keep", group("GID_safe", topic="shadow"), "GID_new"),
        instance(OTHER, "GID_zzz", group("GID_www", description="the web")),
    )
    assert _desired_reason(before, after) == (
        f"d.yaml changed since the plan: {INST}: GID_new added, GID_gone removed, topic of "
        f"GID_safe changed (orders -> shadow); {OTHER}: protect of GID_zzz changed "
        "(true -> unset), description of GID_www changed"
    )


def test_stale_desired_file_names_instance_and_safety_changes() -> None:
    before = desired(instance(INST, "GID_aaa"), instance(OTHER, "GID_bbb"))
    after = desired(
        instance(INST, "GID_aaa", ownership="exclusive", independent_naming=True),
        instance("post-cn-test0003"),
        safety=SafetyConfig(max_deletes=3),
    )
    assert _desired_reason(before, after) == (
        "d.yaml changed since the plan: safety: max_deletes 10 -> 3; "
        f"{INST}: ownership changed (managed -> exclusive), independent_naming changed "
        f"(unset -> true); {OTHER}: instance removed ({REGION}); post-cn-test0003: instance "
        f"added ({REGION})"
    )


def test_stale_desired_file_reordered_says_so() -> None:
    before = desired(instance(INST, "GID_aaa", "GID_bbb"))
    after = desired(instance(INST, "GID_bbb", "GID_aaa"))
    assert _desired_reason(before, after).endswith(f"{INST}: the order of its GIDs changed")


def test_many_changed_gids_are_counted_not_all_listed() -> None:
    names = [f"GID_n{i:04d}" for i in range(25)]
    reason = _desired_reason(desired(instance(INST)), desired(instance(INST, *names)))
    assert reason.endswith("GID_n0009 and 15 more added")


def test_plan_without_the_desired_record_falls_back_to_digests() -> None:
    want = desired(instance(INST, "GID_aaa"))
    plan = plan_of(want, [inventory(INST)]).model_copy(
        update={"desired_instances": {}, "desired_safety": None}
    )
    (reason,) = check_fresh(plan, desired(instance(INST, "GID_bbb")), None, {LABEL: inventory()})
    assert reason.startswith(f"d.yaml changed since the plan (digest {plan.desired_digest[:12]}")


@pytest.mark.slow  # plans and renders 20,000 GIDs: 2 to 4 s
def test_desired_record_of_plain_gids_costs_about_their_names() -> None:
    names = [f"GID_generated_{i:05d}" for i in range(20_000)]
    plan = plan_of(desired(instance(INST, *names)), [inventory(INST, names)], state())
    document = plan_document(plan)
    listed = len(json.dumps(document["inventory_group_ids"], indent=2))
    declared = len(json.dumps(document["desired_instances"], indent=2))
    assert declared < 1.1 * listed
    assert "desired_instances" not in json.loads(render_json(plan))


def test_a_fresh_plan_is_checked_without_loading_deepdiff() -> None:
    """deepdiff is a slow import, needed only to explain a stale plan."""
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    script = (
        "import sys\n"
        "from tests.fixtures.plan_models import LABEL, fresh_world\n"
        "from reconciler.plan.planfile import check_fresh\n"
        "want, have, inv, plan = fresh_world()\n"
        "assert check_fresh(plan, want, have, {LABEL: inv}, workspace='default') == []\n"
        "print('deepdiff' in sys.modules)\n"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=root, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "False", done.stderr


def test_a_plan_made_only_to_be_shown_has_no_document() -> None:
    want, have, inv, recorded = fresh_world()
    shown = diff_plan(
        want,
        {(inv.region, inv.instance_id): inv},
        have,
        PlanOptions(),
        dataclasses.replace(META, recorded=False),
    )
    assert (shown.desired_digest, shown.desired_instances) == ("", {})
    assert shown.changes == recorded.changes
    assert shown.guards == recorded.guards
    assert recorded.desired_digest == want.digest()
    with pytest.raises(ValueError, match="only to be shown"):
        dumps_plan(shown)
    with pytest.raises(ValueError, match="only to be shown"):
        render_json(shown)
