"""How long a number of calls takes under the client's token bucket for an action (the rate
its ``rate_limits`` hold for it).

The bucket starts full (``rate.calls`` tokens), so the first ``capacity`` calls go at once and
each further one waits ``1 / per_second``. The estimate ignores round trips: against the
real service's 30 calls a minute, the pacing dominates.
"""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.ratelimit import Rate


@dataclass(frozen=True)
class CallPlan:
    action: str
    calls: int
    rate: Rate | None

    @property
    def capacity(self) -> int:
        return self.calls if self.rate is None else int(max(self.rate.calls, 1.0))

    @property
    def exceeds_bucket(self) -> bool:
        """More calls than the bucket holds: the command will wait, and should say so."""
        return self.calls > self.capacity

    def seconds(self) -> float:
        return self.remaining_after(0)

    def remaining_after(self, done: int) -> float:
        """Seconds of pacing still ahead once ``done`` calls have been made."""
        if self.rate is None:
            return 0.0
        left = self.calls - max(done, self.capacity)
        return max(0, left) / self.rate.per_second
