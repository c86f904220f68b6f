"""Alibaba Cloud RPC signature, version 1.0 (HMAC-SHA1). Pure functions, no I/O.

Shared by the client (to sign) and the emulator (to verify), so both agree by construction;
the tests check both against the official SDK's signer.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import quote

API_VERSION = "2019-02-14"
SIGNATURE_METHOD = "HMAC-SHA1"
SIGNATURE_VERSION = "1.0"
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def percent_encode(value: str) -> str:
    """RFC 3986 encoding as the service wants it: only ``A-Z a-z 0-9 - _ . ~`` stay."""
    return quote(value, safe="-_.~", encoding="utf-8")


def canonical_query(params: Mapping[str, str]) -> str:
    # Sorting str by code point equals sorting their UTF-8 bytes, which is what the service does.
    return "&".join(
        f"{percent_encode(name)}={percent_encode(params[name])}" for name in sorted(params)
    )


def string_to_sign(method: str, params: Mapping[str, str]) -> str:
    """Every parameter but ``Signature``, canonicalised, behind the HTTP method and ``/``."""
    unsigned = {name: value for name, value in params.items() if name != "Signature"}
    return f"{method.upper()}&{percent_encode('/')}&{percent_encode(canonical_query(unsigned))}"


def signature_for(text_to_sign: str, access_key_secret: str) -> str:
    key = (access_key_secret + "&").encode("utf-8")
    digest = hmac.new(key, text_to_sign.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def sign(method: str, params: Mapping[str, str], access_key_secret: str) -> str:
    return signature_for(string_to_sign(method, params), access_key_secret)


def format_timestamp(moment: datetime | None = None) -> str:
    return (moment or datetime.now(UTC)).astimezone(UTC).strftime(TIMESTAMP_FORMAT)


def parse_timestamp(text: str) -> datetime:
    """Raises ValueError for anything that is not ``YYYY-MM-DDThh:mm:ssZ``."""
    return datetime.strptime(text, TIMESTAMP_FORMAT).replace(tzinfo=UTC)


def signed_parameters(
    method: str,
    action: str,
    params: Mapping[str, str],
    *,
    access_key_id: str,
    access_key_secret: str,
    region_id: str | None = None,
    security_token: str | None = None,
    response_format: str = "JSON",
    version: str = API_VERSION,
    nonce: str | None = None,
    timestamp: str | None = None,
) -> dict[str, str]:
    """The action's parameters plus the common ones, with ``Signature`` added last."""
    signed: dict[str, str] = {
        "Action": action,
        "Format": response_format,
        "Version": version,
        "AccessKeyId": access_key_id,
        "SignatureMethod": SIGNATURE_METHOD,
        "SignatureVersion": SIGNATURE_VERSION,
        "SignatureNonce": nonce or uuid.uuid4().hex,
        "Timestamp": timestamp or format_timestamp(),
    }
    if region_id is not None:
        signed["RegionId"] = region_id
    if security_token:
        signed["SecurityToken"] = security_token
    signed.update(params)
    signed["Signature"] = sign(method, signed, access_key_secret)
    return signed
