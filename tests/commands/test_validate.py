"""`reconciler validate`: exit codes, one line per file / warning / error."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli import cli, main
from reconciler.config import load_desired

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
GOOD = "version: 1\ninstances:\n  - id: post-1\n    groups: [GID_one, GID_two]\n"
BAD = "version: 1\ninstances:\n  - id: post-1\n    groups: [gid_one]\n    regoin: x\n"


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_valid_files_exit_0_with_counts(tmp_path: Path) -> None:
    good = _write(tmp_path, "good.yaml", GOOD)
    result = CliRunner().invoke(cli, ["validate", str(good), str(good)])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{good}: valid (1 instance, 2 groups)\n" * 2
    assert result.stderr == ""


def test_invalid_file_lists_every_error_and_exits_1(tmp_path: Path) -> None:
    good = _write(tmp_path, "good.yaml", GOOD)
    bad = _write(tmp_path, "bad.yaml", BAD)
    result = CliRunner().invoke(cli, ["validate", str(good), str(bad)])
    assert result.exit_code == 1
    assert result.stdout == f"{good}: valid (1 instance, 2 groups)\n"
    assert result.stderr.splitlines() == [
        f"{bad}:4:14: 'gid_one' is not valid: a Group ID starts with GID_ or GID- followed by "
        "3 to 60 letters, digits, '-' or '_' (at instances[0].groups[0])",
        f"{bad}:5:5: unknown key 'regoin' (did you mean 'region'?) (at instances[0].regoin)",
        "validate: 2 errors in 1 file (of 2 checked)",
    ]


def test_warnings_go_to_stderr_and_keep_exit_0(tmp_path: Path) -> None:
    path = _write(tmp_path, "w.yaml", "version: 1\nprovider: {region: xx-new-1}\n")
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 0
    assert result.stderr.startswith(f"{path}:2:20: warning: unknown region 'xx-new-1'")


def test_main_exits_1_without_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = _write(tmp_path, "bad.yaml", BAD)
    with pytest.raises(SystemExit) as exited:
        main(["validate", str(bad)])
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "unknown key 'regoin'" in err


@pytest.mark.parametrize("text", [BAD, "", b"\xff\xfe".decode("latin-1"), "a: [\n", "- 1\n"])
def test_subprocess_exit_1_one_line_errors(tmp_path: Path, text: str) -> None:
    path = _write(tmp_path, "x.yaml", text)
    done = subprocess.run(
        [sys.executable, "-m", "reconciler", "validate", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert lines[-1].startswith("validate: ")
    assert all(line.startswith(f"{path}:") for line in lines[:-1])


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_examples_are_valid(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECONCILER_PG_DSN", "postgresql://reconciler@localhost/reconciler")
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert path.read_text(encoding="utf-8").startswith(
        "# yaml-language-server: $schema=../schemas/desired-state.schema.json\n"
    )


def test_examples_cover_the_documented_cases(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECONCILER_PG_DSN", "postgresql://reconciler@localhost/reconciler")
    quickstart = load_desired(ROOT / "examples" / "quickstart.yaml")
    assert quickstart.provider.endpoint == "embedded"
    assert quickstart.backend.kind == "local"
    bootstrap = load_desired(ROOT / "examples" / "bootstrap.yaml")
    assert len(bootstrap.instances) >= 3
    standard = {"GID_audit", "GID_device-shadow", "GID_metrics", "GID_ota"}
    for instance in bootstrap.instances:
        assert standard <= {group.group_id for group in instance.groups}
    mixed = load_desired(ROOT / "examples" / "mixed-namespaces.yaml")
    assert {instance.independent_naming for instance in mixed.instances} == {True, False}
