"""Alibaba Cloud request signatures: RPC version 1.0 (HMAC-SHA1) and V3 (ACS3-HMAC-SHA256).
Pure functions, no I/O.

Shared by the client (to sign V1) and the emulator (to verify V1 and V3), so they agree by
construction; the tests check both against the official SDKs' signers (the V3 signer the
tests use lives in ``tests/cloud/v3_signer.py``).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import random
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NamedTuple
from urllib.parse import quote

API_VERSION = "2019-02-14"
SIGNATURE_METHOD = "HMAC-SHA1"
SIGNATURE_VERSION = "1.0"
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


# Most names and values (actions, ids, versions) need no encoding; checking that is several
# times cheaper than ``quote``, and a call encodes each of its ~12 parameters twice.
_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*")


def percent_encode(value: str) -> str:
    """RFC 3986 encoding as the service wants it: only ``A-Z a-z 0-9 - _ . ~`` stay."""
    if _UNRESERVED.fullmatch(value):
        return value
    return quote(value, safe="-_.~", encoding="utf-8")


def encoded_pairs(params: Mapping[str, str]) -> dict[str, str]:
    """Each name's ``name=value``, both percent-encoded, in ``params``' order: what both the
    canonical query and the form body are joined from, so a call encodes each pair once."""
    # percent_encode inlined: a call is most of the cost of a name that needs no encoding.
    unreserved = _UNRESERVED.fullmatch
    return {
        name: (name if unreserved(name) else quote(name, safe="-_.~", encoding="utf-8"))
        + "="
        + (value if unreserved(value) else quote(value, safe="-_.~", encoding="utf-8"))
        for name, value in params.items()
    }


def canonical_query(params: Mapping[str, str]) -> str:
    return _canonical_query(encoded_pairs(params))


def _canonical_query(pairs: Mapping[str, str]) -> str:
    # Sorting str by code point equals sorting their UTF-8 bytes, which is what the service does.
    return "&".join([pairs[name] for name in sorted(pairs)])


def string_to_sign(method: str, params: Mapping[str, str]) -> str:
    """Every parameter but ``Signature``, canonicalised, behind the HTTP method and ``/``."""
    unsigned = {name: value for name, value in params.items() if name != "Signature"}
    return _string_to_sign(method, encoded_pairs(unsigned))


def _string_to_sign(method: str, pairs: Mapping[str, str]) -> str:
    """``string_to_sign`` from the encoded pairs of every parameter but ``Signature``."""
    return f"{method.upper()}&%2F&{_encode_canonical(_canonical_query(pairs))}"


def _encode_canonical(query: str) -> str:
    """``percent_encode`` of a canonical query, which holds only unreserved characters, ``%XX``
    escapes and the ``=``/``&`` between them: those three are all that can need encoding."""
    return query.replace("%", "%25").replace("=", "%3D").replace("&", "%26")


@functools.lru_cache(maxsize=8)
def _keyed_sha1(access_key_secret: str) -> hmac.HMAC:
    """The HMAC keyed with a secret, copied for each signature: keying it costs as much as
    hashing a whole request, and a run signs thousands with one or two secrets."""
    return hmac.new((access_key_secret + "&").encode("utf-8"), digestmod=hashlib.sha1)


def signature_for(text_to_sign: str, access_key_secret: str) -> str:
    mac = _keyed_sha1(access_key_secret).copy()
    mac.update(text_to_sign.encode("utf-8"))
    return base64.b64encode(mac.digest()).decode("ascii")


def sign(method: str, params: Mapping[str, str], access_key_secret: str) -> str:
    return signature_for(string_to_sign(method, params), access_key_secret)


def format_timestamp(moment: datetime | None = None) -> str:
    if moment is None:
        # Every call stamps the current time; ``time`` does it without building a datetime.
        return time.strftime(TIMESTAMP_FORMAT, time.gmtime())
    return moment.astimezone(UTC).strftime(TIMESTAMP_FORMAT)


def parse_timestamp(text: str) -> datetime:
    """Raises ValueError for anything that is not ``YYYY-MM-DDThh:mm:ssZ``."""
    return datetime.strptime(text, TIMESTAMP_FORMAT).replace(tzinfo=UTC)


def _fresh_nonce() -> str:
    """32 hex digits unique per request (what uuid4().hex gives). A nonce guards against
    replays and needs no secrecy (the signature covers it), so the module's generator (seeded
    from the OS, reseeded in a forked child) serves: ``uuid4`` reads the OS's random source
    on every call, a system call that releases the GIL to nine workers."""
    return f"{random.getrandbits(128):032x}"


class SignedForm(NamedTuple):
    """A call's signed parameters and the same as a form body (RFC 3986 encoded, a space as
    ``%20``, which form decoding reads as ``+``), in the parameters' order."""

    params: dict[str, str]
    body: bytes


def form_body(params: Mapping[str, str]) -> bytes:
    """``params`` as a form body, encoded as the signature encodes them (several times cheaper
    than ``urlencode``)."""
    return "&".join(encoded_pairs(params).values()).encode("ascii")


def signed_form(
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
) -> SignedForm:
    """The action's parameters plus the common ones, with ``Signature`` added last, and their
    form body: each parameter encoded once for both."""
    signed: dict[str, str] = {
        "Action": action,
        "Format": response_format,
        "Version": version,
        "AccessKeyId": access_key_id,
        "SignatureMethod": SIGNATURE_METHOD,
        "SignatureVersion": SIGNATURE_VERSION,
        "SignatureNonce": nonce or _fresh_nonce(),
        "Timestamp": timestamp or format_timestamp(),
    }
    if region_id is not None:
        signed["RegionId"] = region_id
    if security_token:
        signed["SecurityToken"] = security_token
    signed.update(params)
    if "Signature" in signed:
        # A given one keeps its place and is left out of the text signed, as ``sign`` does.
        signed["Signature"] = sign(method, signed, access_key_secret)
        return SignedForm(signed, form_body(signed))
    pairs = encoded_pairs(signed)
    signature = signature_for(_string_to_sign(method, pairs), access_key_secret)
    signed["Signature"] = signature
    pairs["Signature"] = f"Signature={percent_encode(signature)}"
    return SignedForm(signed, "&".join(pairs.values()).encode("ascii"))


# -- V3: ACS3-HMAC-SHA256 in an Authorization header --------------------------------------------
#
# V3 moves the common parameters into x-acs-* headers and signs a canonical request (method, URI,
# query, headers, body hash) instead of the parameter list. For RPC actions over V3 the action's
# own parameters still travel in the query string or a form body.

V3_ALGORITHM = "ACS3-HMAC-SHA256"
V3_HEADER_PREFIX = "x-acs-"


def content_sha256(body: bytes) -> str:
    """The ``x-acs-content-sha256`` value: lower-case hex SHA-256 of the exact body bytes."""
    return hashlib.sha256(body).hexdigest()


def canonical_uri(path: str) -> str:
    """The decoded path, each ``/``-separated segment percent-encoded; RPC actions use ``/``."""
    return "/".join(percent_encode(segment) for segment in path.split("/")) or "/"


def must_sign(header_name: str) -> bool:
    """Headers the documentation requires in the signature when present."""
    name = header_name.lower()
    return name in ("host", "content-type") or name.startswith(V3_HEADER_PREFIX)


def canonical_headers(headers: Iterable[tuple[str, str]]) -> tuple[str, str]:
    """``(canonical header block, signed header list)`` for the headers to sign.

    Names are lower-cased and sorted, values trimmed; a name given twice (a repeated header, or
    two spellings) gets its values sorted and joined with ``,``. Each block line ends in ``\n``.
    """
    values: dict[str, list[str]] = {}
    for name, value in headers:
        values.setdefault(name.lower(), []).append(value.strip())
    names = sorted(values)
    block = "".join(f"{name}:{','.join(sorted(values[name]))}\n" for name in names)
    return block, ";".join(names)


def canonical_request_v3(
    method: str,
    path: str,
    query: Mapping[str, str],
    headers: Iterable[tuple[str, str]],
    hashed_payload: str,
) -> str:
    """Method, URI, query (sorted, RFC 3986 encoded, as in V1), headers, signed list, body hash."""
    block, signed = canonical_headers(headers)
    return "\n".join(
        (method.upper(), canonical_uri(path), canonical_query(query), block, signed, hashed_payload)
    )


def string_to_sign_v3(canonical_request: str) -> str:
    digest = hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()
    return f"{V3_ALGORITHM}\n{digest}"


def signature_v3(text_to_sign: str, access_key_secret: str) -> str:
    """Lower-case hex HMAC-SHA256 keyed with the bare secret (no ``&`` as in V1)."""
    key = access_key_secret.encode("utf-8")
    return hmac.new(key, text_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class V3Authorization:
    """The parts of an ``Authorization: ACS3-... Credential=..,SignedHeaders=..,Signature=..``."""

    algorithm: str
    access_key_id: str
    signed_headers: tuple[str, ...]
    signature: str


def parse_authorization(value: str) -> V3Authorization:
    """Raises ValueError when a part is missing or the header is not ``ALGORITHM k=v,k=v,k=v``."""
    algorithm, _, rest = value.strip().partition(" ")
    fields: dict[str, str] = {}
    for part in rest.split(","):
        name, sep, field_value = part.strip().partition("=")
        if not sep:
            raise ValueError(f"malformed Authorization part {part.strip()!r}")
        fields[name] = field_value.strip()
    try:
        credential, signed, signature = (
            fields["Credential"],
            fields["SignedHeaders"],
            fields["Signature"],
        )
    except KeyError as exc:
        raise ValueError(f"Authorization lacks {exc.args[0]}") from exc
    if not (algorithm and credential and signed and signature):
        raise ValueError("Authorization has an empty part")
    return V3Authorization(algorithm, credential, tuple(signed.split(";")), signature)
