"""``reconciler inspect`` as a separate process: on a real pseudo-terminal (colour, width
and the progress bar are detected, not forced) and interrupted with Ctrl-C."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import signal
import struct
import subprocess
import sys
import termios
import time

import pytest

from tests.fixtures.emulator import ROOT, RunningEmulator

MINUTE = 60_000
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def environment(emulator: RunningEmulator) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("COLUMNS", "LINES", "NO_COLOR", "RECONCILER_DEBUG")
    }
    env.update(
        ALIBABA_CLOUD_ACCESS_KEY_ID=emulator.access_key_id,
        ALIBABA_CLOUD_ACCESS_KEY_SECRET=emulator.access_key_secret,
        RECONCILER_ENDPOINT=emulator.url,
        TERM="xterm-256color",
        TZ="UTC",
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
    )
    return env


def run_on_terminal(args: list[str], env: dict[str, str], *, columns: int, rows: int) -> str:
    """Run ``reconciler ARGS`` with stdin, stdout and stderr on a new pseudo-terminal of the
    given size; everything it wrote, line ends normalised."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    process = subprocess.Popen(
        [sys.executable, "-m", "reconciler", *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        cwd=ROOT,
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    assert process.wait(timeout=120) == 0, b"".join(chunks).decode(errors="replace")
    return b"".join(chunks).decode().replace("\r\n", "\n")


@pytest.fixture
def history_world(emulator: RunningEmulator) -> RunningEmulator:
    emulator.store.add_group(emulator.instance_id, "GID_orders")
    now = int(time.time() * 1000)
    emulator.store.add_online_samples(
        emulator.instance_id,
        "GID_orders",
        [(now - i * MINUTE, (i // 10) % 7) for i in range(0, 3 * 60)],
    )
    return emulator


def test_history_on_a_terminal_draws_a_coloured_chart_fitting_its_width(
    history_world: RunningEmulator,
) -> None:
    output = run_on_terminal(
        ["inspect", "history", "GID_orders", "--instance", history_world.instance_id,
         "--since", "2h"],
        environment(history_world),
        columns=100,
        rows=30,
    )  # fmt: skip
    assert "\x1b[" in output  # colour, detected from the terminal
    lines = [ANSI.sub("", line).rstrip() for line in output.splitlines()]
    chart = [line for line in lines if "┤" in line or "┌" in line or "└" in line]
    assert chart, output
    widths = {len(line) for line in chart}
    assert max(widths) <= 100 and min(widths) >= 90  # fills the terminal's 100 columns
    assert "local time (UTC" in output
    assert lines[-1].startswith("min ") and " · last " in lines[-1]


@pytest.mark.slow  # about 2 s of real pacing in a child process: 4 s
def test_a_long_history_shows_progress_with_the_time_left(
    history_world: RunningEmulator,
) -> None:
    # 31 day windows (the longest range): one more than the 30/min bucket holds, so about 2 s
    # of pacing.
    output = run_on_terminal(
        ["inspect", "history", "GID_orders", "--instance", history_world.instance_id,
         "--since", "31d", "--no-chart"],
        environment(history_world),
        columns=100,
        rows=30,
    )  # fmt: skip
    assert "31 calls of OnsMqttQueryHistoryOnline, about 2 s at 30 a minute" in output
    plain = ANSI.sub("", output)
    assert re.search(r"\d+/31", plain) and "s left" in plain
    assert re.search(r"waited \d+ s for the rate limit", plain)
    # The bar tells of the pacing; the client's own pacing lines would cut through it.
    assert "for the 30/min rate limit" not in plain


def test_ctrl_c_exits_130(emulator: RunningEmulator) -> None:
    for index in range(40):
        emulator.store.add_group(emulator.instance_id, f"GID_device-{index:02d}")
    process = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "inspect", "instance", emulator.instance_id],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment(emulator),
        cwd=ROOT,
    )
    assert process.stderr is not None
    lines = [process.stderr.readline() for _ in range(2)]
    assert lines[0].startswith("note: no desired-state file")
    assert lines[1].startswith("40 calls of OnsMqttQueryClientByGroupId")
    process.send_signal(signal.SIGINT)
    _, rest = process.communicate(timeout=60)
    assert process.returncode == 130
    assert rest.strip().splitlines()[-1] == "Interrupted."
