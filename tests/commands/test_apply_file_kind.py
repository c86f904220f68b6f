"""apply FILE decides between a saved plan (JSON) and a desired file (YAML) by name and
first character, so a damaged plan is reported as JSON, with line:column."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.fixtures.apply_kit import write_desired
from tests.fixtures.runs import run_cli


@pytest.fixture
def truncated_plan(workdir: Path, capsys: pytest.CaptureFixture[str]) -> str:
    write_desired("GID_alpha")
    assert run_cli(capsys, "plan", "desired.yaml", "-o", "plan.json").code == 0
    return (workdir / "plan.json").read_text(encoding="utf-8")[:300]


@pytest.mark.parametrize("name", ["trunc.json", "trunc", "trunc.plan"])
def test_a_truncated_plan_is_a_json_error_with_line_and_column(
    name: str, truncated_plan: str, capsys: pytest.CaptureFixture[str]
) -> None:
    Path(name).write_text(truncated_plan, encoding="utf-8")
    result = run_cli(capsys, "apply", name)
    assert result.code == 1
    lines = result.err.splitlines()
    assert len(lines) == 1, result.err
    assert re.match(rf"Error: {re.escape(name)}:\d+:\d+: not a plan file \(invalid JSON", lines[0])
    assert "YAML" not in result.err


def test_a_json_named_file_that_is_no_plan_says_so(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    Path("desired.json").write_text('{"version": 1, "instances": []}', encoding="utf-8")
    result = run_cli(capsys, "apply", "desired.json")
    assert result.code == 1
    assert "desired.json: not a plan file" in result.err


def test_a_yaml_flow_style_desired_file_is_still_a_desired_file(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    Path("flow.yaml").write_text(
        "{version: 1, backend: {local: {path: state.json}}, "
        "instances: [{id: post-cn-test0001, groups: [GID_alpha]}]}\n",
        encoding="utf-8",
    )
    result = run_cli(capsys, "apply", "flow.yaml", "--auto-approve")
    assert result.code == 0, result.err
    assert "Apply complete: 1 created." in result.out
