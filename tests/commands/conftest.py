"""Fixtures shared by the command tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.commands.statecli import write_desired as write_state_desired
from tests.fixtures.emulator import RunningEmulator


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, emulator: RunningEmulator) -> Path:
    """A fresh current directory whose commands talk to the test emulator (through the
    environment, as a CI job would), with colours left to the terminal check."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", emulator.access_key_id)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", emulator.access_key_secret)
    monkeypatch.setenv("RECONCILER_ENDPOINT", emulator.url)
    monkeypatch.delenv("NO_COLOR", raising=False)
    return tmp_path


@pytest.fixture
def state_workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh current directory with a ``reconciler.yaml`` naming a local state backend."""
    monkeypatch.chdir(tmp_path)
    write_state_desired(tmp_path)
    return tmp_path
