"""Which endpoint a command talks to is never a surprise: an endpoint that is not the file's
is named with its source on stderr, and a connection error names the endpoint and its source."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fixtures.emulator import RunningEmulator
from tests.fixtures.runs import closed_port, run_cli

EMBEDDED_FILE = """\
version: 1
provider:
  endpoint: embedded
instances:
  - id: post-cn-test0001
    groups: [GID_one]
"""


@pytest.fixture
def cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RECONCILER_ENDPOINT", raising=False)
    (tmp_path / "g.yaml").write_text(EMBEDDED_FILE, encoding="utf-8")
    return tmp_path


def test_an_exported_endpoint_over_the_files_embedded_is_named_with_its_source(
    cwd: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAI5tSomeKey")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "some-secret")
    dead = f"http://127.0.0.1:{closed_port()}"
    monkeypatch.setenv("RECONCILER_ENDPOINT", dead)

    result = run_cli(capsys, "plan", "g.yaml")

    assert result.code == 1
    note = next(line for line in result.err.splitlines() if line.startswith("Using endpoint"))
    assert dead in note
    assert "$RECONCILER_ENDPOINT" in note
    assert "embedded" in note  # the file's, which it overrides
    error = next(line for line in result.err.splitlines() if line.startswith("Error:"))
    assert dead.removeprefix("http://") in error
    assert "$RECONCILER_ENDPOINT" in error


def test_the_endpoint_flag_over_the_file_is_noted_on_stderr_and_json_stays_pure(
    cwd: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    emulator: RunningEmulator,
) -> None:
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", emulator.access_key_id)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", emulator.access_key_secret)

    result = run_cli(capsys, "plan", "g.yaml", "--endpoint", emulator.url, "--format", "json")

    assert result.code == 0, result.err
    assert json.loads(result.out)["summary"]["create"] == 1
    assert f"Using endpoint {emulator.url} (--endpoint)" in result.err


def test_the_files_own_endpoint_needs_no_note(
    cwd: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_cli(capsys, "plan", "g.yaml")
    assert result.code == 0, result.err
    assert "Using endpoint" not in result.err


def test_a_connection_error_from_the_flag_names_the_flag(
    cwd: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAI5tSomeKey")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "some-secret")
    dead = f"127.0.0.1:{closed_port()}"
    result = run_cli(
        capsys, "import", "post-cn-test0001/GID_one", "-c", "g.yaml", "--endpoint", dead
    )
    assert result.code == 1
    error = next(line for line in result.err.splitlines() if line.startswith("Error:"))
    assert dead in error
    assert "--endpoint" in error
