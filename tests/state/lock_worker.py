"""A separate process that takes the state lock, for the cross-process locking tests.

Run as ``python lock_worker.py BASE_DIR TIMEOUT [GO_FILE]`` with the backend config as JSON in
env RECONCILER_WORKER_BACKEND. Prints one line per event on stdout:
``WAITING <message>`` (each wait), ``ACQUIRED <lock id>``, then after a ``release`` line (or EOF)
on stdin ``RELEASED`` (exit 0) or ``LOST <message>`` (exit 4); or ``HELD <message>`` (exit 3).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from pydantic import TypeAdapter

from reconciler.errors import LockError, LockHeldError
from reconciler.models import BackendConfig
from reconciler.state import open_backend
from reconciler.state.base import LockInfo
from reconciler.state.locking import format_waiting, new_lock_info


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def main() -> int:
    base_dir, timeout = Path(sys.argv[1]), float(sys.argv[2])
    go_file = Path(sys.argv[3]) if len(sys.argv) > 3 else None
    config = TypeAdapter(BackendConfig).validate_json(os.environ["RECONCILER_WORKER_BACKEND"])
    backend = open_backend(config, base_dir=base_dir)
    say("READY")
    while go_file is not None and not go_file.exists():
        time.sleep(0.005)  # a start line, so both racers try at about the same instant

    def on_wait(holder: LockInfo | None) -> None:
        say("WAITING " + format_waiting(holder))

    info = new_lock_info("worker")
    try:
        lock_id = backend.lock(info, timeout=timeout, on_wait=on_wait)
    except LockHeldError as held:
        say(f"HELD {held}")
        return 3
    say(f"ACQUIRED {lock_id}")
    for line in sys.stdin:
        if line.strip() == "release":
            break
    try:
        backend.unlock(lock_id)
    except LockError as lost:
        say(f"LOST {lost}")
        return 4
    say("RELEASED")
    return 0


if __name__ == "__main__":
    sys.exit(main())
