"""A truncated Markdown plan names the file the plan was really saved to."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.apply_kit import write_desired
from tests.fixtures.runs import run_cli


def test_plan_and_show_name_the_real_plan_file(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_desired(*(f"GID_generated_{i:05d}" for i in range(1200)))
    planned = run_cli(capsys, "plan", "desired.yaml", "--format", "markdown", "-o", "mine.json")
    assert planned.code == 0, planned.err
    assert "See the whole plan with `reconciler show mine.json`." in planned.out
    shown = run_cli(capsys, "show", "mine.json", "--format", "markdown")
    assert "See the whole plan with `reconciler show mine.json`." in shown.out
    unsaved = run_cli(capsys, "plan", "desired.yaml", "--format", "markdown")
    assert "save it with `-o FILE` and run `reconciler show FILE`" in unsaved.out
