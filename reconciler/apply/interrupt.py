"""Turn Ctrl-C into a request to stop scheduling, for the duration of an apply."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


@contextmanager
def stop_on_sigint(stop: threading.Event) -> Iterator[threading.Event]:
    """While inside, SIGINT sets ``stop`` instead of raising KeyboardInterrupt; a second
    SIGINT raises as usual, for a user who really wants out now. Outside the main thread
    (signals cannot be caught there) this only yields ``stop``."""
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)
