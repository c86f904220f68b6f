"""What the cloud client says reaches stderr: retries and pacing always, every call with
--debug (or RECONCILER_DEBUG=1), never a secret."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from tests.fixtures.apply_kit import write_desired
from tests.fixtures.emulator import TEST_INSTANCE_ID, RunningEmulator
from tests.fixtures.runs import closed_port, run_cli

STS_KEY_ID = "STS.LTAI5tDebugKey"
STS_SECRET = "sts-debug-secret-value"
STS_TOKEN = "CAIS.debug/token+value=="


def test_plan_against_a_closed_port_says_each_retry_and_gives_up_after_three(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_desired("GID_alpha")
    endpoint = f"http://127.0.0.1:{closed_port()}"
    result = run_cli(capsys, "plan", "desired.yaml", "--endpoint", endpoint)
    assert result.code == 1
    retries = [line for line in result.err.splitlines() if "retrying in" in line]
    assert len(retries) == 2, result.err
    assert retries[0].startswith("OnsMqttGroupIdList: connection refused, retrying in ")
    assert retries[-1].endswith("(attempt 3 of 3)")
    assert result.err.splitlines()[-1].startswith("Error: OnsMqttGroupIdList: cannot reach")


@pytest.mark.parametrize("how", ["flag", "flag after the command", "env"])
def test_debug_logs_every_call_without_secrets(
    how: str,
    workdir: Path,
    emulator: RunningEmulator,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    emulator.store.add_account(STS_KEY_ID, STS_SECRET, sts_tokens=[STS_TOKEN])
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", STS_KEY_ID)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", STS_SECRET)
    monkeypatch.setenv("ALIBABA_CLOUD_SECURITY_TOKEN", STS_TOKEN)
    write_desired("GID_alpha")
    if how == "env":
        monkeypatch.setenv("RECONCILER_DEBUG", "1")
        args = ["plan", "desired.yaml"]
    elif how == "flag":
        args = ["--debug", "plan", "desired.yaml"]
    else:
        args = ["plan", "desired.yaml", "--debug"]
    result = run_cli(capsys, *args)
    assert result.code == 0, result.err
    lines = [line for line in result.err.splitlines() if line.startswith("debug: ")]
    # The source is named first, by where it was found, never by its values.
    assert lines[0] == "debug: credentials: environment (ALIBABA_CLOUD_ACCESS_KEY_ID)"
    calls = lines[1:]
    assert calls and calls[0].startswith("debug: OnsMqttGroupIdList attempt 1: status=200")
    assert "'Signature': '***'" in calls[0]
    assert "'SecurityToken': '***'" in calls[0]
    everything = result.out + result.err
    for secret in (STS_SECRET, STS_TOKEN, "CAIS.debug%2Ftoken", "debug%252Ftoken"):
        assert secret not in everything
    assert not re.search(r"'Signature': '(?!\*\*\*')", everything)


def test_without_debug_no_call_is_logged_and_the_handler_is_gone_after(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_desired("GID_alpha")
    result = run_cli(capsys, "plan", "desired.yaml")
    assert result.code == 0, result.err
    assert "debug:" not in result.err
    assert logging.getLogger("reconciler.cloud").handlers == []


def test_debug_after_a_nested_command_logs_its_calls(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--debug`` is accepted wherever a command's own options are, also under a group."""
    write_desired("GID_alpha")
    result = run_cli(capsys, "inspect", "instance", TEST_INSTANCE_ID, "--debug")
    assert result.code == 0, result.err
    assert any(line.startswith("debug: ") for line in result.err.splitlines()), result.err
    assert logging.getLogger("reconciler.cloud").handlers == []


@pytest.mark.parametrize("args", [["--help"], ["plan", "--help"], ["state", "list", "--help"]])
def test_debug_help_names_its_variable(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli(capsys, *args)
    assert result.code == 0
    assert "$RECONCILER_DEBUG=1" in " ".join(result.out.split())
