"""When and how long to wait before trying a failed call again.

Exponential backoff with full jitter (AWS architecture blog, "Exponential Backoff and Jitter"):
the n-th retry waits a uniform random time in ``[0, min(max_delay, base_delay * 2**(n-1))]``,
which spreads competing clients apart better than fixed or equal-jitter backoff.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from reconciler.errors import (
    CloudConnectionError,
    CloudError,
    RetryableApiError,
    UntrustedCertificateError,
)

_SHARED_RNG = random.Random()


@dataclass(frozen=True)
class RetryPolicy:
    """``max_attempts`` counts the first try; ``deadline`` (seconds) bounds attempts and waits.

    A refused connection (nothing listens at the endpoint: a wrong URL or port, a stopped
    emulator) or a host name that does not resolve rarely heals within a minute, unlike a
    reset, a timeout or a 5xx, so it gets only ``refused_attempts`` tries: the user hears of
    the typo in about a second, not after 40.
    """

    max_attempts: int = 8
    base_delay: float = 0.5
    max_delay: float = 20.0
    deadline: float = 120.0
    refused_attempts: int = 3

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.refused_attempts < 1:
            raise ValueError("max_attempts and refused_attempts must be at least 1")
        if self.base_delay < 0 or self.max_delay < 0 or self.deadline <= 0:
            raise ValueError("delays must be >= 0 and the deadline > 0")

    def backoff_ceiling(self, retry_number: int) -> float:
        """The largest wait before retry ``retry_number`` (1 for the first retry)."""
        return min(self.max_delay, self.base_delay * 2.0 ** max(0, retry_number - 1))

    def backoff(self, retry_number: int, rng: random.Random | None = None) -> float:
        """Full jitter: uniform in ``[0, backoff_ceiling(retry_number)]``."""
        return (rng or _SHARED_RNG).uniform(0.0, self.backoff_ceiling(retry_number))

    def attempts_for(self, *, refused: bool) -> int:
        """How many tries a call gets, the first included."""
        return min(self.max_attempts, self.refused_attempts) if refused else self.max_attempts


def is_retryable(error: CloudError) -> bool:
    """Throttling, 5xx, backend faults and lost connections; never parameter or auth errors,
    nor a certificate that failed its check."""
    if isinstance(error, UntrustedCertificateError):
        return False
    return isinstance(error, RetryableApiError | CloudConnectionError)
