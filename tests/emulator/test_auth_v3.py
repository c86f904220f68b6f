"""Signature V3 (ACS3-HMAC-SHA256) against the emulator: the official Tea client in V3 mode, then
hand-signed requests for every rejection."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode, urlsplit

import pytest
import requests
from alibabacloud_tea_openapi.client import Client
from alibabacloud_tea_openapi.exceptions import ClientException
from alibabacloud_tea_openapi.utils_models import OpenApiRequest, Params
from darabonba.runtime import RuntimeOptions

from reconciler.cloud.signing import (
    canonical_request_v3,
    format_timestamp,
    must_sign,
    signed_form,
    string_to_sign_v3,
)
from tests.fixtures.sdk import tea_config
from tests.fixtures.v3_signer import signed_headers_v3
from tests.fixtures.wire import call, error_code, ok

LIST = "OnsMqttGroupIdList"
CREATE = "OnsMqttGroupIdCreate"
FORM = "application/x-www-form-urlencoded"


# -- the official client, signing with V3 --------------------------------------------------------


def _tea(emulator, *, secret=None, key=None, token=None):
    """The generic Tea client: call_api signs ACS3-HMAC-SHA256 unless told signature 'v2'."""
    return Client(tea_config(emulator, key=key, secret=secret, token=token))


def _rpc(action, method="POST"):
    return Params(
        action=action,
        version="2019-02-14",
        protocol="HTTP",
        pathname="/",
        method=method,
        auth_type="AK",
        style="RPC",
        req_body_type="formData",
        body_type="json",
    )


def _call_api(client, action, *, method="POST", query=None, body=None):
    request = OpenApiRequest(query=query, body=body)
    return client.call_api(_rpc(action, method), request, RuntimeOptions())


def _tea_error(call):
    with pytest.raises(ClientException) as caught:
        call()
    return caught.value.code, caught.value.status_code, caught.value.data


def test_tea_client_signing_v3_manages_groups(emulator):
    client, inst = _tea(emulator), emulator.instance_id
    created = _call_api(
        client, CREATE, query={"InstanceId": inst}, body={"GroupId": "GID_v3tea", "Topic": "orders"}
    )
    assert created["statusCode"] == 200
    assert created["headers"]["content-type"].startswith("application/json")
    assert created["body"]["RequestId"]
    # GET, parameters in the query, with values the canonical query must encode exactly.
    listed = _call_api(
        client, LIST, method="GET", query={"InstanceId": inst, "Ignored": "a b*~é/+=&%中"}
    )
    [row] = listed["body"]["Data"]["MqttGroupIdDo"]
    assert (row["GroupId"], row["InstanceId"]) == ("GID_v3tea", inst)
    _call_api(client, "OnsMqttGroupIdDelete", body={"GroupId": "GID_v3tea", "InstanceId": inst})
    listed = _call_api(client, LIST, body={"InstanceId": inst})
    assert listed["body"]["Data"]["MqttGroupIdDo"] == []


def test_tea_client_business_errors_come_back_as_for_v1(emulator):
    client = _tea(emulator)
    code, status, data = _tea_error(
        lambda: _call_api(
            client, "OnsMqttGroupIdDelete", body={"GroupId": "GID_none1", "InstanceId": "post-cn-x"}
        )
    )
    assert (code, status) == ("BIZ_INSTANCE_NOT_FOUND", 404)
    assert data["RequestId"]


def test_tea_client_with_a_wrong_secret_gets_the_server_string_to_sign(emulator):
    code, status, data = _tea_error(
        lambda: _call_api(_tea(emulator, secret="wrong"), LIST, body={"InstanceId": "x"})
    )
    assert (code, status) == ("SignatureDoesNotMatch", 400)
    assert data["Message"].split(":")[1].startswith("ACS3-HMAC-SHA256\n")


def test_tea_client_with_an_unknown_key(emulator):
    code, status, _ = _tea_error(
        lambda: _call_api(_tea(emulator, key="LTAI-nobody"), LIST, body={"InstanceId": "x"})
    )
    assert (code, status) == ("InvalidAccessKeyId.NotFound", 404)


def test_tea_client_with_an_sts_token(emulator):
    emulator.store.add_account("STS.v3", "sts-secret", sts_tokens=["tok/1+="])
    client = _tea(emulator, key="STS.v3", secret="sts-secret", token="tok/1+=")
    assert _call_api(client, LIST, body={"InstanceId": emulator.instance_id})["statusCode"] == 200
    other = _tea(emulator, key="STS.v3", secret="sts-secret", token="tok-other")
    code, status, _ = _tea_error(lambda: _call_api(other, LIST, body={"InstanceId": "x"}))
    assert (code, status) == ("InvalidSecurityToken.MismatchWithAccessKey", 400)


# -- hand-signed requests ------------------------------------------------------------------------


def _send(
    emulator,
    action: str = LIST,
    params: Mapping[str, str] | None = None,
    *,
    method: str = "POST",
    in_body: bool = True,
    secret: str | None = None,
    key: str | None = None,
    token: str | None = None,
    nonce: str | None = None,
    date: str | None = None,
    body_sent: bytes | None = None,
    tamper: Mapping[str, str | None] | None = None,
    query_sent: Mapping[str, str] | None = None,
    method_sent: str | None = None,
) -> requests.Response:
    """Sign a V3 call like a generic client, change what ``tamper`` (headers; None removes),
    ``body_sent``, ``query_sent`` or ``method_sent`` say after signing, then send it."""
    params = dict({"InstanceId": emulator.instance_id} if params is None else params)
    query = {} if in_body and method == "POST" else params
    body = urlencode(params).encode() if in_body and method == "POST" else b""
    headers = signed_headers_v3(
        method,
        action,
        host=urlsplit(emulator.url).netloc,
        access_key_id=key or emulator.access_key_id,
        access_key_secret=secret or emulator.access_key_secret,
        query=query,
        body=body,
        content_type=FORM if body else None,
        security_token=token,
        nonce=nonce,
        date=date,
    )
    for name, value in (tamper or {}).items():
        if value is None:
            headers.pop(name, None)
        else:
            headers[name] = value
    return requests.request(
        method_sent or method,
        emulator.url + "/",
        params=query if query_sent is None else query_sent,
        data=body if body_sent is None else body_sent,
        headers=headers,
        timeout=10,
    )


def _v3_string_to_sign(emulator, *, nonce, date, body):
    """What the server should compute for ``_send(..., nonce=, date=)`` of LIST in a body."""
    headers = signed_headers_v3(
        "POST",
        LIST,
        host=urlsplit(emulator.url).netloc,
        access_key_id=emulator.access_key_id,
        access_key_secret="irrelevant",
        body=body,
        content_type=FORM,
        nonce=nonce,
        date=date,
    )
    signed = [(name, value) for name, value in headers.items() if must_sign(name)]
    return string_to_sign_v3(
        canonical_request_v3("POST", "/", {}, signed, headers["x-acs-content-sha256"])
    )


@pytest.mark.parametrize(("method", "in_body"), [("POST", True), ("POST", False), ("GET", False)])
def test_accepts_every_wire_shape_and_answers_json(emulator, method, in_body):
    response = _send(emulator, method=method, in_body=in_body)
    assert response.headers["Content-Type"].startswith("application/json")
    assert ok(response)["Data"] == {"MqttGroupIdDo": []}


def test_format_xml_is_honoured(emulator):
    params = {"InstanceId": emulator.instance_id, "Format": "XML"}
    response = _send(emulator, params=params)
    assert response.status_code == 200
    assert ET.fromstring(response.content).tag == "OnsMqttGroupIdListResponse"


def test_wrong_secret_names_the_server_string_to_sign_after_a_colon(emulator):
    date = format_timestamp()
    response = _send(emulator, secret="not-the-secret", nonce="n-1", date=date)
    assert error_code(response, 400) == "SignatureDoesNotMatch"
    body = urlencode({"InstanceId": emulator.instance_id}).encode()
    expected = _v3_string_to_sign(emulator, nonce="n-1", date=date, body=body)
    assert response.json()["Message"].split(":")[1] == expected


@pytest.mark.parametrize(
    "tamper",
    [
        {"x-acs-action": "OnsMqttQueryClientByGroupId"},
        {"x-acs-signature-nonce": "another"},
        {"content-type": FORM + "; charset=utf-8"},
    ],
)
def test_signed_headers_are_covered(emulator, tamper):
    assert error_code(_send(emulator, tamper=tamper), 400) == "SignatureDoesNotMatch"


def test_query_and_method_are_covered(emulator):
    query_sent = {"InstanceId": emulator.instance_id + "x"}
    response = _send(emulator, method="GET", in_body=False, query_sent=query_sent)
    assert error_code(response, 400) == "SignatureDoesNotMatch"
    response = _send(emulator, method="POST", in_body=False, method_sent="GET")
    assert error_code(response, 400) == "SignatureDoesNotMatch"
    ok(_send(emulator, method="GET", in_body=False))


def test_unknown_access_key_is_404(emulator):
    assert error_code(_send(emulator, key="LTAI-nobody"), 404) == "InvalidAccessKeyId.NotFound"


def test_date_more_than_15_minutes_off_is_expired(emulator):
    for delta in (timedelta(minutes=-16), timedelta(minutes=16)):
        response = _send(emulator, date=format_timestamp(datetime.now(UTC) + delta))
        assert error_code(response, 400) == "InvalidTimeStamp.Expired"
    ok(_send(emulator, date=format_timestamp(datetime.now(UTC) - timedelta(minutes=14))))


def test_malformed_date_is_rejected(emulator):
    response = _send(emulator, date="2024-01-01 00:00:00")
    assert error_code(response, 400) == "InvalidTimeStamp.Format"


def test_reused_nonce_is_rejected_but_a_failed_signature_does_not_burn_it(emulator):
    assert error_code(_send(emulator, secret="bad", nonce="once"), 400) == "SignatureDoesNotMatch"
    ok(_send(emulator, nonce="once"))
    assert error_code(_send(emulator, nonce="once"), 400) == "SignatureNonceUsed"


def test_v1_and_v3_share_the_nonce_cache_per_key(emulator):
    ok(_send(emulator, nonce="shared"))
    response = call(emulator, LIST, {"InstanceId": emulator.instance_id}, nonce="shared")
    assert error_code(response, 400) == "SignatureNonceUsed"


def test_body_not_matching_content_sha256_is_rejected(emulator):
    other = urlencode({"InstanceId": "post-cn-other"}).encode()
    response = _send(emulator, body_sent=other)
    assert error_code(response, 400) == "InvalidContentSha256"
    assert "x-acs-content-sha256" in response.json()["Message"]


@pytest.mark.parametrize(
    "header", ["x-acs-version", "x-acs-date", "x-acs-signature-nonce", "x-acs-content-sha256"]
)
def test_missing_common_header_is_named(emulator, header):
    response = _send(emulator, tamper={header: None})
    assert error_code(response, 400) == "MissingParameter"
    assert header in response.json()["Message"]


def test_missing_action_header_is_named(emulator):
    response = _send(emulator, tamper={"x-acs-action": None})
    assert error_code(response, 400) == "MissingParameter"
    assert "x-acs-action" in response.json()["Message"]


def test_wrong_version_and_unknown_action(emulator):
    assert error_code(_send(emulator, tamper={"x-acs-version": "2020-01-01"}), 400) == (
        "InvalidVersion"
    )
    assert error_code(_send(emulator, "OnsMqttTopicCreate"), 404) == "InvalidAction.NotFound"


def test_an_unsigned_acs_header_makes_the_signature_incomplete(emulator):
    response = _send(emulator, tamper={"x-acs-extra": "1"})
    assert error_code(response, 400) == "IncompleteSignature"
    assert "x-acs-extra" in response.json()["Message"]


@pytest.mark.parametrize(
    ("authorization", "code"),
    [
        ("ACS3-HMAC-SHA256 Credential=x", "IncompleteSignature"),
        ("ACS3-HMAC-SHA256 Credential=,SignedHeaders=host,Signature=ab", "IncompleteSignature"),
        ("ACS3-HMAC-SM3 Credential=x,SignedHeaders=host,Signature=ab", "InvalidSignatureMethod"),
    ],
)
def test_malformed_authorization_is_rejected(emulator, authorization, code):
    response = _send(emulator, tamper={"Authorization": authorization})
    assert error_code(response, 400) == code


def test_a_non_ascii_signature_is_a_mismatch_not_a_crash(emulator):
    signed = _send(emulator, nonce="ascii-check").request.headers["Authorization"]
    junk = signed.rsplit("=", 1)[0] + "=é" + "0" * 63
    response = _send(emulator, tamper={"Authorization": junk.encode("utf-8").decode("latin-1")})
    assert error_code(response, 400) == "SignatureDoesNotMatch"


def test_a_signed_header_missing_from_the_request_is_incomplete(emulator):
    signed = "content-type;host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-nope;"
    authorization = (
        f"ACS3-HMAC-SHA256 Credential={emulator.access_key_id},"
        f"SignedHeaders={signed}x-acs-signature-nonce;x-acs-version,Signature=ab"
    )
    response = _send(emulator, tamper={"Authorization": authorization})
    assert error_code(response, 400) == "IncompleteSignature"
    assert "x-acs-nope" in response.json()["Message"]


def test_sts_token_declared_for_the_key_is_accepted(emulator):
    emulator.store.add_account("STS.key", "sts-secret", sts_tokens=["tok-1"])
    ok(_send(emulator, key="STS.key", secret="sts-secret", token="tok-1"))


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
    response = _send(emulator, key="STS.key", secret="sts-secret", token=token)
    assert error_code(response, 400) == code


def test_a_non_acs3_authorization_header_leaves_v1_in_charge(emulator):
    signed = signed_form(
        "POST",
        LIST,
        {"InstanceId": emulator.instance_id},
        access_key_id=emulator.access_key_id,
        access_key_secret=emulator.access_key_secret,
    ).params
    response = requests.post(
        emulator.url + "/", data=signed, headers={"Authorization": "Bearer x"}, timeout=10
    )
    ok(response)
