"""`reconciler validate`: exit codes, one line per file / warning / error."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli import cli, main
from reconciler.config import load_desired
from reconciler.errors import ConfigErrors
from tests.fixtures.runs import ROOT

EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
GOOD = "version: 1\ninstances:\n  - id: post-1\n    groups: [GID_one, GID_two]\n"
BAD = "version: 1\ninstances:\n  - id: post-1\n    groups: [gid_one]\n    regoin: x\n"


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_valid_file_exits_0_with_counts(tmp_path: Path) -> None:
    good = _write(tmp_path, "good.yaml", GOOD)
    # A file named twice is one file.
    result = CliRunner().invoke(cli, ["validate", str(good), str(good)])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{good}: valid (1 instance, 2 groups)\n"
    assert result.stderr == ""


def test_invalid_file_lists_every_error_and_exits_1(tmp_path: Path) -> None:
    good = _write(tmp_path, "good.yaml", GOOD.replace("post-1", "post-2"))
    bad = _write(tmp_path, "bad.yaml", BAD)
    # Several files are one desired state: the good one is checked with the bad one.
    result = CliRunner().invoke(cli, ["validate", str(good), str(bad)])
    assert result.exit_code == 1
    assert result.stdout == ""
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


DSN_FILE = (
    "version: 1\n"
    "backend:\n"
    "  postgres:\n"
    "    dsn: ${RECONCILER_TEST_VALIDATE_DSN}\n"
    "instances:\n"
    "  - id: post-1\n"
    "    groups: [GID_one]\n"
)
UNSET_WARNING = (
    ":4:10: warning: environment variable RECONCILER_TEST_VALIDATE_DSN is not set "
    "(plan, apply and state will need it) (at backend.postgres.dsn)"
)


def test_an_unset_variable_is_a_located_warning_and_exit_0(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A CI lint job validates without the database secret.
    monkeypatch.delenv("RECONCILER_TEST_VALIDATE_DSN", raising=False)
    path = _write(tmp_path, "dsn.yaml", DSN_FILE)
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{path}: valid (1 instance, 1 group)\n"
    assert result.stderr == f"{path}{UNSET_WARNING}\n"


def test_a_set_variable_gives_no_warning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECONCILER_TEST_VALIDATE_DSN", "postgresql://h/db")
    path = _write(tmp_path, "dsn.yaml", DSN_FILE)
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert result.stderr == ""


def test_an_unset_variable_does_not_hide_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RECONCILER_TEST_VALIDATE_DSN", raising=False)
    text = DSN_FILE.replace("${RECONCILER_TEST_VALIDATE_DSN}", "${RECONCILER_TEST_VALIDATE_DSN")
    path = _write(tmp_path, "bad.yaml", text.replace("GID_one", "gid_one"))
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0] == (
        f"{path}:4:10: unclosed '${{' (write '${{NAME}}', or '$${{' for a literal '${{') "
        "(at backend.postgres.dsn)"
    )
    assert lines[1].startswith(f"{path}:7:14: 'gid_one' is not valid")
    assert lines[2] == "validate: 2 errors in 1 file (of 1 checked)"


def test_commands_that_need_the_value_still_refuse_an_unset_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RECONCILER_TEST_VALIDATE_DSN", raising=False)
    path = _write(tmp_path, "dsn.yaml", DSN_FILE)
    with pytest.raises(ConfigErrors) as caught:
        load_desired(path)  # what plan, apply and state load the file with
    assert [error.format() for error in caught.value.errors] == [
        f"{path}:4:10: environment variable RECONCILER_TEST_VALIDATE_DSN is not set "
        "(at backend.postgres.dsn)"
    ]


def test_the_bootstrap_example_validates_without_its_dsn(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RECONCILER_PG_DSN", raising=False)
    path = ROOT / "examples" / "bootstrap.yaml"
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert "warning: environment variable RECONCILER_PG_DSN is not set" in result.stderr


def test_help_says_unset_variables_only_warn() -> None:
    result = CliRunner().invoke(cli, ["validate", "--help"])
    assert result.exit_code == 0
    assert "unset variable" in result.output and "only a" in result.output


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_examples_are_valid(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECONCILER_PG_DSN", "postgresql://reconciler@localhost/reconciler")
    # access-rules.yaml's identities read their secrets from these.
    monkeypatch.setenv("SENSORS_SECRET", "sensors-secret")
    monkeypatch.setenv("DASHBOARD_SECRET", "dashboard-secret")
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
    monkeypatch.setenv("SENSORS_SECRET", "sensors-secret")
    monkeypatch.setenv("DASHBOARD_SECRET", "dashboard-secret")
    (access,) = load_desired(ROOT / "examples" / "access-rules.yaml").instances
    assert (len(access.identities), len(access.permissions), len(access.blacklist)) == (2, 3, 1)
    assert {p.identity_type for p in access.permissions} == {"user", "client"}
    assert access.ownership_of("permission") == "exclusive"
