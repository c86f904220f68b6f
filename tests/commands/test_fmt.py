"""`reconciler fmt`: rewrite, --check and --diff exit codes, refusal of invalid files."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from reconciler.cli import cli

UGLY = (
    "# keep me\n"
    "instances:\n"
    "- groups: [GID_two, {id: GID_one}]  # two groups\n"
    "  id: post-1\n"
    "version: 1\n"
)
PRETTY = (
    "# keep me\n"
    "version: 1\n"
    "instances:\n"
    "  - id: post-1\n"
    "    groups: [GID_one, GID_two]      # two groups\n"  # the comment keeps its column
)


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_fmt_rewrites_in_place_and_then_is_a_no_op(tmp_path: Path) -> None:
    path = _write(tmp_path, "d.yaml", UGLY)
    result = CliRunner().invoke(cli, ["fmt", str(path)])
    assert result.exit_code == 0, result.output
    assert path.read_text(encoding="utf-8") == PRETTY
    assert f"reformatted {path}" in result.stderr
    again = CliRunner().invoke(cli, ["fmt", str(path)])
    assert again.exit_code == 0
    assert "0 files reformatted, 1 file left unchanged" in again.stderr
    assert path.read_text(encoding="utf-8") == PRETTY


def test_check_exits_1_when_a_file_would_change_and_writes_nothing(tmp_path: Path) -> None:
    ugly = _write(tmp_path, "ugly.yaml", UGLY)
    # Files given together are one desired state: this one declares another instance.
    pretty = _write(tmp_path, "pretty.yaml", PRETTY.replace("post-1", "post-2"))
    result = CliRunner().invoke(cli, ["fmt", "--check", str(ugly), str(pretty)])
    assert result.exit_code == 1
    assert f"would reformat {ugly}" in result.stderr
    assert f"would reformat {pretty}" not in result.stderr
    assert ugly.read_text(encoding="utf-8") == UGLY


def test_check_exits_0_when_everything_is_formatted(tmp_path: Path) -> None:
    pretty = _write(tmp_path, "pretty.yaml", PRETTY)
    result = CliRunner().invoke(cli, ["fmt", "--check", str(pretty)])
    assert result.exit_code == 0, result.output


def test_diff_prints_a_unified_diff_and_writes_nothing(tmp_path: Path) -> None:
    path = _write(tmp_path, "d.yaml", UGLY)
    result = CliRunner().invoke(cli, ["fmt", "--diff", str(path)])
    assert result.exit_code == 0
    assert result.stdout.startswith(f"--- {path} (original)\n+++ {path} (formatted)\n")
    assert "+    groups: [GID_one, GID_two]      # two groups\n" in result.stdout
    assert path.read_text(encoding="utf-8") == UGLY
    checked = CliRunner().invoke(cli, ["fmt", "--check", "--diff", str(path)])
    assert checked.exit_code == 1 and checked.stdout == result.stdout


def test_invalid_file_is_not_formatted_and_its_errors_are_shown(tmp_path: Path) -> None:
    text = "instances:\n- id: post-1\n  groups: [GID_b]\nversion: 1\n"
    path = _write(tmp_path, "bad.yaml", text)
    result = CliRunner().invoke(cli, ["fmt", str(path)])
    assert result.exit_code == 1
    assert f"{path}:3:12: 'GID_b' is not valid" in result.stderr
    assert "1 file invalid (not formatted)" in result.stderr
    assert path.read_text(encoding="utf-8") == text


def test_fmt_needs_no_secrets(tmp_path: Path) -> None:
    text = "version: 1\nbackend:\n  postgres:\n    dsn: ${RECONCILER_TEST_NEVER_SET}\n"
    path = _write(tmp_path, "pg.yaml", text)
    result = CliRunner().invoke(cli, ["fmt", "--check", str(path)])
    assert result.exit_code == 0, result.output
