"""Per-account, per-action throttling: a token bucket per AccessKey and action.

The check only says whether (and for how long) a call is over its limit; the product the call
belongs to words the answer (``Throttling.User``, ``SystemOverFlow``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from reconciler.emulator import ons_actions, onsmqtt_actions
from reconciler.ratelimit import AccountRateLimits, Rate, TokenBucket

# ONS 2019-02-14: 30 calls a minute for each device and report action. OnsMqtt 2020-04-20:
# 10 a second on the group actions, more on the session look-ups. Action names do not collide.
DEFAULT_THROTTLES: dict[str, Rate] = {
    **{action: Rate(30, 60.0) for action in ons_actions.QUERY_ACTIONS},
    **onsmqtt_actions.DEFAULT_THROTTLES,
}


class Throttler(AccountRateLimits):
    def __init__(
        self,
        overrides: Mapping[str, Rate | None] | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``overrides`` replace the defaults per action; None lifts an action's limit."""
        super().__init__(
            {**DEFAULT_THROTTLES, **(overrides or {})},
            make=lambda rate: TokenBucket(rate, clock=clock),
        )

    def check(self, access_key_id: str, action: str) -> tuple[Rate, float] | None:
        """None when the call may go; else the limit it broke and the seconds until the
        account's next call of the action would be let through."""
        bucket = self.bucket(access_key_id, action)
        if bucket is None or bucket.try_acquire():
            return None
        return bucket.rate, bucket.wait_time()
