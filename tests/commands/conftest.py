"""Fixtures shared by the command tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.commands.statecli import write_desired as write_state_desired


@pytest.fixture
def state_workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh current directory with a ``reconciler.yaml`` naming a local state backend."""
    monkeypatch.chdir(tmp_path)
    write_state_desired(tmp_path)
    return tmp_path
