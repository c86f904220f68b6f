"""Authentication as the service does it: both wire shapes, GET, formats, and every rejection."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest
import requests

from reconciler.cloud.signing import format_timestamp, signed_form, string_to_sign
from tests.fixtures.wire import call, error_code, ok

LIST = "OnsMqttGroupIdList"


def _params(emulator):
    return {"InstanceId": emulator.instance_id}


def _signed_post(emulator):
    """The list call's parameters, signed for POST with the test account."""
    return signed_form(
        "POST",
        LIST,
        _params(emulator),
        access_key_id=emulator.access_key_id,
        access_key_secret=emulator.access_key_secret,
    ).params


@pytest.mark.parametrize(("method", "in_body"), [("POST", True), ("POST", False), ("GET", False)])
def test_accepts_every_wire_shape(emulator, method, in_body):
    body = ok(call(emulator, LIST, _params(emulator), method=method, in_body=in_body))
    assert body["Data"] == {"MqttGroupIdDo": []}


def test_accepts_parameters_split_between_query_and_body(emulator):
    signed = _signed_post(emulator)
    common = {k: v for k, v in signed.items() if k != "InstanceId"}
    response = requests.post(
        emulator.url + "/", params=common, data={"InstanceId": emulator.instance_id}, timeout=10
    )
    ok(response)


def test_signature_covers_the_method(emulator):
    signed = _signed_post(emulator)
    response = requests.get(emulator.url + "/", params=signed, timeout=10)
    assert error_code(response, 400) == "SignatureDoesNotMatch"


def test_wrong_secret_names_the_server_string_to_sign_after_a_colon(emulator):
    response = call(emulator, LIST, _params(emulator), secret="not-the-secret", nonce="n-1")
    assert error_code(response, 400) == "SignatureDoesNotMatch"
    message = response.json()["Message"]
    # The core SDK splits on ":" and compares element 1 with its own string to sign.
    server_text = message.split(":")[1]
    assert server_text.startswith("POST&%2F&")
    assert "SignatureNonce%3Dn-1" in server_text


def test_server_string_to_sign_matches_the_signer(emulator):
    timestamp = format_timestamp()
    response = call(emulator, LIST, _params(emulator), secret="x", nonce="abc", timestamp=timestamp)
    expected = signed_form(
        "POST",
        LIST,
        _params(emulator),
        access_key_id=emulator.access_key_id,
        access_key_secret="x",
        nonce="abc",
        timestamp=timestamp,
    ).params
    assert response.json()["Message"].split(":")[1] == string_to_sign("POST", expected)


def test_unknown_access_key_is_404(emulator):
    response = call(emulator, LIST, _params(emulator), key="LTAI-nobody")
    assert error_code(response, 404) == "InvalidAccessKeyId.NotFound"


def test_timestamp_more_than_15_minutes_off_is_expired(emulator):
    for delta in (timedelta(minutes=-16), timedelta(minutes=16)):
        stamp = format_timestamp(datetime.now(UTC) + delta)
        response = call(emulator, LIST, _params(emulator), timestamp=stamp)
        assert error_code(response, 400) == "InvalidTimeStamp.Expired"
    ok(
        call(
            emulator,
            LIST,
            _params(emulator),
            timestamp=format_timestamp(datetime.now(UTC) - timedelta(minutes=14)),
        )
    )


def test_malformed_timestamp_is_rejected(emulator):
    response = call(emulator, LIST, _params(emulator), timestamp="2024-01-01 00:00:00")
    assert error_code(response, 400) == "InvalidTimeStamp.Format"


def test_reused_nonce_is_rejected_but_a_failed_signature_does_not_burn_it(emulator):
    assert error_code(call(emulator, LIST, _params(emulator), secret="bad", nonce="once"), 400) == (
        "SignatureDoesNotMatch"
    )
    ok(call(emulator, LIST, _params(emulator), nonce="once"))
    response = call(emulator, LIST, _params(emulator), nonce="once")
    assert error_code(response, 400) == "SignatureNonceUsed"


def test_missing_common_parameter_is_named(emulator):
    response = call(emulator, LIST, _params(emulator), tamper={"Timestamp": None})
    assert error_code(response, 400) == "MissingParameter"
    assert "Timestamp" in response.json()["Message"]


def test_wrong_version_and_signature_method_are_rejected(emulator):
    assert (
        error_code(call(emulator, LIST, _params(emulator), tamper={"Version": "2020-01-01"}), 400)
        == "InvalidVersion"
    )
    response = call(emulator, LIST, _params(emulator), tamper={"SignatureMethod": "HMAC-SHA256"})
    assert error_code(response, 400) == "InvalidSignatureMethod"


def test_unknown_action_is_404(emulator):
    response = call(emulator, "OnsMqttTopicCreate", _params(emulator))
    assert error_code(response, 404) == "InvalidAction.NotFound"


def test_sts_token_declared_for_the_key_is_accepted(emulator):
    emulator.store.add_account("STS.key", "sts-secret", sts_tokens=["tok-1"])
    ok(
        call(
            emulator,
            LIST,
            _params(emulator),
            key="STS.key",
            secret="sts-secret",
            security_token="tok-1",
        )
    )


@pytest.mark.parametrize(
    ("token", "code"),
    [
        (None, "MissingSecurityToken"),
        ("tok-other", "InvalidSecurityToken.MismatchWithAccessKey"),
        ("tok-old", "InvalidSecurityToken.Expired"),
    ],
)
def test_sts_token_is_checked(emulator, token, code):
    emulator.store.add_account("STS.key", "sts-secret", sts_tokens=["tok-1", ("tok-old", 1)])
    response = call(
        emulator, LIST, _params(emulator), key="STS.key", secret="sts-secret", security_token=token
    )
    assert error_code(response, 400) == code


def test_token_sent_for_a_plain_key_is_rejected(emulator):
    response = call(emulator, LIST, _params(emulator), security_token="tok-1")
    assert error_code(response, 400) == "InvalidSecurityToken.MismatchWithAccessKey"


@pytest.mark.parametrize("fmt", ["XML", "xml", "Xml"])
def test_xml_success_has_action_response_root(emulator, fmt):
    emulator.store.add_group(emulator.instance_id, "GID_xml1")
    response = call(emulator, LIST, _params(emulator), response_format=fmt)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/xml")
    root = ET.fromstring(response.content)
    assert root.tag == "OnsMqttGroupIdListResponse"
    assert root.findtext("RequestId")
    row = root.find("Data/MqttGroupIdDo")
    assert row is not None
    assert row.findtext("GroupId") == "GID_xml1"
    assert row.findtext("IndependentNaming") == "true"


def test_xml_error_carries_request_id_host_id_code_message(emulator):
    response = call(emulator, LIST, _params(emulator), response_format="XML", key="LTAI-nobody")
    assert response.status_code == 404
    root = ET.fromstring(response.content)
    assert root.tag == "Error"
    assert root.findtext("Code") == "InvalidAccessKeyId.NotFound"
    for name in ("RequestId", "HostId", "Message"):
        assert root.findtext(name)


def test_format_json_in_any_case(emulator):
    for fmt in ("json", "JSON", "Json"):
        assert (
            call(emulator, LIST, _params(emulator), response_format=fmt)
            .headers["Content-Type"]
            .startswith("application/json")
        )
