"""Issuing temporary credentials for a role, the one way STS, the metadata endpoint and the
credentials URI all do it: an ``STS.`` AccessKey, a secret and a security token, expiring at
a whole second (``Expiration`` is written to the second, so what a client reads is exact)."""

from __future__ import annotations

import base64
import secrets
import string
import time
from collections.abc import Callable
from datetime import UTC, datetime

from reconciler.emulator.store import EmulatorStore, IssuedRecord, RoleRecord

DEFAULT_DURATION_SECONDS = 3600
_KEY_ALPHABET = string.ascii_letters + string.digits


def expiration_text(expires_ms: int) -> str:
    """``Expiration`` as STS writes it: ISO 8601 UTC to the second."""
    return datetime.fromtimestamp(expires_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _random_text(length: int) -> str:
    return "".join(secrets.choice(_KEY_ALPHABET) for _ in range(length))


def _security_token() -> str:
    # Real tokens are long base64 text: keeping '+', '/' and '=' in them tests that every
    # client encodes the token where it is signed.
    return "CAIS" + base64.b64encode(secrets.token_bytes(240)).decode("ascii")


class CredentialIssuer:
    def __init__(self, store: EmulatorStore, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock

    def issue(
        self,
        role: RoleRecord,
        *,
        session_name: str,
        duration_seconds: int,
        source: str,
    ) -> IssuedRecord:
        """New credentials acting for the role's account; they last ``duration_seconds``
        unless the emulator's STS duration setting says otherwise."""
        account_key = self._store.account_key(role.account_id)
        if account_key is None:
            raise ValueError(f"role {role.arn} belongs to no account the emulator knows")
        lifetime = self._store.sts_settings().duration or duration_seconds
        now = self._clock()
        record = IssuedRecord(
            access_key_id="STS." + _random_text(28),
            access_key_secret=_random_text(44),
            security_token=_security_token(),
            account_key=account_key,
            role_arn=role.arn,
            session_name=session_name,
            source=source,
            issued_ms=int(now * 1000),
            expires_ms=(int(now) + lifetime) * 1000,
        )
        self._store.add_issued(record)
        return record

    def held_or_new(self, role: RoleRecord, *, source: str) -> IssuedRecord:
        """What the metadata endpoint and the credentials URI answer: the credentials they
        issued last while more than half of their lifetime is left (as the ECS metadata
        service hands out the same credentials for a while), else new ones."""
        held = self._store.latest_issued(source, role.arn)
        now_ms = int(self._clock() * 1000)
        if held is not None and held.expires_ms - now_ms > (held.expires_ms - held.issued_ms) / 2:
            return held
        return self.issue(
            role, session_name=source, duration_seconds=DEFAULT_DURATION_SECONDS, source=source
        )
