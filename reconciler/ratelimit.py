"""A thread-safe token bucket, shared by the client (to pace calls) and the emulator (to throttle).

``Rate(calls, period)`` holds at most ``calls`` tokens and refills ``calls`` per ``period``
seconds, so a burst of one period's worth passes and the long-run rate is ``calls/period``.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

_RATE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(s|sec|second|m|min|minute)\s*$")


@dataclass(frozen=True)
class Rate:
    calls: float
    period: float  # seconds

    @property
    def per_second(self) -> float:
        return self.calls / self.period

    def __str__(self) -> str:
        unit = "s" if self.period == 1 else "min"
        calls = int(self.calls) if self.calls == int(self.calls) else self.calls
        return f"{calls}/{unit}"


def parse_rate(text: str) -> Rate:
    """``N/s`` or ``N/min``; raises ValueError with a message fit for the user."""
    match = _RATE_RE.match(text)
    if not match or float(match.group(1)) <= 0:
        raise ValueError(f"{text!r} is not a rate like 30/min or 50/s")
    period = 1.0 if match.group(2).startswith("s") else 60.0
    return Rate(calls=float(match.group(1)), period=period)


class TokenBucket:
    def __init__(self, rate: Rate, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self._capacity = max(rate.calls, 1.0)
        self._tokens = self._capacity
        self._clock = clock
        self._updated = clock()
        self._lock = threading.Lock()

    def _refill(self, now: float) -> None:
        elapsed = max(0.0, now - self._updated)
        self._tokens = min(self._capacity, self._tokens + elapsed * self.rate.per_second)
        self._updated = now

    def try_acquire(self) -> bool:
        """Take a token if one is there; never waits."""
        with self._lock:
            self._refill(self._clock())
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            return False

    def wait_time(self) -> float:
        """Seconds until a token is due (0 when one is there now)."""
        with self._lock:
            self._refill(self._clock())
            return max(0.0, (1.0 - self._tokens) / self.rate.per_second)

    def acquire(
        self,
        deadline: float | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        on_wait: Callable[[float], None] | None = None,
    ) -> bool:
        """Wait for a token; False when ``deadline`` (a time of the bucket's clock) would pass
        first. ``on_wait(seconds)`` hears of each wait before it is slept."""
        while True:
            with self._lock:
                now = self._clock()
                self._refill(now)
                if self._tokens >= 1.0:
                    self._tokens -= 1.0
                    return True
                # The floor keeps float rounding from spinning on a wait of ~0.
                wait = max((1.0 - self._tokens) / self.rate.per_second, 0.001)
            if deadline is not None and now + wait > deadline:
                return False
            if on_wait is not None:
                on_wait(wait)
            sleep(wait)
