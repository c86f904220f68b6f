"""On a terminal, apply shows the plan, asks for `yes`, and draws a progress bar."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.apply_kit import cwd_backend, state_group_ids, write_desired
from tests.fixtures.emulator import TEST_INSTANCE_ID, RunningEmulator
from tests.fixtures.emulator_store import group_ids
from tests.fixtures.terminal import Terminal


def test_answering_yes_applies_with_a_progress_bar(
    tmp_path: Path, emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write_desired("GID_alpha", "GID_bravo")
    terminal = Terminal(tmp_path, emulator.url, "desired.yaml", "--no-color")
    assert "Plan: 2 to create" in terminal.read_until("Enter a value:")
    terminal.type("yes\n")
    code = terminal.finish()
    assert code == 0, terminal.output
    assert "Applying" in terminal.output and "2/2" in terminal.output  # the rich bar
    assert "Apply complete: 2 created." in terminal.output
    assert set(group_ids(emulator.store, TEST_INSTANCE_ID)) == {"GID_alpha", "GID_bravo"}
    assert state_group_ids(cwd_backend().read()) == {"GID_alpha", "GID_bravo"}


def test_any_other_answer_cancels_and_changes_nothing(
    tmp_path: Path, emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write_desired("GID_alpha")
    terminal = Terminal(tmp_path, emulator.url, "desired.yaml")
    terminal.read_until("Enter a value:")
    terminal.type("y\n")
    code = terminal.finish()
    assert code == 1
    assert "Apply cancelled; nothing was changed." in terminal.output
    assert group_ids(emulator.store, TEST_INSTANCE_ID) == []
    assert cwd_backend().read() is None
    assert cwd_backend().lock_holder() is None
