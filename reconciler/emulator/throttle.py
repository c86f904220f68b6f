"""Per-account, per-action throttling: a token bucket per AccessKey and action.

The check only says whether (and for how long) a call is over its limit; the product the call
belongs to words the answer (``Throttling.User``, ``SystemOverFlow``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping

from reconciler.emulator import actions, onsmqtt_actions
from reconciler.ratelimit import Rate, TokenBucket

# ONS 2019-02-14: 30 calls a minute for each device and report action. OnsMqtt 2020-04-20:
# 10 a second on the group actions, more on the session look-ups. Action names do not collide.
DEFAULT_THROTTLES: dict[str, Rate] = {
    **{action: Rate(30, 60.0) for action in actions.QUERY_ACTIONS},
    **onsmqtt_actions.DEFAULT_THROTTLES,
}


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

    def check(self, access_key_id: str, action: str) -> tuple[Rate, float] | None:
        """None when the call may go; else the limit it broke and the seconds until the
        account's next call of the action would be let through."""
        with self._lock:
            rate = self._rates.get(action)
            if rate is None:
                return None
            bucket = self._buckets.get((access_key_id, action))
            if bucket is None:
                bucket = self._buckets[(access_key_id, action)] = TokenBucket(
                    rate, clock=self._clock
                )
        if bucket.try_acquire():
            return None
        return rate, bucket.wait_time()
