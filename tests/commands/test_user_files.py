"""Files the user names (-o, FILE arguments): a problem is one line naming the path, found
before any work when it can be."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.apply_kit import write_desired
from tests.fixtures.emulator import RunningEmulator
from tests.fixtures.runs import run_cli

MISSING_DIR = "no-such-dir"


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "unexpected" not in err and "Traceback" not in err
    return lines[0]


def test_export_to_a_missing_directory_names_the_path(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    target = workdir / MISSING_DIR / "x.yaml"
    result = run_cli(
        capsys, "export", "--instance", emulator.instance_id, "--endpoint", emulator.url,
        "-o", str(target),
    )  # fmt: skip
    assert result.code == 1
    line = _one_error_line(result.err)
    assert line.startswith("Error: ") and str(target) in line


def test_plan_out_to_a_missing_directory_fails_before_planning(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_desired("GID_alpha")
    target = Path(MISSING_DIR) / "plan.json"
    result = run_cli(capsys, "plan", "desired.yaml", "-o", str(target))
    assert result.code == 1
    line = _one_error_line(result.err)  # no "Refreshing ..." first
    assert str(target) in line and "does not exist" in line
    assert result.out == ""


def test_fmt_reports_a_file_it_cannot_write_and_goes_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The temporary file beside it gets a name longer than the file system allows
    # (NAME_MAX 255), a real write failure even for root.
    unwritable = tmp_path / ("g" * 245 + ".yaml")
    fine = tmp_path / "fine.yaml"
    messy = (
        "version: 1\ninstances:\n  - id: post-cn-test0001\n    groups: [GID_b2b2b2, GID_a1a1a1]\n"
    )
    # Files given together are one desired state: each declares its own instance.
    unwritable.write_text(messy, encoding="utf-8")
    fine.write_text(messy.replace("0001", "0002"), encoding="utf-8")
    result = run_cli(capsys, "fmt", str(unwritable), str(fine))
    assert result.code == 1
    assert f"{unwritable}: cannot write the file: " in result.err
    assert "unexpected" not in result.err
    assert unwritable.read_text(encoding="utf-8") == messy
    assert fine.read_text(encoding="utf-8") != messy.replace("0001", "0002")
    assert "1 file not written" in result.err


@pytest.mark.parametrize("command", ["show", "apply"])
def test_a_missing_plan_file_is_one_line(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    result = run_cli(capsys, command, f"{MISSING_DIR}/plan.json")
    assert result.code == 1
    assert f"{MISSING_DIR}/plan.json" in _one_error_line(result.err)
