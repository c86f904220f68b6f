"""What an apply did: one outcome per planned change, and the whole run's result. No I/O."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from reconciler.models import FrozenModel
from reconciler.plan.model import Change

RESULT_FORMAT_VERSION = 1


class OutcomeStatus(StrEnum):
    DONE = "done"
    FAILED = "failed"
    NOT_ATTEMPTED = "not_attempted"


class ActionOutcome(FrozenModel):
    """One change's fate. ``detail`` says how it ended, in words fit for a log line:
    created, already existed, deleted, already gone, adopted, forgotten, failed, not attempted."""

    change: Change
    status: OutcomeStatus
    detail: str
    request_id: str | None = None
    error_code: str | None = None
    error_message: str | None = None


class ApplyResult(FrozenModel):
    format_version: int = RESULT_FORMAT_VERSION
    outcomes: tuple[ActionOutcome, ...] = ()
    # SIGINT stopped scheduling before every change was attempted.
    interrupted: bool = False
    # The state lock was broken (force-unlock) while the apply ran: it started nothing after
    # noticing. The message says which lock.
    lock_lost: str | None = None
    # The run's temporary credentials could not be refreshed: it started nothing after that.
    credentials_lost: str | None = None
    # The state could not be saved at the end (the cloud may be ahead of the state).
    state_error: str | None = None
    state_serial: int | None = None
    state_writes: int = Field(default=0, ge=0)

    def _with(self, status: OutcomeStatus) -> tuple[ActionOutcome, ...]:
        return tuple(outcome for outcome in self.outcomes if outcome.status is status)

    @property
    def done(self) -> tuple[ActionOutcome, ...]:
        return self._with(OutcomeStatus.DONE)

    @property
    def failed(self) -> tuple[ActionOutcome, ...]:
        return self._with(OutcomeStatus.FAILED)

    @property
    def not_attempted(self) -> tuple[ActionOutcome, ...]:
        return self._with(OutcomeStatus.NOT_ATTEMPTED)

    @property
    def ok(self) -> bool:
        """Everything planned was done and recorded."""
        return (
            not self.interrupted
            and self.lock_lost is None
            and self.credentials_lost is None
            and self.state_error is None
            and not (self.failed or self.not_attempted)
        )
