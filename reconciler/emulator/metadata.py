"""The ECS instance metadata service's RAM-role endpoints, as an instance with a RAM role sees
them (served under ``/latest/`` on the emulator's HTTP port):

- ``PUT /latest/api/token`` with ``X-aliyun-ecs-metadata-token-ttl-seconds`` (1 to 21600): a
  metadata token (IMDSv2), valid that long; a missing or bad TTL is 400.
- ``GET /latest/meta-data/ram/security-credentials/``: the instance's role name (404 when the
  instance has no role).
- ``GET /latest/meta-data/ram/security-credentials/<role>``: JSON ``Code: "Success"``,
  ``AccessKeyId``, ``AccessKeySecret``, ``SecurityToken``, ``Expiration``, ``LastUpdated``
  (404 for another role name).

A GET may carry ``X-aliyun-ecs-metadata-token``: an unknown or expired one is 401. Without one
it is answered (normal mode, as the service's default) unless the emulator is hardened
(``metadata_hardened``), where it is 403. The credentials are the role's, issued by
``CredentialIssuer.held_or_new``: the same ones until half their lifetime has passed.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable

from reconciler.emulator.issuing import CredentialIssuer, expiration_text
from reconciler.emulator.protocol import Encoded
from reconciler.emulator.store import EmulatorStore, RoleRecord
from reconciler.emulator.store.roles import parse_role_arn

PREFIX = "/latest/"
TOKEN_PATH = "/latest/api/token"  # noqa: S105 (a path)
CREDENTIALS_PATH = "/latest/meta-data/ram/security-credentials/"
TTL_HEADER = "X-aliyun-ecs-metadata-token-ttl-seconds"
TOKEN_HEADER = "X-aliyun-ecs-metadata-token"  # noqa: S105 (a header name)
MAX_TOKEN_TTL_SECONDS = 21_600
SOURCE = "metadata"
_TEXT = "text/plain;charset=utf-8"

Header = Callable[[str], str | None]


def endpoint_name(path: str) -> str:
    """What a request asks for, as the server counts it."""
    if path == TOKEN_PATH:
        return "metadata-token"
    if path == CREDENTIALS_PATH:
        return "metadata-role"
    if path.startswith(CREDENTIALS_PATH):
        return "metadata-credentials"
    return "metadata"


def _text(status: int, text: str) -> tuple[int, Encoded]:
    return status, Encoded(text.encode("utf-8"), _TEXT)


class MetadataTokens:
    """Issued metadata tokens and their expiry (monotonic seconds), in memory: a restarted
    metadata service knows none, as a rebooted instance's does not."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._expiry: dict[str, float] = {}
        self._lock = threading.Lock()

    def issue(self, ttl_seconds: int) -> str:
        token = secrets.token_urlsafe(32)
        with self._lock:
            now = self._clock()
            self._expiry = {t: at for t, at in self._expiry.items() if at > now}
            self._expiry[token] = now + ttl_seconds
        return token

    def valid(self, token: str) -> bool:
        with self._lock:
            expires = self._expiry.get(token)
        return expires is not None and expires > self._clock()


class MetadataEndpoint:
    def __init__(self, store: EmulatorStore, issuer: CredentialIssuer) -> None:
        self._store = store
        self._issuer = issuer
        self._tokens = MetadataTokens()

    def answer(self, method: str, path: str, header: Header) -> tuple[int, Encoded]:
        """The answer to a request for ``path`` (under ``PREFIX``)."""
        if path == TOKEN_PATH:
            if method != "PUT":
                return _text(405, "405 Method Not Allowed")
            return self._token(header(TTL_HEADER))
        if method != "GET":
            return _text(405, "405 Method Not Allowed")
        refused = self._refused(header(TOKEN_HEADER))
        if refused is not None:
            return refused
        if not path.startswith(CREDENTIALS_PATH):
            return _text(404, "404 Not Found")
        role = self._instance_role()
        asked = path.removeprefix(CREDENTIALS_PATH)
        if role is None or (asked and asked != role.name):
            return _text(404, "404 Not Found")
        if not asked:
            return _text(200, role.name)
        issued = self._issuer.held_or_new(role, source=SOURCE)
        body = {
            "AccessKeyId": issued.access_key_id,
            "AccessKeySecret": issued.access_key_secret,
            "Expiration": expiration_text(issued.expires_ms),
            "SecurityToken": issued.security_token,
            "LastUpdated": expiration_text(issued.issued_ms),
            "Code": "Success",
        }
        return 200, Encoded(json.dumps(body).encode("utf-8"), _TEXT)

    def _token(self, ttl_text: str | None) -> tuple[int, Encoded]:
        try:
            ttl = int(ttl_text or "")
        except ValueError:
            ttl = 0
        if not 1 <= ttl <= MAX_TOKEN_TTL_SECONDS:
            return _text(
                400, f"{TTL_HEADER} must be a whole number of seconds, 1 to {MAX_TOKEN_TTL_SECONDS}"
            )
        return _text(200, self._tokens.issue(ttl))

    def _refused(self, token: str | None) -> tuple[int, Encoded] | None:
        if token is not None:
            return None if self._tokens.valid(token) else _text(401, "401 Unauthorized")
        if self._store.sts_settings().metadata_hardened:
            return _text(403, "403 Forbidden: a metadata token is required (hardened mode)")
        return None

    def _instance_role(self) -> RoleRecord | None:
        arn = self._store.sts_settings().instance_role
        parsed = None if arn is None else parse_role_arn(arn)
        return None if parsed is None else self._store.role(*parsed)
