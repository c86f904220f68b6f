"""One root error for everything a user can cause or meet.

The tree (the CLI catches ``ReconcilerError`` once, prints ``str(err)`` on one line, exits 1)::

    ReconcilerError
    ├── ConfigError                one located problem in a desired-state file
    │   └── ConfigErrors           every problem found in one load (``.errors``)
    ├── CredentialsError           no usable AccessKey found; names where it looked
    ├── CloudError                 a call to the MQTT management API failed
    │   ├── CloudConnectionError   no HTTP answer (refused, reset, timeout)
    │   │   └── UntrustedCertificateError  the endpoint's TLS certificate is not trusted
    │   └── CloudApiError          the service answered with an error Code
    │       ├── RetryableApiError  throttling, 5xx, ONS_SYSTEM_ERROR, SystemOverFlow (retried)
    │       ├── AuthError          bad key, signature, timestamp, nonce, token
    │       ├── NotFoundError      the GID (or topic, instance, region) does not exist
    │       ├── AlreadyExistsError the GID already exists
    │       ├── FeatureNotSupportedError  the instance's edition lacks the feature (ApiNotSupport)
    │       └── ParameterError     MissingParameter, BIZ_FIELD_CHECK_INVALID, bad values
    ├── StateError                 the state document cannot be read or written
    │   ├── StateConflictError     compare-and-swap on the serial lost
    │   ├── StateBindingError      the state describes other desired inputs or another cloud
    │   └── LockError              the state lock cannot be taken or released
    │       ├── LockHeldError      someone else holds it (``.holder`` says who)
    │       └── LockLostError      a lock we held was broken (force-unlock): stop at once
    ├── PlanError                  a plan cannot be built, read or used
    │   ├── UnknownInstanceError   a declared instance the cloud does not know
    │   ├── PlanRefusedError       guards block the plan (``.reasons``)
    │   ├── StalePlanError         a saved plan no longer matches the world
    │   └── ClientsOnlineError     a delete's GID has clients online when apply checks again
    ├── ApplyError                 an apply finished with failed actions
    ├── InspectError               an inspect query names a GID, topic, client or instance
    │                              the service does not know (``.code``, ``.request_id``)
    ├── CiError                    a pull/merge-request comment cannot be posted (``ci comment``)
    └── EmulatorError              the emulator cannot start or load its fixture
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


class ReconcilerError(Exception):
    """Root of every error the CLI reports as a one-line message."""


class ConfigError(ReconcilerError):
    """A problem located in a desired-state (or fixture) file."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        column: int | None = None,
        path: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.column = column
        self.path = path
        super().__init__(self.format())

    def format(self) -> str:
        return format_located(
            self.message, file=self.file, line=self.line, column=self.column, path=self.path
        )


def format_located(
    message: str,
    *,
    file: str | None,
    line: int | None,
    column: int | None,
    path: str | None,
) -> str:
    """``file:line:column: message (at path)``: how every located problem (or warning) reads."""
    where = file or "<input>"
    if line is not None:
        where += f":{line}"
        if column is not None:
            where += f":{column}"
    text = f"{where}: {message}"
    if path:
        text += f" (at {path})"
    return text


class ConfigErrors(ConfigError):
    """Every problem found in one load; ``str()`` is one line per error."""

    def __init__(self, errors: Sequence[ConfigError]) -> None:
        if not errors:
            raise ValueError("ConfigErrors needs at least one error")
        self.errors = list(errors)
        first = self.errors[0]
        super().__init__(
            first.message, file=first.file, line=first.line, column=first.column, path=first.path
        )

    def format(self) -> str:
        return "\n".join(err.format() for err in getattr(self, "errors", []))


class CredentialsError(ReconcilerError):
    """No usable credentials were found."""


class CloudError(ReconcilerError):
    """A call to the MQTT management API failed."""

    def __init__(self, message: str, *, action: str | None = None) -> None:
        self.action = action
        super().__init__(message)


class CloudConnectionError(CloudError):
    """The request got no HTTP answer (refused, reset, timed out)."""


class UntrustedCertificateError(CloudConnectionError):
    """The endpoint's TLS certificate failed verification: never retried, it does not heal."""


class CloudApiError(CloudError):
    """The service answered with an error body."""

    def __init__(
        self,
        *,
        action: str,
        status: int,
        code: str,
        message: str,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.status = status
        # Seconds the service asked us to wait (its ``x-acs-retry-after`` header), if it did.
        self.retry_after = retry_after
        self.code = code
        self.api_message = message
        self.request_id = request_id
        text = f"{action} failed: {code} (HTTP {status}): {message}"
        if request_id:
            text += f" [RequestId {request_id}]"
        super().__init__(text, action=action)


class RetryableApiError(CloudApiError):
    """Throttling, service unavailable, internal errors: worth another try."""


class AuthError(CloudApiError):
    """The credentials or the signature were rejected."""


class NotFoundError(CloudApiError):
    """The named resource does not exist."""


class AlreadyExistsError(CloudApiError):
    """The GID already exists."""


class FeatureNotSupportedError(CloudApiError):
    """The instance's edition does not offer the action's feature (``ApiNotSupport``: custom
    authentication on a Basic or Standard edition); the code is kept."""


class ParameterError(CloudApiError):
    """A parameter was missing or invalid."""


class StateError(ReconcilerError):
    """The state document cannot be read or written."""


class StateConflictError(StateError):
    """Another writer moved the state serial since it was read."""


class StateBindingError(StateError):
    """The state was written from other desired inputs, or against another cloud."""


class LockError(StateError):
    """The state lock cannot be taken or released."""


class LockHeldError(LockError):
    """Someone else holds the lock; ``holder`` describes them (a LockInfo or None)."""

    def __init__(self, message: str, holder: object | None = None) -> None:
        self.holder = holder
        super().__init__(message)


class LockLostError(LockError):
    """A lock this process held was broken (force-unlocked, or its session ended): it must
    start nothing more and write no state."""


class PlanError(ReconcilerError):
    """A plan cannot be built, read or used."""


class UnknownInstanceError(PlanError):
    """A declared instance (or several) the cloud does not know: a wrong id or region."""


class PlanRefusedError(PlanError):
    """Guards block the plan; ``reasons`` lists each one with the flag that overrides it."""

    def __init__(self, reasons: Sequence[str]) -> None:
        self.reasons = list(reasons)
        super().__init__("plan refused: " + "; ".join(self.reasons))


class StalePlanError(PlanError):
    """A saved plan no longer matches desired state, state or the cloud."""

    def __init__(self, reasons: Sequence[str]) -> None:
        self.reasons = list(reasons)
        super().__init__("saved plan is stale: " + "; ".join(self.reasons))


class PlanMismatchError(PlanError):
    """A saved plan that is not the one its inputs give: edited, or made otherwise."""


class ClientsOnlineError(PlanError):
    """Deletes the plan let through whose GIDs have clients online when apply looks again,
    just before deleting; ``online`` maps each (``INSTANCE_ID/GROUP_ID``) to its count."""

    def __init__(self, message: str, online: Mapping[str, int]) -> None:
        self.online = dict(online)
        super().__init__(message)


class ApplyError(ReconcilerError):
    """An apply finished with failed actions."""


class InspectError(ReconcilerError):
    """What an inspect query asked about does not exist; one line naming it, the service's
    code translated, its RequestId kept for ``--debug``."""

    def __init__(self, message: str, *, code: str, request_id: str | None = None) -> None:
        self.message = message
        self.code = code
        self.request_id = request_id
        super().__init__(f"{message} ({code})")

    def describe(self, *, with_request_id: bool) -> str:
        text = str(self)
        if with_request_id and self.request_id:
            text += f" [RequestId {self.request_id}]"
        return text


class EmulatorError(ReconcilerError):
    """The emulator cannot start or load its fixture."""


class CiError(ReconcilerError):
    """``reconciler ci``: the CI variables are missing or the forge's API refused a call."""
