"""On a terminal, apply shows the plan, asks for `yes`, and draws a progress bar."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.apply.helpers import cwd_backend, state_group_ids, subprocess_env, write_desired
from tests.fixtures.emulator import TEST_INSTANCE_ID, RunningEmulator
from tests.fixtures.emulator_store import group_ids


class Terminal:
    """``reconciler apply`` with stdin, stdout and stderr on a pseudo-terminal."""

    def __init__(self, cwd: Path, url: str, *args: str) -> None:
        self.master, slave = pty.openpty()
        env = subprocess_env(url)
        env["COLUMNS"] = "100"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "reconciler", "apply", *args],
            cwd=cwd,
            env=env,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            close_fds=True,
        )
        os.close(slave)
        self.output = ""

    def read_until(self, text: str, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        while text not in self.output and time.monotonic() < deadline:
            ready, _, _ = select.select([self.master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                self.output += chunk.decode(errors="replace")
        return self.output

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())

    def finish(self, timeout: float = 60.0) -> int:
        self.read_until("\0never\0", timeout=0.5)
        code = self.process.wait(timeout=timeout)
        self.read_until("\0never\0", timeout=0.5)
        os.close(self.master)
        return code


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
