"""export: a $schema reference that resolves from where the file is written, and comments for
what the listing cannot tell (topics, the namespace mode of an empty instance)."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.config.export import NO_SCHEMA_COMMENT
from tests.fixtures.emulator import RunningEmulator
from tests.fixtures.runs import run_cli

MODELINE = "# yaml-language-server: $schema="


def _export(capsys: pytest.CaptureFixture[str], emulator: RunningEmulator, *args: str) -> str:
    result = run_cli(capsys, "export", "--instance", emulator.instance_id, *args)
    assert result.code == 0, result.err
    return result.out


def _repo(root: Path) -> Path:
    schema = root / "schemas" / "desired-state.schema.json"
    schema.parent.mkdir(parents=True)
    schema.write_text("{}", encoding="utf-8")
    return root


def test_schema_path_is_relative_to_the_output_files_directory(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = _repo(workdir / "repo")
    (repo / "mqtt" / "prod").mkdir(parents=True)
    _export(capsys, emulator, "-o", "repo/mqtt/prod/gids.yaml")
    first = (repo / "mqtt" / "prod" / "gids.yaml").read_text(encoding="utf-8").splitlines()[0]
    assert first == MODELINE + "../../schemas/desired-state.schema.json"
    _export(capsys, emulator, "-o", "repo/top.yaml")
    first = (repo / "top.yaml").read_text(encoding="utf-8").splitlines()[0]
    assert first == MODELINE + "schemas/desired-state.schema.json"


def test_stdout_is_relative_to_the_current_directory(
    workdir: Path,
    emulator: RunningEmulator,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    repo = _repo(workdir / "repo")
    (repo / "sub").mkdir()
    monkeypatch.chdir(repo / "sub")
    out = _export(capsys, emulator)
    assert out.splitlines()[0] == MODELINE + "../schemas/desired-state.schema.json"


def test_without_a_checkout_the_schema_is_named_not_linked(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    out = _export(capsys, emulator)
    assert out.splitlines()[0] == NO_SCHEMA_COMMENT


def test_the_file_says_topics_are_not_exported_and_naming_is_unknown_when_empty(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = _export(capsys, emulator, "-o", "empty.yaml")
    assert empty == ""
    text = Path("empty.yaml").read_text(encoding="utf-8")
    assert "# Topics are exported only where the state records them" in text
    assert "# independent_naming is left out" in text
    assert "independent_naming: " not in text.replace("# independent_naming is", "")
    assert run_cli(capsys, "validate", "empty.yaml").code == 0

    emulator.store.add_group(emulator.instance_id, "GID_orders")
    text = _export(capsys, emulator)
    assert "# Topics are exported only where the state records them" in text
    assert "# independent_naming is left out" not in text
    assert "    independent_naming: true" in text
