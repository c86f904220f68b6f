"""What a source gives (``Credentials``) and what every client asks (``CredentialsProvider``)."""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel, ConfigDict, SecretStr


class Credentials(BaseModel):
    """An AccessKey pair (plus an STS token for temporary credentials), where it came from,
    and, for temporary credentials, when they expire (POSIX seconds)."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    access_key_id: str
    access_key_secret: SecretStr
    security_token: SecretStr | None = None
    source: str
    expiration: float | None = None

    def secret_values(self) -> tuple[str, ...]:
        """The strings that must never be shown (for redaction)."""
        values = [self.access_key_secret.get_secret_value()]
        if self.security_token is not None:
            values.append(self.security_token.get_secret_value())
        return tuple(value for value in values if value)


def make_credentials(
    key_id: str,
    secret: str,
    token: str | None,
    *,
    source: str,
    expiration: float | None = None,
) -> Credentials:
    # Strings of the declared types: no validator to build for them (a small plan's start-up).
    return Credentials.model_construct(
        access_key_id=key_id,
        access_key_secret=SecretStr(secret),
        security_token=SecretStr(token) if token else None,
        source=source,
        expiration=expiration,
    )


class CredentialsProvider(Protocol):
    """What a client signs with: ``current()`` before each attempt, so temporary credentials
    refreshed meanwhile are used from the next attempt on."""

    @property
    def source(self) -> str:
        """Where the credentials come from, for messages and ``--debug`` (never a secret)."""
        ...

    def current(self) -> Credentials: ...

    def refresh_refused(self, refused: Credentials) -> bool:
        """The service answered that ``refused`` (what ``current()`` gave) have expired:
        whether ``current()`` gives fresh ones from now on (False: they cannot be renewed)."""
        ...


class StaticProvider:
    """Credentials that never change: a key pair, or an STS token the user handed over."""

    def __init__(self, credentials: Credentials) -> None:
        self._credentials = credentials

    @property
    def source(self) -> str:
        return self._credentials.source

    def current(self) -> Credentials:
        return self._credentials

    def refresh_refused(self, refused: Credentials) -> bool:
        return False  # a key pair, or a token the user handed over: nothing to fetch again


def as_provider(credentials: Credentials | CredentialsProvider) -> CredentialsProvider:
    if isinstance(credentials, Credentials):
        return StaticProvider(credentials)
    return credentials
