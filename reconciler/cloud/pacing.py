"""How the clients pace their calls: each product's declared limits, and one registry per run.

A product declares its ``Pacing``: the limit of each action it paces, and whether a limit
counts the calls of one client (ONS 2019-02-14: each client keeps buckets of its own, letting
one period's calls burst) or of every client of the account (OnsMqtt 2020-04-20: the service
counts the account's calls, whatever the instance or region, so every client of the run that
talks for one AccessKey shares one bucket per action, spread evenly and slowing down when
throttled; see ``reconciler.ratelimit.AdaptiveBucket``).

``RateLimits`` is the run's one registry for both products: made once (by the client
registry), handed to every client, with the run's overrides (``--rate``, a test's rates) and
the clock its buckets run on.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from reconciler.ratelimit import AccountRateLimits, AdaptiveBucket, Rate, TokenBucket


@dataclass(frozen=True, eq=False)  # compared by identity: each product declares one
class Pacing:
    """``limits``: an action's limit (an action left out is not paced). ``per``: whom a limit
    counts. ``writes``: the create and delete actions whose documented limit ``--rate``
    replaces (the executor paces every create and delete at ``--rate``; a limit of the
    client's own would otherwise cap a faster one)."""

    limits: Mapping[str, Rate]
    per: Literal["client", "account"]
    writes: frozenset[str] = field(default_factory=frozenset)


class RateLimits:
    """The run's rate limits for the clients of every product.

    ``overrides`` replace an action's limit (None lifts it; action names of the two products
    do not collide); ``write_rate`` (``--rate``) replaces the limit of each product's
    ``writes``. ``for_client`` gives a client the buckets it paces from: the account's shared
    ones for a product limited per account, fresh ones for a product limited per client.
    """

    def __init__(
        self,
        overrides: Mapping[str, Rate | None] | None = None,
        *,
        write_rate: Rate | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._overrides = dict(overrides or {})
        self._write_rate = write_rate
        self._clock = clock
        self._shared: dict[Pacing, AccountRateLimits] = {}
        self._lock = threading.Lock()

    def check_actions(self, known: frozenset[str]) -> None:
        """Raise ValueError for an override naming an action no product has."""
        unknown = sorted(set(self._overrides) - known)
        if unknown:
            raise ValueError(f"rate limit for unknown action {unknown[0]!r}")

    def rates(self, pacing: Pacing) -> dict[str, Rate | None]:
        """Each action's limit for a product: its declared ones, then ``--rate``, then the
        overrides."""
        rates: dict[str, Rate | None] = dict(pacing.limits)
        if self._write_rate is not None:
            rates.update(dict.fromkeys(pacing.writes, self._write_rate))
        rates.update(self._overrides)
        return rates

    def for_client(self, pacing: Pacing) -> AccountRateLimits:
        """The buckets (per AccessKeyId and action) a client of the product paces from."""
        if pacing.per == "client":
            return AccountRateLimits(
                self.rates(pacing), make=lambda rate: TokenBucket(rate, clock=self._clock)
            )
        with self._lock:
            found = self._shared.get(pacing)
            if found is None:
                found = self._shared[pacing] = AccountRateLimits(
                    self.rates(pacing), make=lambda rate: AdaptiveBucket(rate, clock=self._clock)
                )
            return found
