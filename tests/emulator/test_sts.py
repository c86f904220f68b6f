"""STS against the emulator: AssumeRole and AssumeRoleWithOIDC, each success and each documented
failure, and the temporary credentials they issue used on both MQTT APIs."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import jwt
import pytest
from jwt.algorithms import RSAAlgorithm

from reconciler.cloud.credentials import Credentials
from reconciler.emulator.store import OidcProviderRecord, RoleRecord
from reconciler.errors import CloudApiError
from tests.fixtures.emulator_store import expire_issued
from tests.fixtures.sts import ACCOUNT_ID, assume_role, assume_role_with_oidc, new_signing_key
from tests.fixtures.wire import error_code, ok

OTHER_KEY = "LTAI5tOtherAccountKey"
OTHER_SECRET = "other-account-secret"
OTHER_ACCOUNT = "6543210987654321"


def _credentials(body):
    issued = body["Credentials"]
    return Credentials(
        access_key_id=issued["AccessKeyId"],
        access_key_secret=issued["AccessKeySecret"],
        security_token=issued["SecurityToken"],
        source="sts test",
    )


def _add_other_account(store, *, trusted_by_test_account=False):
    """A second account with a role only it may assume (``outsider``) and, when asked, one
    that trusts the test account (``shared``)."""
    store.add_account(OTHER_KEY, OTHER_SECRET)
    store.set_account_id(OTHER_KEY, OTHER_ACCOUNT)
    store.put_role(RoleRecord(OTHER_ACCOUNT, "outsider"))
    if trusted_by_test_account:
        store.put_role(RoleRecord(OTHER_ACCOUNT, "shared", trusted_accounts=(ACCOUNT_ID,)))


# -- AssumeRole --------------------------------------------------------------------------------


def test_assume_role_answers_expiring_credentials_for_the_role(sts_emulator):
    before = int(time.time())
    body = ok(assume_role(sts_emulator, DurationSeconds="1800", RoleSessionName="alice"))
    issued = body["Credentials"]
    assert issued["AccessKeyId"].startswith("STS.")
    assert issued["AccessKeySecret"] and issued["SecurityToken"]
    expires = datetime.strptime(issued["Expiration"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert before + 1800 <= expires.timestamp() <= time.time() + 1800
    assert body["AssumedRoleUser"]["Arn"] == f"{sts_emulator.role_arn}/alice"
    assert body["AssumedRoleUser"]["AssumedRoleId"].endswith(":alice")


def test_assume_role_lasts_an_hour_by_default(sts_emulator):
    body = ok(assume_role(sts_emulator))
    expires = datetime.strptime(body["Credentials"]["Expiration"], "%Y-%m-%dT%H:%M:%SZ")
    assert abs(expires.replace(tzinfo=UTC).timestamp() - time.time() - 3600) < 5


def test_the_sts_duration_setting_overrides_what_is_asked(sts_emulator):
    sts_emulator.set_duration(30)
    body = ok(assume_role(sts_emulator, DurationSeconds="3600"))
    expires = datetime.strptime(body["Credentials"]["Expiration"], "%Y-%m-%dT%H:%M:%SZ")
    assert abs(expires.replace(tzinfo=UTC).timestamp() - time.time() - 30) < 5


def test_temporary_credentials_act_for_the_role_account_on_both_apis(sts_emulator, api_case):
    sts_emulator.store.add_group(sts_emulator.instance_id, "GID_seen1")
    client = api_case.client(_credentials(ok(assume_role(sts_emulator))), endpoint=sts_emulator.url)
    listed = client.list_group_ids(sts_emulator.instance_id)
    assert [record.group_id for record in listed] == ["GID_seen1"]


def test_role_chaining_with_temporary_credentials(sts_emulator):
    first = ok(assume_role(sts_emulator))["Credentials"]
    second = ok(
        assume_role(
            sts_emulator,
            key=first["AccessKeyId"],
            secret=first["AccessKeySecret"],
            security_token=first["SecurityToken"],
        )
    )["Credentials"]
    assert second["AccessKeyId"] != first["AccessKeyId"]


def test_a_trusted_account_assumes_a_role_of_another_account(sts_emulator):
    _add_other_account(sts_emulator.store, trusted_by_test_account=True)
    arn = f"acs:ram::{OTHER_ACCOUNT}:role/shared"
    body = ok(assume_role(sts_emulator, RoleArn=arn))
    assert body["AssumedRoleUser"]["Arn"] == f"{arn}/test-session"


def test_policy_is_accepted(sts_emulator):
    policy = {"Version": "1", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    ok(assume_role(sts_emulator, Policy=json.dumps(policy)))


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"DurationSeconds": "899"}, 400, "InvalidParameter.DurationSeconds"),
        ({"DurationSeconds": "43201"}, 400, "InvalidParameter.DurationSeconds"),
        ({"DurationSeconds": "1h"}, 400, "InvalidParameter.DurationSeconds"),
        ({"RoleArn": "acs:ram::1234567890123456:user/x"}, 400, "InvalidParameter.RoleArn"),
        ({"RoleArn": ""}, 400, "MissingParameter.RoleArn"),
        ({"RoleSessionName": "a"}, 400, "InvalidParameter.RoleSessionName"),
        ({"RoleSessionName": "has space"}, 400, "InvalidParameter.RoleSessionName"),
        ({"Policy": "{not json"}, 400, "InvalidParameter.PolicyGrammar"),
        ({"Policy": '{"Version": "1"}'}, 400, "InvalidParameter.PolicyGrammar"),
        ({"Policy": "x" * 2049}, 400, "InvalidParameter.PolicySize"),
        ({"ExternalId": "a b"}, 400, "InvalidParameter.ExternalId"),
        (
            {"RoleArn": "acs:ram::1234567890123456:role/nobody"},
            404,
            "EntityNotExist.Role",
        ),
    ],
)
def test_assume_role_refuses_bad_parameters(sts_emulator, params, status, code):
    assert error_code(assume_role(sts_emulator, **params), status) == code


def test_duration_above_the_role_maximum_is_refused(sts_emulator):
    sts_emulator.store.put_role(RoleRecord(sts_emulator.account_id, "short", 3600))
    arn = f"acs:ram::{sts_emulator.account_id}:role/short"
    response = assume_role(sts_emulator, RoleArn=arn, DurationSeconds="3601")
    assert error_code(response, 400) == "InvalidParameter.DurationSeconds"
    assert "15min/1hr" in response.json()["Message"]
    ok(assume_role(sts_emulator, RoleArn=arn, DurationSeconds="3600"))


def test_a_bad_signature_is_refused(sts_emulator):
    response = assume_role(sts_emulator, secret="not-the-secret")
    assert error_code(response, 400) == "SignatureDoesNotMatch"


def test_a_role_of_another_account_that_does_not_trust_the_caller_is_refused(sts_emulator):
    _add_other_account(sts_emulator.store)
    response = assume_role(sts_emulator, RoleArn=f"acs:ram::{OTHER_ACCOUNT}:role/outsider")
    assert error_code(response, 403) == "NoPermission"


@pytest.mark.parametrize("sent", [None, "wrong-id"])
def test_a_role_requiring_an_external_id_refuses_a_missing_or_wrong_one(sts_emulator, sent):
    sts_emulator.store.put_role(
        RoleRecord(sts_emulator.account_id, "guarded", external_id="abcd1234")
    )
    arn = f"acs:ram::{sts_emulator.account_id}:role/guarded"
    extra = {} if sent is None else {"ExternalId": sent}
    assert error_code(assume_role(sts_emulator, RoleArn=arn, **extra), 403) == "NoPermission"
    ok(assume_role(sts_emulator, RoleArn=arn, ExternalId="abcd1234"))


# -- AssumeRoleWithOIDC ------------------------------------------------------------------------


def test_assume_role_with_oidc_needs_no_signature(sts_emulator):
    body = ok(assume_role_with_oidc(sts_emulator, DurationSeconds="900"))
    assert body["Credentials"]["AccessKeyId"].startswith("STS.")
    assert body["AssumedRoleUser"]["Arn"] == f"{sts_emulator.role_arn}/ci-session"
    info = body["OIDCTokenInfo"]
    assert (info["Issuer"], info["ClientIds"]) == (sts_emulator.oidc_issuer, "sts.aliyuncs.com")


def test_oidc_credentials_act_for_the_role_account(sts_emulator, api_case):
    client = api_case.client(
        _credentials(ok(assume_role_with_oidc(sts_emulator))), endpoint=sts_emulator.url
    )
    assert client.list_group_ids(sts_emulator.instance_id) == []


def test_an_audience_list_with_a_client_id_is_accepted(sts_emulator):
    token = sts_emulator.mint_oidc_token(aud=["other-client", "sts.aliyuncs.com"])
    ok(assume_role_with_oidc(sts_emulator, OIDCToken=token))


def test_a_jwks_provider_picks_the_key_by_kid(sts_emulator):
    jwk = json.loads(RSAAlgorithm.to_jwk(sts_emulator.issuer_key.public_key()))
    other = json.loads(RSAAlgorithm.to_jwk(new_signing_key().public_key()))
    jwks = {"keys": [{**other, "kid": "old"}, {**jwk, "kid": "test-key-1"}]}
    sts_emulator.store.put_oidc_provider(
        OidcProviderRecord(
            sts_emulator.account_id,
            "ci-issuer",
            sts_emulator.oidc_issuer,
            ("sts.aliyuncs.com",),
            jwks=json.dumps(jwks),
        )
    )
    ok(assume_role_with_oidc(sts_emulator))


def _unsigned(emulator):
    return emulator.mint_oidc_token(algorithm="none")


def _hmac_signed(emulator):
    claims = {"iss": emulator.oidc_issuer, "aud": emulator.oidc_audience, "sub": "x"}
    now = int(time.time())
    return jwt.encode({**claims, "iat": now, "exp": now + 600}, "k" * 32, algorithm="HS256")


OIDC_FAILURES = {
    "bad-signature": (
        lambda e: e.mint_oidc_token(key=new_signing_key()),
        401,
        "AuthenticationFail.OIDCToken.Invalid",
    ),
    "expired": (
        lambda e: e.mint_oidc_token(iat=int(time.time()) - 700, exp=int(time.time()) - 100),
        401,
        "AuthenticationFail.OIDCToken.Expired",
    ),
    "wrong-audience": (
        lambda e: e.mint_oidc_token(aud="another-client"),
        401,
        "AuthenticationFail.OIDCToken.AudienceNotMatch",
    ),
    "wrong-issuer": (
        lambda e: e.mint_oidc_token(iss="https://evil.example.com"),
        401,
        "AuthenticationFail.OIDCToken.IssuerNotMatch",
    ),
    "unsigned": (_unsigned, 401, "AuthenticationFail.OIDCToken.Invalid"),
    "hmac": (_hmac_signed, 401, "AuthenticationFail.OIDCToken.Invalid"),
    "not-yet-valid": (
        lambda e: e.mint_oidc_token(nbf=int(time.time()) + 300),
        401,
        "AuthenticationFail.OIDCToken.Invalid",
    ),
    "no-expiry": (
        lambda e: e.mint_oidc_token(exp=None),
        401,
        "AuthenticationFail.OIDCToken.Invalid",
    ),
    "no-subject": (
        lambda e: e.mint_oidc_token(sub=None),
        401,
        "AuthenticationFail.OIDCToken.Invalid",
    ),
    "not-a-jwt": (lambda e: "not.a.jwt", 401, "AuthenticationFail.OIDCToken.Invalid"),
}


@pytest.mark.parametrize(
    ("make_token", "status", "code"), OIDC_FAILURES.values(), ids=OIDC_FAILURES
)
def test_assume_role_with_oidc_refuses_a_bad_token(sts_emulator, make_token, status, code):
    response = assume_role_with_oidc(sts_emulator, OIDCToken=make_token(sts_emulator))
    assert error_code(response, status) == code


def test_the_refusal_never_echoes_the_token(sts_emulator):
    token = sts_emulator.mint_oidc_token(aud="another-client")
    response = assume_role_with_oidc(sts_emulator, OIDCToken=token)
    assert token not in response.text
    assert token.split(".")[2] not in response.text


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"OIDCToken": None}, 400, "MissingParameter.OIDCToken"),
        ({"OIDCProviderArn": None}, 400, "MissingParameter.OIDCProviderArn"),
        ({"RoleArn": None}, 400, "MissingParameter.RoleArn"),
        ({"RoleSessionName": None}, 400, "MissingParameter.RoleSessionName"),
        ({"DurationSeconds": "600"}, 400, "InvalidParameter.DurationSeconds"),
        ({"OIDCProviderArn": "github"}, 400, "InvalidParameter.OIDCProviderArn"),
        (
            {"OIDCProviderArn": "acs:ram::1234567890123456:oidc-provider/nobody"},
            403,
            "AuthenticationFail.NoPermission",
        ),
        ({"RoleArn": "acs:ram::1234567890123456:role/nobody"}, 404, "EntityNotExist.Role"),
    ],
)
def test_assume_role_with_oidc_refuses_bad_parameters(sts_emulator, params, status, code):
    assert error_code(assume_role_with_oidc(sts_emulator, **params), status) == code


def test_a_role_that_does_not_trust_the_provider_is_refused(sts_emulator):
    sts_emulator.store.put_role(RoleRecord(sts_emulator.account_id, "keys-only"))
    arn = f"acs:ram::{sts_emulator.account_id}:role/keys-only"
    response = assume_role_with_oidc(sts_emulator, RoleArn=arn)
    assert error_code(response, 403) == "AuthenticationFail.NoPermission"


# -- temporary credentials on the MQTT APIs --------------------------------------------------


def test_expired_temporary_credentials_are_refused(sts_emulator, api_case):
    credentials = _credentials(ok(assume_role(sts_emulator)))
    expire_issued(sts_emulator.store, credentials.access_key_id)
    client = api_case.client(credentials, endpoint=sts_emulator.url)
    with pytest.raises(CloudApiError) as caught:
        client.list_group_ids(sts_emulator.instance_id)
    assert caught.value.code == "InvalidSecurityToken.Expired"


@pytest.mark.parametrize(
    ("token", "code"),
    [(None, "MissingSecurityToken"), ("other", "InvalidSecurityToken.MismatchWithAccessKey")],
)
def test_temporary_credentials_need_their_own_token(sts_emulator, api_case, token, code):
    issued = ok(assume_role(sts_emulator))["Credentials"]
    credentials = Credentials(
        access_key_id=issued["AccessKeyId"],
        access_key_secret=issued["AccessKeySecret"],
        security_token=token,
        source="sts test",
    )
    client = api_case.client(credentials, endpoint=sts_emulator.url)
    with pytest.raises(CloudApiError) as caught:
        client.list_group_ids(sts_emulator.instance_id)
    assert caught.value.code == code
