"""The access kinds end to end through the CLI against the emulator: plan, apply, dry run,
saved plans and their stale check, the three output formats, state list/show/rm, --target,
import, export, an edition without custom auth and the service's capacity."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.emulator.store import PermissionRecord
from tests.fixtures.access import listed_access, listed_keys, with_telemetry, write_access
from tests.fixtures.emulator import TEST_INSTANCE_ID, RunningEmulator
from tests.fixtures.runs import run_cli

ALICE_SECRET = "alice-secret-7Qx"
BOB_SECRET = "bob-secret-from-a-file"
GRANT = f"{TEST_INSTANCE_ID}/permission:user:alice/telemetry/#"
RULES = """
identities:
  - {username: alice, secret: "${ALICE_SECRET}", sign_mode: origin}
  - {username: bob, client_id: dev-1, secret: {file: bob.secret}}
permissions:
  - {user: alice, topic: telemetry/#, effect: EFFECT, action: pub}
  - {client: dev-1, topic: telemetry/#, effect: allow, action: sub}
blacklist: [dev-9]
"""
SECRETS = (ALICE_SECRET, BOB_SECRET)


@pytest.fixture
def rules(workdir: Path, emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The rules declared (alice allowed), their secrets in the environment and a file."""
    with_telemetry(emulator)
    monkeypatch.setenv("ALICE_SECRET", ALICE_SECRET)
    Path("bob.secret").write_text(BOB_SECRET + "\n", encoding="utf-8")
    return write_access(RULES.replace("EFFECT", "allow"))


def state_text() -> str:
    return "".join(path.read_text() for path in Path(".reconciler").glob("state.json*"))


def apply(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    result = run_cli(capsys, "apply", "desired.yaml", "--auto-approve", *args)
    assert result.code == 0, result.err
    return result.out + result.err


def test_apply_creates_the_rules_keeps_no_secret_and_converges(
    rules: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    dry = run_cli(capsys, "apply", "desired.yaml", "--dry-run")
    assert dry.code == 0, dry.err
    assert (
        f"AddCustomAuthIdentity InstanceId={TEST_INSTANCE_ID} IdentityType=USER Username=alice "
        "Secret=(write-only) SignMode=ORIGIN" in dry.out
    )
    assert not any(secret in dry.out + dry.err for secret in SECRETS)
    assert listed_keys(emulator) == set()

    shown = apply(capsys)
    assert "Apply complete: 5 created." in shown
    assert listed_keys(emulator) == {
        "identity:user:alice",
        "identity:client:bob:dev-1",
        "permission:user:alice/telemetry/#",
        "permission:client:dev-1/telemetry/#",
        "blacklist:dev-9",
    }
    # The emulator checks the secret as the listener will: the one sent is the file's.
    assert emulator.store.login_identity(TEST_INSTANCE_ID, "bob", "dev-1") is not None
    assert not any(secret in shown + state_text() for secret in SECRETS)
    assert "sha256:" in state_text()
    again = run_cli(capsys, "plan", "desired.yaml", "--detailed-exitcode")
    assert again.code == 0, again.out + again.err
    assert "No changes." in again.out


def test_a_flipped_grant_is_one_update_flagged_in_every_format_and_a_saved_plan_applies_it(
    rules: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    apply(capsys)
    write_access(RULES.replace("EFFECT", "deny"))
    cut = "cuts off user alice: this changed permission takes away publish on telemetry/#"
    text = run_cli(capsys, "plan", "desired.yaml", "-o", "deny.plan")
    assert text.code == 0, text.err
    assert "~ permission:user:alice/telemetry/#  update: effect changes from allow to deny" in (
        text.out
    )
    assert cut in text.out
    assert "Plan: 0 to create, 0 to adopt, 0 to delete, 0 to forget, 1 to update" in text.out
    as_json = json.loads(run_cli(capsys, "plan", "desired.yaml", "--format", "json").out)
    (change,) = as_json["changes"]
    assert (change["action"], change["kind"]) == ("update", "permission")
    assert [guard["kind"] for guard in change["guards"]] == ["cuts_off"]
    assert cut in run_cli(capsys, "plan", "desired.yaml", "--format", "markdown").out
    assert not any(secret in Path("deny.plan").read_text() for secret in SECRETS)

    result = run_cli(capsys, "apply", "deny.plan")
    assert result.code == 0, result.err
    assert "Apply complete: 1 updated." in result.out
    (alice,) = [p for p in listed_access(emulator).permissions if p.identity == "alice"]
    assert (alice.effect, alice.permit_action) == ("deny", "pub")


def test_a_saved_plan_is_stale_once_the_access_listing_changed(
    rules: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    apply(capsys)
    write_access(RULES.replace("EFFECT", "deny"))
    assert run_cli(capsys, "plan", "desired.yaml", "-o", "deny.plan").code == 0
    emulator.store.add_permission(
        PermissionRecord(TEST_INSTANCE_ID, "USER", "mallory", "telemetry/#", "ALLOW", "PUB")
    )
    result = run_cli(capsys, "apply", "deny.plan")
    assert result.code == 1
    assert "stale" in result.err and TEST_INSTANCE_ID in result.err
    assert listed_access(emulator).permissions[-1].effect == "allow"


def test_state_list_show_rm_target_and_import_take_keys_with_slashes(
    rules: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    apply(capsys)
    listed = run_cli(capsys, "state", "list", "-c", "desired.yaml")
    assert GRANT in listed.out.splitlines()
    shown = run_cli(capsys, "state", "show", "-c", "desired.yaml", GRANT)
    assert shown.code == 0, shown.err
    assert "effect" in shown.out and "allow" in shown.out

    removed = run_cli(capsys, "state", "rm", "-c", "desired.yaml", GRANT)
    assert removed.code == 0, removed.err
    assert GRANT not in run_cli(capsys, "state", "list", "-c", "desired.yaml").out
    imported = run_cli(capsys, "import", "-c", "desired.yaml", GRANT)
    assert imported.code == 0, imported.err
    assert GRANT in run_cli(capsys, "state", "list", "-c", "desired.yaml").out
    assert "No changes." in run_cli(capsys, "plan", "desired.yaml").out

    # --target narrows the plan to one permission, named by its key.
    write_access(RULES.replace("EFFECT", "deny").replace("action: sub", "action: pub_sub"))
    targeted = run_cli(capsys, "plan", "desired.yaml", "--target", GRANT)
    assert "permission:user:alice/telemetry/#" in targeted.out
    assert "dev-1/telemetry" not in targeted.out
    wrong = run_cli(capsys, "plan", "desired.yaml", "--target", f"{TEST_INSTANCE_ID}/GID_a/b")
    assert wrong.code == 1 and "is not INSTANCE_ID or INSTANCE_ID/KEY" in wrong.err


def test_an_imported_identity_gets_its_declared_secret_by_the_next_apply(
    rules: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    apply(capsys)
    key = f"{TEST_INSTANCE_ID}/identity:user:alice"
    assert run_cli(capsys, "state", "rm", "-c", "desired.yaml", key).code == 0
    imported = run_cli(capsys, "import", "-c", "desired.yaml", key)
    assert imported.code == 0, imported.err
    assert "cannot be read back" in imported.err
    plan = run_cli(capsys, "plan", "desired.yaml")
    assert "~ identity:user:alice" in plan.out and "secret changed" in plan.out


def test_export_writes_placeholders_names_them_and_plans_back_to_no_changes(
    rules: Path,
    emulator: RunningEmulator,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    apply(capsys)
    result = run_cli(
        capsys, "export", "--instance", TEST_INSTANCE_ID, "--api", "onsmqtt", "-o", "exported.yaml"
    )
    assert result.code == 0, result.err
    exported = Path("exported.yaml").read_text()
    assert 'secret: "${MQTT_SECRET_ALICE}"' in exported
    assert 'secret: "${MQTT_SECRET_BOB_DEV_1}"' in exported
    assert '{user: "alice", topic: "telemetry/#", effect: allow, action: pub}' in exported
    assert "set MQTT_SECRET_BOB_DEV_1, MQTT_SECRET_ALICE before plan" in result.err
    assert not any(secret in exported + result.out + result.err for secret in SECRETS)
    monkeypatch.setenv("MQTT_SECRET_ALICE", ALICE_SECRET)
    monkeypatch.setenv("MQTT_SECRET_BOB_DEV_1", BOB_SECRET)
    # Planned on a state of its own: every entry is adopted, each identity by one update
    # call setting the secret (it cannot be read back); nothing is created or deleted.
    plan = run_cli(capsys, "plan", "exported.yaml", "--state", "fresh.json")
    assert plan.code == 0, plan.err
    assert "Plan: 0 to create, 3 to adopt, 0 to delete, 0 to forget, 2 to update" in plan.out
    assert "~ identity:user:alice" in plan.out and "secret changed" in plan.out


def test_an_edition_without_custom_auth_is_one_plan_line(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator.store.add_instance("post-cn-basic0001", edition="basic")
    write_access("blacklist: [dev-9]\npermissions: []", instance_id="post-cn-basic0001")
    result = run_cli(capsys, "plan", "desired.yaml", "--detailed-exitcode")
    assert result.code == 0, result.err
    (line,) = [line for line in result.out.splitlines() if "not planned" in line]
    assert "blacklist entries of post-cn-basic0001 not planned: custom authentication is not " in (
        line
    )
    assert "ApiNotSupport" in line


def test_over_capacity_is_a_failed_action_in_the_services_words(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator.store.add_instance("post-cn-small0001", topics=["telemetry"], custom_auth_capacity=1)
    write_access("blacklist: [dev-8, dev-9]", instance_id="post-cn-small0001")
    result = run_cli(capsys, "apply", "desired.yaml", "--auto-approve")
    assert result.code == 1
    shown = result.out + result.err
    assert "Customauth.over.capacity" in shown and "Traceback" not in shown
    assert "1 created" in shown and "1 failed" in shown


@pytest.mark.parametrize(
    ("key", "shown"),
    [
        ("identity:client:bob:dev-1", "sign_mode"),
        ("permission:client:dev-1/telemetry/#", "permit_action"),
        ("blacklist:dev-9", "blacklist   = blacklist:dev-9"),
    ],
    ids=["identity", "permission", "blacklist"],
)
def test_each_kind_is_shown_removed_imported_and_targeted_by_its_key(
    rules: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str], key: str, shown: str
) -> None:
    apply(capsys)
    full = f"{TEST_INSTANCE_ID}/{key}"
    show = run_cli(capsys, "state", "show", "-c", "desired.yaml", full)
    assert show.code == 0 and shown in show.out, show.out + show.err
    assert run_cli(capsys, "state", "rm", "-c", "desired.yaml", full).code == 0
    assert full not in run_cli(capsys, "state", "list", "-c", "desired.yaml").out
    assert run_cli(capsys, "import", "-c", "desired.yaml", full).code == 0
    assert full in run_cli(capsys, "state", "list", "-c", "desired.yaml").out
    targeted = run_cli(capsys, "plan", "desired.yaml", "--target", full)
    assert targeted.code == 0, targeted.err
    # Only an identity has a value that cannot be read back: its secret is set again.
    planned = [line.strip() for line in targeted.out.splitlines() if line.startswith("  ")]
    if key.startswith("identity:"):
        assert planned and planned[0].startswith(f"~ {key}  update: secret changed")
    else:
        assert "No changes." in targeted.out
    assert not any(secret in targeted.out for secret in SECRETS)


def test_a_secret_rotated_after_a_saved_plan_refuses_the_plan(
    rules: Path,
    emulator: RunningEmulator,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    apply(capsys)
    write_access(RULES.replace("EFFECT", "deny"))
    assert run_cli(capsys, "plan", "desired.yaml", "-o", "deny.plan").code == 0
    monkeypatch.setenv("ALICE_SECRET", "rotated-after-the-plan")
    result = run_cli(capsys, "apply", "deny.plan")
    assert result.code == 1, result.out
    assert "identity:user:alice" in result.err
    assert "rotated-after-the-plan" not in result.out + result.err
    (alice,) = [p for p in listed_access(emulator).permissions if p.identity == "alice"]
    assert alice.effect == "allow"
