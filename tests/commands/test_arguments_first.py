"""Every argument is checked before the first line of output, the lock or any listing."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.apply_kit import write_desired
from tests.fixtures.plan_cli import write_state
from tests.fixtures.runs import run_cli


def _only_error(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("Error: ")
    return lines[0]


@pytest.mark.parametrize("command", [["plan"], ["apply", "--auto-approve"]])
def test_a_bad_endpoint_is_reported_before_anything_else(
    command: list[str], workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_desired("GID_alpha")
    result = run_cli(capsys, command[0], "desired.yaml", *command[1:], "--endpoint", "ftp://x")
    assert result.code == 1
    assert "invalid endpoint 'ftp://x'" in _only_error(result.err)
    assert result.out == ""


@pytest.mark.parametrize("command", [["plan"], ["apply", "--auto-approve"]])
def test_an_unknown_target_instance_is_reported_before_the_emulator_starts(
    command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RECONCILER_ENDPOINT", raising=False)
    write_desired("GID_alpha", extra="provider: {endpoint: embedded}\n")
    result = run_cli(capsys, command[0], "desired.yaml", *command[1:], "--target", "nope")
    assert result.code == 1
    line = _only_error(result.err)  # no "Using the embedded emulator", no "Refreshing"
    assert "instance nope is neither declared in the file nor in the state" in line
    assert not (tmp_path / ".reconciler" / "emulator.sqlite").exists()


def test_a_malformed_target_is_a_usage_error(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_desired("GID_alpha")
    result = run_cli(capsys, "plan", "desired.yaml", "--target", "a//b")
    assert result.code == 1
    assert "'a//b' is not INSTANCE_ID or INSTANCE_ID/KEY" in _only_error(result.err)


def test_a_target_instance_known_only_to_the_state_is_accepted(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_desired("GID_alpha", backend="")
    write_state(("post-cn-gone0001", "GID_old"))
    result = run_cli(capsys, "plan", "desired.yaml", "--target", "post-cn-gone0001")
    assert "neither declared" not in result.err
    assert "Refreshing" in result.err


def test_missing_credentials_are_reported_before_refreshing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in (
        "RECONCILER_ENDPOINT", "ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
        "ALICLOUD_ACCESS_KEY", "ALICLOUD_SECRET_KEY", "ALIBABA_CLOUD_PROFILE",
    ):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    write_desired("GID_alpha")
    result = run_cli(capsys, "plan", "desired.yaml", "--endpoint", "http://127.0.0.1:9")
    assert result.code == 1
    assert "no Alibaba Cloud credentials found" in _only_error(result.err)
