"""One spelling for the same thing across commands, and a hint when the default config is
missing."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli import cli
from tests.fixtures.apply_kit import write_desired
from tests.fixtures.emulator import RunningEmulator
from tests.fixtures.runs import run_cli


@pytest.mark.parametrize("spelling", ["-o", "--out"])
def test_export_takes_out_like_plan(
    spelling: str, workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_cli(
        capsys, "export", "--instance", emulator.instance_id, spelling, "exported.yaml"
    )
    assert result.code == 0, result.err
    exported = (workdir / "exported.yaml").read_text(encoding="utf-8")
    assert exported.count("# Exported from instance") == 1


def test_export_help_lists_out() -> None:
    text = CliRunner().invoke(cli, ["export", "--help"]).output
    assert "-o, --out FILE" in text
    assert "--output" not in text
    plan_help = CliRunner().invoke(cli, ["plan", "--help"]).output
    assert "-o, --out FILE" in plan_help


def test_export_has_no_output_alias(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    # --output was a hidden spelling kept for a version that was never released.
    result = run_cli(
        capsys, "export", "--instance", emulator.instance_id, "--output", "exported.yaml"
    )
    assert result.code == 1
    assert "No such option '--output'" in result.err
    assert not (workdir / "exported.yaml").exists()


@pytest.mark.parametrize(
    "args", [["state", "list"], ["import", "post-cn-test0001/GID_abcd"], ["force-unlock", "x"]]
)
def test_a_missing_default_config_says_how_to_name_one(
    args: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    result = run_cli(capsys, *args)
    assert result.code == 1
    assert result.err == (
        f"Error: reconciler.yaml not found in {tmp_path}: name the desired state "
        "(-c/--config PATH)\n"
    )


def test_a_missing_named_config_has_no_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    result = run_cli(capsys, "state", "list", "-c", "other.yaml")
    assert result.code == 1
    assert "other.yaml: cannot read the file" in result.err
    assert "pass -c" not in result.err


def test_a_bad_lock_value_says_true_or_false(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_desired("GID_alpha")
    result = run_cli(capsys, "plan", "desired.yaml", "--lock", "maybe")
    assert result.code == 1
    assert "Invalid value for '--lock': 'maybe': expected true or false" in result.err
    assert "Recognized" not in result.err


@pytest.mark.parametrize("value", ["FALSE", "no", "0", "off"])
def test_the_lock_takes_every_spelling_of_false(
    value: str, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_desired("GID_alpha")
    assert run_cli(capsys, "plan", "desired.yaml", f"--lock={value}").code == 0


def test_apply_of_a_missing_topic_says_fix_the_cause_not_just_run_again(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_desired("{id: GID_topical, topic: no-such-topic}")
    result = run_cli(capsys, "apply", "desired.yaml", "--auto-approve")
    assert result.code == 1
    assert "BIZ_TOPIC_NOT_FOUND" in result.out
    assert "Fix the cause above and run the apply again" in result.out
    assert "Run the apply again to finish" not in result.out
