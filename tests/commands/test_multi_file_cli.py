"""A desired state split across files, end to end: the real CLI, loader, local state, emulator."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.fixtures.apply_kit import cloud
from tests.fixtures.emulator import TEST_INSTANCE_ID as INST
from tests.fixtures.emulator import RunningEmulator
from tests.fixtures.runs import run_cli

BASE = f"""\
version: 1
backend:
  local:
    path: state.json
instances:
  - id: {INST}
    groups:
      - GID_platform
"""
PAYMENTS = f"""\
# owned by the payments team
instances:
  - id: {INST}
    groups:
      - GID_payments
      - id: GID_refunds
"""


@pytest.fixture
def estate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, emulator: RunningEmulator) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", emulator.access_key_id)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", emulator.access_key_secret)
    monkeypatch.setenv("RECONCILER_ENDPOINT", emulator.url)
    monkeypatch.setenv("NO_COLOR", "1")
    (tmp_path / "gids" / "teams").mkdir(parents=True)
    Path("gids/base.yaml").write_text(BASE, encoding="utf-8")
    Path("gids/teams/payments.yaml").write_text(PAYMENTS, encoding="utf-8")
    return tmp_path


def _lines(out: str) -> list[str]:
    """The change lines of a text plan, whitespace collapsed."""
    return [
        " ".join(line.split())
        for line in out.splitlines()
        if line.startswith("  ") and line[2] in "+-=~*"
    ]


def test_plan_of_a_directory_says_where_each_change_is_declared(
    estate: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = run_cli(capsys, "plan", "gids")
    assert text.code == 0, text.err
    assert [line for line in _lines(text.out) if line.startswith("+")] == [
        "+ GID_payments create: declared in the file, missing from the cloud "
        "(gids/teams/payments.yaml:5)",
        "+ GID_platform create: declared in the file, missing from the cloud (gids/base.yaml:8)",
        "+ GID_refunds create: declared in the file, missing from the cloud "
        "(gids/teams/payments.yaml:6)",
    ]

    document = json.loads(run_cli(capsys, "plan", "gids", "--format", "json").out)
    sources = {c["group_id"]: c["source"] for c in document["changes"]}
    assert sources == {
        "GID_payments": {"file": "gids/teams/payments.yaml", "line": 5},
        "GID_platform": {"file": "gids/base.yaml", "line": 8},
        "GID_refunds": {"file": "gids/teams/payments.yaml", "line": 6},
    }
    assert document["desired_inputs"] == ["gids"]
    assert sorted(document["desired_files"]) == ["gids/base.yaml", "gids/teams/payments.yaml"]

    markdown = run_cli(capsys, "plan", "gids", "--format", "markdown").out
    assert f"<b>{INST} (cn-hangzhou)</b>: 3 to create" in markdown
    assert "# declared in the file, missing from the cloud (gids/teams/payments.yaml:6)" in markdown


def test_several_files_are_one_desired_state(
    estate: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_cli(
        capsys, "apply", "gids/base.yaml", "gids/teams/payments.yaml", "--auto-approve"
    )
    assert result.code == 0, result.err
    assert cloud(emulator) == {"GID_platform", "GID_payments", "GID_refunds"}


def test_a_gid_removed_from_the_files_is_deleted_naming_the_state(
    estate: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(capsys, "apply", "gids", "--auto-approve").code == 0
    Path("gids/teams/payments.yaml").write_text(
        PAYMENTS.replace("      - id: GID_refunds\n", ""), encoding="utf-8"
    )
    text = run_cli(capsys, "plan", "gids")
    assert _lines(text.out) == [
        "- GID_refunds delete: managed by reconciler and no longer declared in the file; "
        "0 client(s) online (state: state.json)"
    ]
    document = json.loads(run_cli(capsys, "plan", "gids", "--format", "json").out)
    (change,) = document["changes"]
    assert (change["source"], change["in_state"]) == (None, True)
    assert document["state_source"] == "state.json"


def test_a_conflict_between_files_stops_plan_naming_both_places(
    estate: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    Path("gids/teams/ops.yaml").write_text(
        f"instances:\n  - id: {INST}\n    groups: [GID_refunds]\n", encoding="utf-8"
    )
    result = run_cli(capsys, "plan", "gids")
    assert result.code == 1
    message = f"GID 'GID_refunds' is declared for instance '{INST}' in two files: also at"
    assert f"gids/teams/ops.yaml:3:14: {message} gids/teams/payments.yaml:6:9" in result.err
    assert f"gids/teams/payments.yaml:6:9: {message} gids/teams/ops.yaml:3:14" in result.err
    assert "Traceback" not in result.err


# --- saved plans --------------------------------------------------------------------------------


def _save(capsys: pytest.CaptureFixture[str]) -> None:
    saved = run_cli(capsys, "plan", "gids", "-o", "plan.json")
    assert saved.code == 0, saved.err


def test_a_saved_plan_of_a_directory_applies_when_nothing_moved(
    estate: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    _save(capsys)
    result = run_cli(capsys, "apply", "plan.json")
    assert result.code == 0, result.err
    assert cloud(emulator) == {"GID_platform", "GID_payments", "GID_refunds"}


def test_a_saved_plan_is_stale_when_a_file_changed(
    estate: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    _save(capsys)
    # Even a comment: the files reviewed are not the files applied.
    Path("gids/teams/payments.yaml").write_text(
        PAYMENTS.replace("payments team", "payments and refunds team"), encoding="utf-8"
    )
    result = run_cli(capsys, "apply", "plan.json")
    assert result.code == 1
    assert "gids/teams/payments.yaml changed since the plan" in result.err
    assert "gids/base.yaml" not in result.err
    assert cloud(emulator) == set()


def test_a_saved_plan_is_stale_when_a_file_appeared(
    estate: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    _save(capsys)
    Path("gids/teams/ops.yaml").write_text(
        f"instances:\n  - id: {INST}\n    groups: [GID_ops]\n", encoding="utf-8"
    )
    result = run_cli(capsys, "apply", "plan.json")
    assert result.code == 1
    assert "gids/teams/ops.yaml appeared since the plan" in result.err
    # What the new file changes in the desired state is said too.
    assert "GID_ops added" in result.err
    assert cloud(emulator) == set()


def test_a_saved_plan_is_stale_when_a_file_disappeared(
    estate: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    _save(capsys)
    Path("gids/teams/payments.yaml").unlink()
    result = run_cli(capsys, "apply", "plan.json")
    assert result.code == 1
    assert "gids/teams/payments.yaml disappeared since the plan" in result.err
    assert cloud(emulator) == set()


def test_a_saved_plan_of_one_file_records_it_and_still_applies(
    estate: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(capsys, "plan", "gids/base.yaml", "-o", "plan.json").code == 0
    document = json.loads(Path("plan.json").read_text(encoding="utf-8"))
    assert document["desired_source"] == "gids/base.yaml"
    assert document["desired_inputs"] == ["gids/base.yaml"]
    assert list(document["desired_files"]) == ["gids/base.yaml"]
    result = run_cli(capsys, "apply", "plan.json")
    assert result.code == 0, result.err
    assert cloud(emulator) == {"GID_platform"}


def test_a_plan_saved_before_files_were_recorded_is_refused_with_plan_again(
    estate: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    # Such a plan (format 1) records neither a digest nor all the options it was made with:
    # it cannot be checked against its inputs, so it is refused with the way out.
    assert run_cli(capsys, "plan", "gids/base.yaml", "-o", "plan.json").code == 0
    document = json.loads(Path("plan.json").read_text(encoding="utf-8"))
    for key in ("desired_inputs", "desired_files", "state_source", "digest"):
        del document[key]
    document["format_version"] = 1
    Path("plan.json").write_text(json.dumps(document), encoding="utf-8")
    result = run_cli(capsys, "apply", "plan.json")
    assert result.code == 1
    assert "plan.json: plan format version 1 is older" in result.err
    assert "plan again" in result.err
    assert cloud(emulator) == set()


def test_a_plan_without_a_digest_is_refused_as_undigested(
    estate: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(capsys, "plan", "gids/base.yaml", "-o", "plan.json").code == 0
    document = json.loads(Path("plan.json").read_text(encoding="utf-8"))
    del document["digest"]
    Path("plan.json").write_text(json.dumps(document), encoding="utf-8")
    result = run_cli(capsys, "apply", "plan.json")
    assert result.code == 1
    assert "plan.json has no digest" in result.err and "plan again" in result.err
    assert cloud(emulator) == set()


def test_a_saved_plan_finds_its_files_beside_it(
    estate: Path,
    emulator: RunningEmulator,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _save(capsys)
    elsewhere = estate / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = run_cli(capsys, "apply", str(estate / "plan.json"), "--dry-run")
    assert result.code == 0, result.err
    assert "OnsMqttGroupIdCreate" in result.out
    Path(estate / "gids" / "teams" / "payments.yaml").unlink()
    stale = run_cli(capsys, "apply", str(estate / "plan.json"))
    assert stale.code == 1
    assert "gids/teams/payments.yaml disappeared since the plan" in stale.err


def test_a_saved_plan_among_desired_files_is_a_usage_error(
    estate: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _save(capsys)
    result = run_cli(capsys, "apply", "plan.json", "gids")
    assert result.code == 1
    assert "plan.json looks like a saved plan: apply a saved plan alone" in result.err


# --- validate and fmt ---------------------------------------------------------------------------


def test_validate_a_directory(estate: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli(capsys, "validate", "gids")
    assert result.code == 0, result.err
    assert result.out == "gids (2 files): valid (1 instance, 3 groups)\n"


def test_validate_a_directory_named_twice_labels_it_once(
    estate: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_cli(capsys, "validate", "gids", "./gids", "gids/")
    assert result.code == 0, result.err
    assert result.out == "gids (2 files): valid (1 instance, 3 groups)\n"


def test_fmt_a_directory_formats_every_file(
    estate: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    Path("gids/teams/payments.yaml").write_text(
        PAYMENTS.replace("      - id: GID_refunds\n", "      - {id: GID_refunds}\n").replace(
            "      - GID_payments\n", ""
        )
        + "      - GID_payments\n",
        encoding="utf-8",
    )
    check = run_cli(capsys, "fmt", "--check", "gids")
    assert check.code == 1
    assert "would reformat gids/teams/payments.yaml" in check.err
    assert "gids/base.yaml" not in check.err
    result = run_cli(capsys, "fmt", "gids")
    assert result.code == 0, result.err
    assert Path("gids/teams/payments.yaml").read_text(encoding="utf-8") == PAYMENTS.replace(
        "      - id: GID_refunds\n", "      - GID_refunds\n"
    )
    assert "1 file reformatted, 1 file left unchanged" in result.err


def test_state_commands_take_the_directory_as_their_config(
    estate: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(capsys, "apply", "gids", "--auto-approve").code == 0
    listed = run_cli(capsys, "state", "list", "-c", "gids")
    assert listed.code == 0, listed.err
    for gid in ("GID_platform", "GID_payments", "GID_refunds"):
        assert f"{INST}/{gid}" in listed.out


def test_the_teams_example_is_one_valid_desired_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    example = Path(__file__).resolve().parents[2] / "examples" / "teams"
    shutil.copytree(example, tmp_path / "teams")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RECONCILER_ENDPOINT", raising=False)
    assert (
        run_cli(capsys, "validate", "teams").out
        == "teams (3 files): valid (1 instance, 6 groups)\n"
    )
    assert run_cli(capsys, "fmt", "--check", "teams").code == 0
    plan = run_cli(capsys, "plan", "teams", "--format", "json")  # the embedded emulator
    assert plan.code == 0, plan.err
    sources = {c["group_id"]: c["source"]["file"] for c in json.loads(plan.out)["changes"]}
    assert sources["GID_refunds"] == "teams/teams/payments.yaml"
    assert sources["GID_ota"] == "teams/platform.yaml"
