"""`reconciler show PLANFILE`: renders a saved plan in every format, with no lock or cloud."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.plan.planfile import save_plan
from reconciler.render.markdown import render_markdown
from reconciler.render.text import render_text
from tests.fixtures.runs import run_cli as run
from tests.fixtures.sample_plan import sample_plan


@pytest.fixture
def saved(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NO_COLOR", raising=False)
    return save_plan(sample_plan(), tmp_path / "plan.json")


def test_show_renders_text_like_plan(saved: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = run(capsys, "show", str(saved))
    assert result.code == 0
    assert result.out == render_text(sample_plan())


@pytest.mark.parametrize("output_format", ["json", "markdown"])
def test_show_other_formats(
    saved: Path, capsys: pytest.CaptureFixture[str], output_format: str
) -> None:
    result = run(capsys, "show", str(saved), "--format", output_format)
    assert result.code == 0
    if output_format == "json":
        document = json.loads(result.out)
        assert document["summary"]["create"] == 4
        assert "inventory_group_ids" not in document
    else:
        assert result.out == render_markdown(sample_plan())


def test_show_needs_no_lock_and_no_desired_file(
    saved: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # No desired file, no state, no endpoint: show only reads the plan.
    assert not Path(".reconciler").exists()
    assert run(capsys, "show", str(saved), "--no-color").code == 0
    assert not Path(".reconciler").exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read plan file"),
        ("not json", "not a plan file"),
        ('{"format_version": 7}', "version 7"),
    ],
)
def test_show_bad_file_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, message: str
) -> None:
    path = tmp_path / "bad.json"
    if content is not None:
        path.write_text(content)
    result = run(capsys, "show", str(path))
    assert result.code == 1
    assert message in result.err
    assert len(result.err.strip().splitlines()) == 1
