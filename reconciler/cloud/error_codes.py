"""Turn an error answer of the service into the matching reconciler.errors class.

One table serves both API generations: the ONS 2019-02-14 codes (``BIZ_*``) and the OnsMqtt
2020-04-20 ones (``GroupIdAlreadyExsited``, ``InstanceNotFound``, ``SystemOverFlow``, ...) do not
collide, and the gateway codes (``Throttling.User``, signatures) are common to both.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from reconciler.errors import (
    AlreadyExistsError,
    AuthError,
    CloudApiError,
    FeatureNotSupportedError,
    NotFoundError,
    ParameterError,
    RetryableApiError,
)

# The codes each class gets beyond its patterns in ``error_class_for`` (every BIZ_*_EXISTED,
# BIZ_*_NOT_FOUND, Throttling*, Invalid*/Missing* parameter code is matched by pattern).
# "Exsited" is the 2020-04-20 service's own spelling.
ALREADY_EXISTS_CODES = frozenset({"GroupIdAlreadyExsited"})
NOT_FOUND_CODES = frozenset({"InstanceNotFound"})
# An edition without the action's feature (custom authentication on Basic or Standard).
FEATURE_NOT_SUPPORTED_CODES = frozenset({"ApiNotSupport"})
RETRYABLE_CODES = frozenset(
    {"ServiceUnavailable", "InternalError", "ONS_SYSTEM_ERROR", "SystemOverFlow"}
)
# The answers that mean "slow down" (the others in RETRYABLE_CODES are faults).
THROTTLING_CODES = frozenset({"SystemOverFlow"})
# MissingSecurityToken (temporary credentials sent without their token) is checked before the
# ``Missing`` parameter prefix: the credentials are at fault, not the call's parameters.
AUTH_CODES = frozenset(
    {"SignatureDoesNotMatch", "SignatureNonceUsed", "IncompleteSignature", "MissingSecurityToken"}
)
# InvalidSecurityToken.Expired, .MismatchWithAccessKey, .Malformed: all the credentials' fault.
AUTH_PREFIXES = ("InvalidAccessKeyId", "InvalidTimeStamp", "InvalidSecurityToken", "Forbidden")
# Temporary credentials the service says have expired: worth one refresh (``RpcClient.call``).
EXPIRED_TOKEN_CODE = "InvalidSecurityToken.Expired"  # noqa: S105 - an error code
PARAMETER_CODES = frozenset(
    {"BIZ_FIELD_CHECK_INVALID", "ParameterFieldCheckFailed", "ParameterCheckFailed"}
)
# The gateway says ``Missing<Param>`` (MissingInstanceId) for the 2020-04-20 actions.
PARAMETER_PREFIXES = ("InvalidParameter", "Missing")
# A shared-namespace name taken by another instance or user: a refusal, not "already exists".
NAME_TAKEN_CODE = "GroupIdAlreadyUsedByOtherUsers"
RETRY_AFTER_HEADER = "x-acs-retry-after"
# Not an error for a count query: the service's way of saying "zero clients online".
NO_CLIENT_ONLINE_CODE = "BIZ_CONSUMER_NOT_ONLINE"
MAX_MESSAGE_CHARS = 300


def error_class_for(code: str, status: int) -> type[CloudApiError]:
    if code in ALREADY_EXISTS_CODES or (code.startswith("BIZ_") and code.endswith("_EXISTED")):
        return AlreadyExistsError
    if code in FEATURE_NOT_SUPPORTED_CODES:
        return FeatureNotSupportedError
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


def is_throttling(code: str) -> bool:
    return code.startswith("Throttling") or code in THROTTLING_CODES


def retry_after_seconds(value: str | None) -> float | None:
    """The ``x-acs-retry-after`` header in seconds: the SDKs read it as milliseconds (their
    sleep takes ms); a missing, malformed or non-positive value is ignored as they ignore it."""
    if value is None:
        return None
    try:
        millis = int(value.strip())
    except ValueError:
        return None
    return millis / 1000.0 if millis > 0 else None


def error_from_response(
    action: str,
    status: int,
    body: bytes,
    *,
    redact: Callable[[str], str] = str,
    retry_after: float | None = None,
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
        action=action,
        status=status,
        code=code,
        message=redact(message),
        request_id=request_id,
        retry_after=retry_after,
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
