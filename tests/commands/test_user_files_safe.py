"""A command never overwrites a desired-state file by mistake (``plan -o``, ``export -o``), and
every command that reads the desired state defaults to ``reconciler.yaml`` the same way."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.apply_kit import write_desired
from tests.fixtures.emulator import RunningEmulator
from tests.fixtures.runs import run_cli

DESIRED = "desired.yaml"


@pytest.mark.parametrize(
    "out",
    [DESIRED, f"./{DESIRED}", "team/b.yaml", "team/../desired.yaml"],
    ids=["the input", "the input as ./", "a file of an input directory", "the input by .."],
)
def test_plan_refuses_to_save_over_a_desired_input(
    out: str, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_desired("GID_alpha")
    team = Path("team")
    team.mkdir()
    (team / "b.yaml").write_text("version: 1\ninstances: []\n", encoding="utf-8")
    before = {path: path.read_bytes() for path in (Path(DESIRED), team / "b.yaml")}
    result = run_cli(capsys, "plan", DESIRED, "team", "-o", out)
    assert result.code == 1
    assert result.out == ""
    line = result.err.strip()
    assert "\n" not in line
    assert "is a desired-state input; save the plan to another file" in line
    assert {path: path.read_bytes() for path in before} == before


def test_plan_refuses_to_overwrite_a_file_that_is_not_a_saved_plan(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_desired("GID_alpha")
    notes = Path("notes.json")
    notes.write_text('{"mine": true}\n', encoding="utf-8")
    result = run_cli(capsys, "plan", DESIRED, "-o", "notes.json")
    assert result.code == 1
    assert "notes.json exists and is not a saved plan; refusing to overwrite it" in result.err
    assert notes.read_text(encoding="utf-8") == '{"mine": true}\n'


def test_plan_overwrites_its_own_saved_plan(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_desired("GID_alpha")
    assert run_cli(capsys, "plan", DESIRED, "-o", "p.json").code == 0
    write_desired("GID_alpha", "GID_beta")
    again = run_cli(capsys, "plan", DESIRED, "-o", "p.json")
    assert again.code == 0, again.err
    assert "GID_beta" in Path("p.json").read_text(encoding="utf-8")


def test_export_refuses_to_overwrite_an_existing_file(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    write_desired("GID_alpha")
    before = Path(DESIRED).read_bytes()
    result = run_cli(
        capsys, "export", "--instance", emulator.instance_id, "--region", emulator.region,
        "-o", DESIRED,
    )  # fmt: skip
    assert result.code == 1
    assert "desired.yaml exists; export writes a new file" in result.err
    assert Path(DESIRED).read_bytes() == before


# --- one default path ---------------------------------------------------------------------


@pytest.mark.parametrize("command", ["plan", "validate", "fmt --check", "apply --dry-run"])
def test_commands_reading_the_desired_state_default_to_reconciler_yaml(
    command: str, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_desired("GID_alpha")
    Path(DESIRED).rename("reconciler.yaml")
    result = run_cli(capsys, *command.split())
    assert result.code == 0, result.err


@pytest.mark.parametrize("command", ["plan", "validate", "fmt", "apply", "state list"])
def test_without_reconciler_yaml_every_command_says_the_same(
    command: str, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_cli(capsys, *command.split())
    assert result.code == 1
    assert result.out == ""
    how = "-c/--config PATH" if command.startswith("state") else f"reconciler {command} PATH..."
    assert result.err == (
        f"Error: reconciler.yaml not found in {workdir}: name the desired state ({how})\n"
    )
