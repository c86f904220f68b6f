"""Turn an error answer of the service into the matching reconciler.errors class."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from reconciler.errors import (
    AlreadyExistsError,
    AuthError,
    CloudApiError,
    NotFoundError,
    ParameterError,
    RetryableApiError,
)

ALREADY_EXISTS_CODES = frozenset({"BIZ_PUBLISHER_EXISTED", "BIZ_SUBSCRIPTION_EXISTED"})
NOT_FOUND_CODES = frozenset(
    {
        "BIZ_SUBSCRIPTION_NOT_FOUND",
        "BIZ_PUBLISH_INFO_NOT_FOUND",
        "BIZ_TOPIC_NOT_FOUND",
        "BIZ_INSTANCE_NOT_FOUND",
        "BIZ_REGION_NOT_FOUND",
    }
)
RETRYABLE_CODES = frozenset(
    {
        "Throttling",
        "Throttling.User",
        "Throttling.Api",
        "Throttling.Concurrent",
        "ServiceUnavailable",
        "InternalError",
        "ONS_SYSTEM_ERROR",
    }
)
AUTH_CODES = frozenset({"SignatureDoesNotMatch", "SignatureNonceUsed", "IncompleteSignature"})
AUTH_PREFIXES = ("InvalidAccessKeyId", "InvalidTimeStamp", "InvalidSecurityToken", "Forbidden")
PARAMETER_CODES = frozenset({"MissingParameter", "BIZ_FIELD_CHECK_INVALID"})
PARAMETER_PREFIXES = ("InvalidParameter", "MissingParameter")
# Not an error for a count query: the service's way of saying "zero clients online".
NO_CLIENT_ONLINE_CODE = "BIZ_CONSUMER_NOT_ONLINE"
MAX_MESSAGE_CHARS = 300


def error_class_for(code: str, status: int) -> type[CloudApiError]:
    if code in ALREADY_EXISTS_CODES or (code.startswith("BIZ_") and code.endswith("_EXISTED")):
        return AlreadyExistsError
    if code in NOT_FOUND_CODES or (code.startswith("BIZ_") and code.endswith("_NOT_FOUND")):
        return NotFoundError
    if code in RETRYABLE_CODES or code.startswith("Throttling"):
        return RetryableApiError
    if code in AUTH_CODES or code.startswith(AUTH_PREFIXES):
        return AuthError
    if code in PARAMETER_CODES or code.startswith(PARAMETER_PREFIXES):
        return ParameterError
    if status >= 500:
        return RetryableApiError
    return CloudApiError


def error_from_response(
    action: str, status: int, body: bytes, *, redact: Callable[[str], str] = str
) -> CloudApiError:
    """The error for a non-2xx answer; a body that is not the JSON error shape still gives one.

    ``redact`` masks secrets in the message: a SignatureDoesNotMatch message quotes the
    server's string to sign, which holds the STS token.
    """
    fields = _json_object(body)
    code = _field(fields, "Code")
    message = _field(fields, "Message")
    request_id = _field(fields, "RequestId") or None
    if not code:
        code = f"HTTP{status}"
        message = message or _snippet(body) or "the service answered without an error body"
    cls = error_class_for(code, status)
    return cls(
        action=action, status=status, code=code, message=redact(message), request_id=request_id
    )


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _field(fields: dict[str, Any], name: str) -> str:
    value = fields.get(name)
    return "" if value is None else str(value)


def _snippet(body: bytes) -> str:
    text = " ".join(body.decode("utf-8", errors="replace").split())
    if len(text) > MAX_MESSAGE_CHARS:
        text = text[:MAX_MESSAGE_CHARS] + "..."
    return f"non-JSON error body: {text}" if text else ""
