"""A V3 (ACS3-HMAC-SHA256) request signer for the tests: the tool itself signs V1 only; the
emulator verifies V3 with the canonical-request pieces in ``reconciler.cloud.signing``."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from reconciler.cloud import signing


def header_value(authorization: signing.V3Authorization) -> str:
    """The ``Authorization`` header text ``signing.parse_authorization`` reads back."""
    return (
        f"{authorization.algorithm} Credential={authorization.access_key_id},"
        f"SignedHeaders={';'.join(authorization.signed_headers)},"
        f"Signature={authorization.signature}"
    )


def signed_headers_v3(
    method: str,
    action: str,
    *,
    host: str,
    access_key_id: str,
    access_key_secret: str,
    query: Mapping[str, str] | None = None,
    body: bytes = b"",
    content_type: str | None = None,
    path: str = "/",
    security_token: str | None = None,
    version: str = signing.API_VERSION,
    nonce: str | None = None,
    date: str | None = None,
) -> dict[str, str]:
    """The request headers of a V3 call, ``Authorization`` included; the query and body are sent
    as given (the body exactly as these bytes, since its hash is signed)."""
    headers = {
        "host": host,
        "x-acs-action": action,
        "x-acs-version": version,
        "x-acs-date": date or signing.format_timestamp(),
        "x-acs-signature-nonce": nonce or uuid.uuid4().hex,
        "x-acs-content-sha256": signing.content_sha256(body),
    }
    if content_type is not None:
        headers["content-type"] = content_type
    if security_token:
        headers["x-acs-security-token"] = security_token
    to_sign = [(name, value) for name, value in headers.items() if signing.must_sign(name)]
    canonical = signing.canonical_request_v3(
        method, path, query or {}, to_sign, headers["x-acs-content-sha256"]
    )
    signature = signing.signature_v3(signing.string_to_sign_v3(canonical), access_key_secret)
    _, signed_names = signing.canonical_headers(to_sign)
    authorization = signing.V3Authorization(
        signing.V3_ALGORITHM, access_key_id, tuple(signed_names.split(";")), signature
    )
    headers["Authorization"] = header_value(authorization)
    return headers
