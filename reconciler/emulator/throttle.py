"""Per-action throttling answered with ``Throttling.User``: a bucket per AccessKey and action."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping

from reconciler.emulator.actions import QUERY_ACTIONS
from reconciler.emulator.protocol import ApiError
from reconciler.ratelimit import Rate, TokenBucket

# The service documents 30 calls per minute for each device and report action.
DEFAULT_THROTTLES: dict[str, Rate] = {action: Rate(30, 60.0) for action in QUERY_ACTIONS}


class Throttler:
    def __init__(
        self,
        overrides: Mapping[str, Rate | None] | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``overrides`` replace the defaults per action; None lifts an action's limit."""
        self._clock = clock
        self._rates: dict[str, Rate | None] = {**DEFAULT_THROTTLES, **(overrides or {})}
        self._buckets: dict[tuple[str, str], TokenBucket] = {}
        self._lock = threading.Lock()

    def set_rate(self, action: str, rate: Rate | None) -> None:
        with self._lock:
            self._rates[action] = rate
            for key in [key for key in self._buckets if key[1] == action]:
                del self._buckets[key]

    def rates(self) -> dict[str, Rate]:
        with self._lock:
            return {action: rate for action, rate in self._rates.items() if rate is not None}

    def check(self, access_key_id: str, action: str) -> None:
        with self._lock:
            rate = self._rates.get(action)
            if rate is None:
                return
            bucket = self._buckets.get((access_key_id, action))
            if bucket is None:
                bucket = self._buckets[(access_key_id, action)] = TokenBucket(
                    rate, clock=self._clock
                )
        if not bucket.try_acquire():
            raise ApiError(
                400, "Throttling.User", f"Request was denied due to user flow control ({rate})."
            )
