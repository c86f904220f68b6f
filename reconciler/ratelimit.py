"""Thread-safe token buckets: ``TokenBucket`` paces the client and throttles the emulator;
``AdaptiveBucket`` paces the client and slows down when the service throttles it;
``AccountRateLimits`` keeps one bucket per account and action, for both.

``Rate(calls, period)`` holds at most ``calls`` tokens and refills ``calls`` per ``period``
seconds, so a burst of one period's worth passes and the long-run rate is ``calls/period``.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

# A pacing wait shorter than this is the normal rhythm of the calls, not worth a line.
WAIT_WORTH_SAYING = 1.0
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
    """Holds at most ``burst`` tokens (default: one period's worth of calls) and refills at the
    rate."""

    def __init__(
        self,
        rate: Rate,
        *,
        burst: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rate = rate
        self._capacity = max(rate.calls if burst is None else burst, 1.0)
        self._tokens = self._capacity
        self._clock = clock
        self._updated = clock()
        self._lock = threading.Lock()

    @property
    def rate(self) -> Rate:
        return self._rate

    def _per_second(self, now: float) -> float:
        return self._rate.per_second

    def _refill(self, now: float) -> None:
        elapsed = max(0.0, now - self._updated)
        self._tokens = min(self._capacity, self._tokens + elapsed * self._per_second(now))
        self._updated = now

    def _wait_locked(self, now: float) -> float:
        self._refill(now)
        if self._tokens >= 1.0:
            return 0.0
        # The floor keeps float rounding from spinning on a wait of ~0.
        return max((1.0 - self._tokens) / self._per_second(now), 0.001)

    def try_acquire(self) -> bool:
        """Take a token if one is there; never waits."""
        with self._lock:
            if self._wait_locked(self._clock()) > 0.0:
                return False
            self._tokens -= 1.0
            return True

    def wait_time(self) -> float:
        """Seconds until a token is due (0 when one is there now)."""
        with self._lock:
            return self._wait_locked(self._clock())

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
                wait = self._wait_locked(now)
                if wait == 0.0:
                    self._tokens -= 1.0
                    return True
            if deadline is not None and now + wait > deadline:
                return False
            if on_wait is not None:
                on_wait(wait)
            sleep(wait)


class AdaptiveBucket(TokenBucket):
    """A token bucket that backs off when the service says "throttled" (AIMD).

    It paces at the configured rate until ``throttled()`` is called; then the rate is cut by
    ``decrease`` (halved by default, never below ``floor``) and grows back linearly by
    ``recovery`` calls/s every second, up to the configured rate again. So a limit that is lower
    than we believed (other tools on the same account, a smaller quota) is found and kept to,
    instead of being hammered by retries. Several calls in flight are usually throttled
    together: only the first throttle within ``cooldown`` seconds of a cut cuts again.

    ``burst`` tokens at most are kept (default 1: calls are spread evenly, so the service's own
    bucket, which allows a burst, keeps a margin for network jitter). A ``retry_after`` given to
    ``throttled()`` also holds every token back until that many seconds have passed.
    """

    def __init__(
        self,
        rate: Rate,
        *,
        burst: float = 1.0,
        decrease: float = 0.5,
        recovery: float | None = None,
        floor: float | None = None,
        cooldown: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0.0 < decrease < 1.0:
            raise ValueError("decrease must be between 0 and 1")
        super().__init__(rate, burst=burst, clock=clock)
        self.configured = rate
        ceiling = rate.per_second
        self._ceiling = ceiling
        self._recovery = recovery if recovery is not None else ceiling / 10.0
        self._floor = min(floor if floor is not None else ceiling / 16.0, ceiling)
        self._decrease = decrease
        self._cooldown = cooldown
        # The rate right after the last cut, and when that was (None: never cut).
        self._cut_to = ceiling
        self._cut_at: float | None = None
        self._held_until = self._updated

    def _per_second(self, now: float) -> float:
        if self._cut_at is None:
            return self._ceiling
        return min(self._ceiling, self._cut_to + self._recovery * max(0.0, now - self._cut_at))

    @property
    def rate(self) -> Rate:
        """The rate the bucket paces at now (the configured one unless throttling cut it)."""
        with self._lock:
            return Rate(round(self._per_second(self._clock()), 3), 1.0)

    def throttled(self, retry_after: float | None = None) -> None:
        """The service throttled a call: slow down, and hold back for ``retry_after`` seconds."""
        with self._lock:
            now = self._clock()
            self._refill(now)
            if self._cut_at is None or now - self._cut_at >= self._cooldown:
                self._cut_to = max(self._floor, self._per_second(now) * self._decrease)
                self._cut_at = now
                # No burst right after a throttle: tokens saved up are what got us here.
                self._tokens = min(self._tokens, 0.0)
            if retry_after is not None and retry_after > 0:
                # Nothing accrues while held; one call may go when the hold ends.
                self._held_until = max(self._held_until, now + retry_after)
                self._tokens = 1.0

    def _refill(self, now: float) -> None:
        elapsed = max(0.0, now - max(self._updated, self._held_until))
        self._tokens = min(self._capacity, self._tokens + elapsed * self._per_second(now))
        self._updated = now

    def _wait_locked(self, now: float) -> float:
        wait = super()._wait_locked(now)
        return self._held_until - now if now < self._held_until else wait


class AccountRateLimits:
    """One bucket per (AccessKeyId, action), made on first use by ``make`` (by default an
    ``AdaptiveBucket`` on ``clock``: calls spread evenly, slowing down when throttled).

    The service limits some actions per account, not per instance or region: every client of
    one run that talks for the same account must share these buckets, so one registry is made
    per run and handed to each client. ``rates`` maps an action to its limit; an action
    without one (or mapped to None) is not paced.
    """

    def __init__(
        self,
        rates: Mapping[str, Rate | None],
        *,
        make: Callable[[Rate], TokenBucket] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rates = dict(rates)
        self._make = make or (lambda rate: AdaptiveBucket(rate, clock=clock))
        self._buckets: dict[tuple[str, str], TokenBucket] = {}
        self._lock = threading.Lock()

    def rates(self) -> dict[str, Rate]:
        """Every action's limit (the actions that have one)."""
        with self._lock:
            return {action: rate for action, rate in self._rates.items() if rate is not None}

    def rate(self, action: str) -> Rate | None:
        """The action's limit (None: not paced)."""
        with self._lock:
            return self._rates.get(action)

    def set_rate(self, action: str, rate: Rate | None) -> None:
        """Change one action's limit (None lifts it); its buckets start afresh."""
        with self._lock:
            self._rates[action] = rate
            for key in [key for key in self._buckets if key[1] == action]:
                del self._buckets[key]

    def bucket(self, access_key_id: str, action: str) -> TokenBucket | None:
        with self._lock:
            rate = self._rates.get(action)
            if rate is None:
                return None
            found = self._buckets.get((access_key_id, action))
            if found is None:
                found = self._buckets[(access_key_id, action)] = self._make(rate)
            return found
