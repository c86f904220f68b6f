"""A credentials URI (``ALIBABA_CLOUD_CREDENTIALS_URI``), as a sidecar or a credentials
broker serves one: ``GET /credentials`` answers JSON ``Code: "Success"``, ``AccessKeyId``,
``AccessKeySecret``, ``SecurityToken`` and ``Expiration`` for the role the fixture names
(``sts.credentials_uri_role``), the same credentials until half their lifetime has passed;
404 with a ``Code`` other than Success when no role is set."""

from __future__ import annotations

import json

from reconciler.emulator.issuing import CredentialIssuer, expiration_text
from reconciler.emulator.protocol import Encoded
from reconciler.emulator.store import EmulatorStore
from reconciler.emulator.store.roles import parse_role_arn

PATH = "/credentials"
SOURCE = "credentials-uri"


def _json(status: int, body: dict[str, str]) -> tuple[int, Encoded]:
    return status, Encoded(json.dumps(body).encode("utf-8"), "application/json;charset=utf-8")


class CredentialsUriEndpoint:
    def __init__(self, store: EmulatorStore, issuer: CredentialIssuer) -> None:
        self._store = store
        self._issuer = issuer

    def answer(self, method: str) -> tuple[int, Encoded]:
        if method != "GET":
            return _json(405, {"Code": "MethodNotAllowed", "Message": "Use GET."})
        arn = self._store.sts_settings().credentials_uri_role
        parsed = None if arn is None else parse_role_arn(arn)
        role = None if parsed is None else self._store.role(*parsed)
        if role is None:
            return _json(
                404,
                {"Code": "RoleNotFound", "Message": "The emulator serves no credentials URI role."},
            )
        issued = self._issuer.held_or_new(role, source=SOURCE)
        return _json(
            200,
            {
                "Code": "Success",
                "AccessKeyId": issued.access_key_id,
                "AccessKeySecret": issued.access_key_secret,
                "SecurityToken": issued.security_token,
                "Expiration": expiration_text(issued.expires_ms),
            },
        )
