"""Fault injection for reliability tests: random 5xx answers and dropped connections."""

from __future__ import annotations

import enum
import random
import threading

from reconciler.emulator.protocol import ApiError


class Fault(enum.Enum):
    UNAVAILABLE = "503 ServiceUnavailable"
    INTERNAL = "500 InternalError"
    ONS_SYSTEM = "500 ONS_SYSTEM_ERROR"
    DROP_BEFORE = "connection dropped before the action ran"
    # The action ran but its answer is lost: what makes clients confirm before retrying a create.
    DROP_AFTER = "connection dropped after the action ran"

    @property
    def drops_connection(self) -> bool:
        return self in (Fault.DROP_BEFORE, Fault.DROP_AFTER)

    def error(self) -> ApiError:
        if self is Fault.UNAVAILABLE:
            return ApiError(
                503,
                "ServiceUnavailable",
                "The request has failed due to a temporary failure of the server.",
            )
        if self is Fault.INTERNAL:
            return ApiError(
                500, "InternalError", "The request processing has failed due to some unknown error."
            )
        if self is Fault.ONS_SYSTEM:
            return ApiError(500, "ONS_SYSTEM_ERROR", "The backend system failed; please retry.")
        raise ValueError(f"{self} is not an error answer")


class FaultInjector:
    """Picks a fault for a share ``rate`` of requests, uniformly among the kinds above."""

    def __init__(self, rate: float, *, seed: int | None = None) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"fault rate must be between 0 and 1, not {rate}")
        self.rate = rate
        self._random = random.Random(seed)
        self._lock = threading.Lock()

    def pick(self) -> Fault | None:
        if self.rate <= 0.0:
            return None
        with self._lock:
            if self._random.random() >= self.rate:
                return None
            return self._random.choice(list(Fault))
