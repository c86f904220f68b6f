"""Request authentication as the service does it: signatures V1 and V3 (ACS3-HMAC-SHA256),
timestamp window, nonces, STS tokens (declared ones, and the temporary credentials the
emulator issued, which act for their role's account)."""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

from reconciler.cloud.signing import (
    SIGNATURE_METHOD,
    SIGNATURE_VERSION,
    V3_ALGORITHM,
    V3Authorization,
    canonical_request_v3,
    content_sha256,
    must_sign,
    parse_authorization,
    parse_timestamp,
    signature_for,
    signature_v3,
    string_to_sign,
    string_to_sign_v3,
)
from reconciler.emulator.protocol import ApiError, SignedRequest, missing
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
# x-acs-action is checked before authentication, with the action itself.
_REQUIRED_V3 = (
    "host",
    "x-acs-version",
    "x-acs-date",
    "x-acs-signature-nonce",
    "x-acs-content-sha256",
)


def signature_mismatch(server_string_to_sign: str) -> ApiError:
    # The core SDK splits this message on ":" and compares the tail with its own string to
    # sign, so the colon and the exact string matter.
    return ApiError(
        400,
        "SignatureDoesNotMatch",
        "Specified signature is not matched with our calculation."
        f" server string to sign is:{server_string_to_sign}",
    )


def incomplete_signature(reason: str) -> ApiError:
    return ApiError(
        400, "IncompleteSignature", f"The request signature does not conform to standards: {reason}"
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
        """Check the request; return the AccessKeyId of the account it acts for (its own, or for
        temporary credentials the emulator issued, their role's account's) or raise the
        service's ApiError. (The version was checked when it picked the product.)"""
        for name in _REQUIRED:
            if name not in params:
                raise missing(name)
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
        secret, account = self._credential(access_key_id, params.get("SecurityToken"))
        expected_text = string_to_sign(method, params)
        if signature_for(expected_text, secret) != params["Signature"]:
            raise signature_mismatch(expected_text)
        self._check_nonce(access_key_id, params["SignatureNonce"])
        return account

    def authenticate_v3(self, request: SignedRequest) -> str:
        """Check an ``Authorization: ACS3-HMAC-SHA256`` request; return the AccessKeyId of the
        account it acts for, as ``authenticate`` does.

        The signature is recomputed over the headers the client says it signed, which must
        include host, content-type and every x-acs-* header the request carries.
        """
        authorization = _parse_v3_authorization(request.header("authorization") or "")
        headers: dict[str, str] = {}
        for name in _REQUIRED_V3:
            value = request.header(name)
            if value is None:
                raise missing(name)
            headers[name] = value
        self._check_timestamp(headers["x-acs-date"])
        signed = _signed_header_values(request, authorization)
        access_key_id = authorization.access_key_id
        secret, account = self._credential(access_key_id, request.header("x-acs-security-token"))
        if headers["x-acs-content-sha256"].lower() != content_sha256(request.body):
            raise ApiError(
                400,
                "InvalidContentSha256",
                "Specified x-acs-content-sha256 does not match the SHA-256 of the request body.",
            )
        canonical = canonical_request_v3(
            request.method, request.path, request.query, signed, headers["x-acs-content-sha256"]
        )
        expected_text = string_to_sign_v3(canonical)
        # Bytes, because compare_digest refuses str with non-ASCII characters (a junk header).
        sent = authorization.signature.lower().encode("utf-8")
        if not hmac.compare_digest(signature_v3(expected_text, secret).encode("ascii"), sent):
            raise signature_mismatch(expected_text)
        self._check_nonce(access_key_id, headers["x-acs-signature-nonce"])
        return account

    def _credential(self, access_key_id: str, token: str | None) -> tuple[str, str]:
        """The key's secret and the account it acts for, once its security token is checked:
        temporary credentials the emulator issued need theirs, unexpired; an account's key
        needs one only when the fixture declared tokens for it."""
        # An account's key first: the common case costs one look-up, as before.
        secret = self._store.account_secret(access_key_id)
        if secret is not None:
            self._check_security_token(access_key_id, token)
            return secret, access_key_id
        issued = self._store.issued(access_key_id)
        if issued is None:
            raise ApiError(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
        if not token:
            raise _missing_token()
        if not hmac.compare_digest(token.encode("utf-8"), issued.security_token.encode("utf-8")):
            raise _token_mismatch()
        if issued.expires_ms <= self._now().timestamp() * 1000:
            raise _token_expired()
        return issued.access_key_secret, issued.account_key

    def _check_nonce(self, access_key_id: str, nonce: str) -> None:
        # Checked last, so a request failing any other check does not burn its nonce.
        if not self._nonces.first_use(access_key_id, nonce):
            raise ApiError(400, "SignatureNonceUsed", "Specified signature nonce was used already.")

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
            raise _missing_token()
        if token not in tokens:
            raise _token_mismatch()
        expires = tokens[token]
        if expires is not None and expires <= self._now().timestamp() * 1000:
            raise _token_expired()


def _missing_token() -> ApiError:
    return ApiError(400, "MissingSecurityToken", "SecurityToken is mandatory for this AccessKeyId.")


def _token_mismatch() -> ApiError:
    return ApiError(
        400,
        "InvalidSecurityToken.MismatchWithAccessKey",
        "Specified SecurityToken mismatch with the AccessKey.",
    )


def _token_expired() -> ApiError:
    return ApiError(400, "InvalidSecurityToken.Expired", "Specified SecurityToken is expired.")


def _parse_v3_authorization(value: str) -> V3Authorization:
    try:
        authorization = parse_authorization(value)
    except ValueError as exc:
        raise incomplete_signature(str(exc)) from exc
    if authorization.algorithm != V3_ALGORITHM:
        raise ApiError(
            400, "InvalidSignatureMethod", "Specified signature method is not supported."
        )
    return authorization


def _signed_header_values(
    request: SignedRequest, authorization: V3Authorization
) -> list[tuple[str, str]]:
    """The (name, value) pairs of the headers the client signed, every repeat included."""
    signed = {name.lower() for name in authorization.signed_headers}
    present = {name for name, _ in request.headers}
    unsigned = sorted(name for name in present - signed if must_sign(name))
    if unsigned:
        raise incomplete_signature(f"header {unsigned[0]} must be signed")
    absent = sorted(signed - present)
    if absent:
        raise incomplete_signature(f"signed header {absent[0]} is not in the request")
    return [(name, value) for name, value in request.headers if name in signed]
