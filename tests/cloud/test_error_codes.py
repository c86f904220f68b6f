from __future__ import annotations

import json

import pytest

from reconciler.cloud.error_codes import error_class_for, error_from_response
from reconciler.errors import (
    AlreadyExistsError,
    AuthError,
    CloudApiError,
    NotFoundError,
    ParameterError,
    RetryableApiError,
)


@pytest.mark.parametrize(
    ("code", "status", "cls"),
    [
        ("BIZ_PUBLISHER_EXISTED", 400, AlreadyExistsError),
        ("BIZ_SUBSCRIPTION_EXISTED", 400, AlreadyExistsError),
        ("BIZ_SUBSCRIPTION_NOT_FOUND", 400, NotFoundError),
        ("BIZ_PUBLISH_INFO_NOT_FOUND", 400, NotFoundError),
        ("BIZ_TOPIC_NOT_FOUND", 400, NotFoundError),
        ("BIZ_INSTANCE_NOT_FOUND", 404, NotFoundError),
        ("BIZ_REGION_NOT_FOUND", 400, NotFoundError),
        ("Throttling", 400, RetryableApiError),
        ("Throttling.User", 400, RetryableApiError),
        ("Throttling.Api", 400, RetryableApiError),
        ("ServiceUnavailable", 503, RetryableApiError),
        ("InternalError", 500, RetryableApiError),
        ("ONS_SYSTEM_ERROR", 500, RetryableApiError),
        ("SomethingNew", 502, RetryableApiError),
        ("InvalidAccessKeyId.NotFound", 404, AuthError),
        ("InvalidAccessKeyId.Inactive", 400, AuthError),
        ("SignatureDoesNotMatch", 400, AuthError),
        ("InvalidTimeStamp.Expired", 400, AuthError),
        ("SignatureNonceUsed", 400, AuthError),
        ("InvalidSecurityToken.Expired", 400, AuthError),
        ("InvalidSecurityToken.MismatchWithAccessKey", 400, AuthError),
        ("InvalidSecurityToken.Malformed", 400, AuthError),
        ("MissingSecurityToken", 400, AuthError),
        ("Forbidden.RAM", 403, AuthError),
        ("MissingParameter", 400, ParameterError),
        ("BIZ_FIELD_CHECK_INVALID", 400, ParameterError),
        ("InvalidParameter.GroupId", 400, ParameterError),
        ("ONS_SERVICE_UNSUPPORTED", 400, CloudApiError),
        ("EMPOWER_OWNER_CHECK_ERROR", 403, CloudApiError),
    ],
)
def test_codes_map_to_error_classes(code, status, cls):
    assert error_class_for(code, status) is cls


def test_json_error_body_fields_are_carried():
    body = json.dumps(
        {"RequestId": "R1", "HostId": "h", "Code": "BIZ_TOPIC_NOT_FOUND", "Message": "no topic"}
    )
    err = error_from_response("OnsMqttGroupIdCreate", 400, body.encode())
    assert isinstance(err, NotFoundError)
    fields = (err.action, err.status, err.code, err.api_message, err.request_id)
    assert fields == ("OnsMqttGroupIdCreate", 400, "BIZ_TOPIC_NOT_FOUND", "no topic", "R1")
    assert str(err) == (
        "OnsMqttGroupIdCreate failed: BIZ_TOPIC_NOT_FOUND (HTTP 400): no topic [RequestId R1]"
    )


@pytest.mark.parametrize("body", [b"", b"\xff\xfe", b"[1, 2]", b"Service down\n\n  now"])
def test_unreadable_error_body_still_gives_status_and_text(body):
    err = error_from_response("OnsMqttGroupIdList", 503, body)
    assert isinstance(err, RetryableApiError)
    assert err.code == "HTTP503"
    assert err.request_id is None
    assert "\n" not in str(err)


def test_long_non_json_body_is_cut():
    err = error_from_response("OnsMqttGroupIdList", 400, b"x" * 5000)
    assert len(str(err)) < 500
    assert type(err) is CloudApiError


def test_message_is_redacted():
    body = json.dumps({"Code": "SignatureDoesNotMatch", "Message": "sign:TOKEN123"}).encode()
    err = error_from_response("A", 400, body, redact=lambda s: s.replace("TOKEN123", "***"))
    assert "TOKEN123" not in str(err)
