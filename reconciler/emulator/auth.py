"""Request authentication as the service does it: signature V1, timestamp window, nonces, STS."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

from reconciler.cloud.signing import (
    API_VERSION,
    SIGNATURE_METHOD,
    SIGNATURE_VERSION,
    parse_timestamp,
    signature_for,
    string_to_sign,
)
from reconciler.emulator.protocol import ApiError, missing
from reconciler.emulator.store import EmulatorStore

TIMESTAMP_WINDOW = timedelta(minutes=15)
_REQUIRED = (
    "AccessKeyId",
    "Signature",
    "SignatureMethod",
    "SignatureNonce",
    "Timestamp",
    "Version",
)


class NonceCache:
    """Nonces seen in the last timestamp window; older ones cannot come back (their timestamp
    would be expired), so they are forgotten."""

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._clock = clock
        self._seen: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def first_use(self, access_key_id: str, nonce: str) -> bool:
        now = self._clock()
        with self._lock:
            # Insertion order is time order, so expired entries sit at the front.
            while self._seen:
                key, seen_at = next(iter(self._seen.items()))
                if now - seen_at < self._ttl:
                    break
                del self._seen[key]
            if (access_key_id, nonce) in self._seen:
                return False
            self._seen[(access_key_id, nonce)] = now
            return True


class Authenticator:
    def __init__(
        self,
        store: EmulatorStore,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._now = now
        self._nonces = NonceCache(TIMESTAMP_WINDOW.total_seconds())

    def authenticate(self, method: str, params: Mapping[str, str]) -> str:
        """Check the request; return its AccessKeyId or raise the service's ApiError."""
        for name in _REQUIRED:
            if name not in params:
                raise missing(name)
        if params["Version"] != API_VERSION:
            raise ApiError(400, "InvalidVersion", "Specified parameter Version is not valid.")
        if params["SignatureMethod"] != SIGNATURE_METHOD:
            raise ApiError(
                400, "InvalidSignatureMethod", "Specified signature method is not supported."
            )
        if params.get("SignatureVersion", SIGNATURE_VERSION) != SIGNATURE_VERSION:
            raise ApiError(
                400, "InvalidSignatureVersion", "Specified signature version is not supported."
            )
        self._check_timestamp(params["Timestamp"])
        access_key_id = params["AccessKeyId"]
        secret = self._store.account_secret(access_key_id)
        if secret is None:
            raise ApiError(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
        self._check_security_token(access_key_id, params.get("SecurityToken"))
        expected_text = string_to_sign(method, params)
        if signature_for(expected_text, secret) != params["Signature"]:
            # The core SDK splits this message on ":" and compares the tail with its own
            # string to sign, so the colon and the exact string matter.
            raise ApiError(
                400,
                "SignatureDoesNotMatch",
                "Specified signature is not matched with our calculation."
                f" server string to sign is:{expected_text}",
            )
        if not self._nonces.first_use(access_key_id, params["SignatureNonce"]):
            raise ApiError(400, "SignatureNonceUsed", "Specified signature nonce was used already.")
        return access_key_id

    def _check_timestamp(self, text: str) -> None:
        try:
            stamp = parse_timestamp(text)
        except ValueError as exc:
            raise ApiError(
                400,
                "InvalidTimeStamp.Format",
                "Specified time stamp or date value is not well formatted.",
            ) from exc
        if abs(self._now() - stamp) > TIMESTAMP_WINDOW:
            raise ApiError(
                400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired."
            )

    def _check_security_token(self, access_key_id: str, token: str | None) -> None:
        tokens = self._store.sts_tokens(access_key_id)
        if not tokens and not token:
            return
        if not token:
            raise ApiError(
                400, "MissingSecurityToken", "SecurityToken is mandatory for this AccessKeyId."
            )
        if token not in tokens:
            raise ApiError(
                400,
                "InvalidSecurityToken.MismatchWithAccessKey",
                "Specified SecurityToken mismatch with the AccessKey.",
            )
        expires = tokens[token]
        if expires is not None and expires <= self._now().timestamp() * 1000:
            raise ApiError(
                400, "InvalidSecurityToken.Expired", "Specified SecurityToken is expired."
            )
