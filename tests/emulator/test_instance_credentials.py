"""The ECS metadata endpoints (IMDSv2 tokens, the role name, the role's credentials) and the
credentials URI, over the emulator's HTTP port."""

from __future__ import annotations

import pytest
import requests

from reconciler.cloud.credentials import Credentials
from reconciler.emulator.metadata import MetadataTokens
from tests.fixtures.emulator_store import age_issued
from tests.fixtures.fake_time import FakeTime

TTL = "X-aliyun-ecs-metadata-token-ttl-seconds"
TOKEN = "X-aliyun-ecs-metadata-token"
ROLES = "/latest/meta-data/ram/security-credentials/"


def _token(emulator, ttl="60"):
    response = requests.put(emulator.metadata_url + "/latest/api/token", headers={TTL: ttl})
    assert response.status_code == 200, response.text
    return response.text


def _get(emulator, path, token=None):
    headers = {} if token is None else {TOKEN: token}
    return requests.get(emulator.metadata_url + path, headers=headers, timeout=10)


def _as_credentials(body):
    return Credentials(
        access_key_id=body["AccessKeyId"],
        access_key_secret=body["AccessKeySecret"],
        security_token=body["SecurityToken"],
        source="test",
    )


def test_token_then_role_name_then_credentials(sts_emulator, api_case):
    token = _token(sts_emulator)
    role = _get(sts_emulator, ROLES, token)
    assert (role.status_code, role.text) == (200, sts_emulator.role_name)
    answer = _get(sts_emulator, ROLES + role.text, token)
    assert answer.status_code == 200
    body = answer.json()
    assert body["Code"] == "Success"
    assert set(body) == {
        "Code",
        "AccessKeyId",
        "AccessKeySecret",
        "SecurityToken",
        "Expiration",
        "LastUpdated",
    }
    sts_emulator.store.add_group(sts_emulator.instance_id, "GID_ecs1")
    client = api_case.client(_as_credentials(body), endpoint=sts_emulator.url)
    assert [r.group_id for r in client.list_group_ids(sts_emulator.instance_id)] == ["GID_ecs1"]
    assert sts_emulator.request_count("metadata-token") == 1
    assert sts_emulator.request_count("metadata-credentials") == 1


def test_without_a_token_answers_in_normal_mode_and_is_refused_when_hardened(sts_emulator):
    assert _get(sts_emulator, ROLES).text == sts_emulator.role_name
    sts_emulator.store.update_sts_settings(metadata_hardened=True)
    assert _get(sts_emulator, ROLES).status_code == 403
    assert _get(sts_emulator, ROLES + sts_emulator.role_name).status_code == 403
    assert _get(sts_emulator, ROLES, _token(sts_emulator)).status_code == 200


def test_an_unknown_token_is_401(sts_emulator):
    assert _get(sts_emulator, ROLES, "forged-token").status_code == 401


def test_a_token_lasts_its_ttl():
    time = FakeTime()
    tokens = MetadataTokens(clock=time.clock)
    token = tokens.issue(10)
    assert tokens.valid(token)
    time.sleep(10)
    assert not tokens.valid(token)
    assert not tokens.valid("never-issued")


@pytest.mark.parametrize("ttl", [None, "0", "21601", "ten"])
def test_a_token_needs_a_ttl_of_1_to_21600_seconds(sts_emulator, ttl):
    headers = {} if ttl is None else {TTL: ttl}
    response = requests.put(sts_emulator.metadata_url + "/latest/api/token", headers=headers)
    assert response.status_code == 400
    assert TTL in response.text


def test_wrong_methods_and_paths(sts_emulator):
    assert requests.get(sts_emulator.metadata_url + "/latest/api/token").status_code == 405
    assert requests.put(sts_emulator.metadata_url + ROLES).status_code == 405
    assert _get(sts_emulator, ROLES + "another-role").status_code == 404
    assert _get(sts_emulator, "/latest/meta-data/instance-id").status_code == 404


def test_an_instance_without_a_role_has_no_credentials(sts_emulator):
    sts_emulator.store.update_sts_settings(instance_role=None)
    assert _get(sts_emulator, ROLES).status_code == 404
    assert _get(sts_emulator, ROLES + sts_emulator.role_name).status_code == 404


@pytest.mark.parametrize(
    ("fetch", "source"),
    [
        (lambda e: _get(e, ROLES + e.role_name).json(), "metadata-credentials"),
        (lambda e: requests.get(e.credentials_uri, timeout=10).json(), "credentials-uri"),
    ],
    ids=["metadata", "credentials-uri"],
)
def test_the_same_credentials_until_half_their_lifetime_has_passed(sts_emulator, fetch, source):
    first = fetch(sts_emulator)
    assert fetch(sts_emulator)["AccessKeyId"] == first["AccessKeyId"]
    age_issued(sts_emulator.store, first["AccessKeyId"], 1790)
    assert fetch(sts_emulator)["AccessKeyId"] == first["AccessKeyId"]
    age_issued(sts_emulator.store, first["AccessKeyId"], 20)
    assert fetch(sts_emulator)["AccessKeyId"] != first["AccessKeyId"]
    assert sts_emulator.request_count(source) == 4


def test_credentials_uri_answers_the_role_credentials(sts_emulator, api_case):
    response = requests.get(sts_emulator.credentials_uri, timeout=10)
    assert response.status_code == 200
    body = response.json()
    assert body["Code"] == "Success"
    assert {"AccessKeyId", "AccessKeySecret", "SecurityToken", "Expiration"} <= set(body)
    client = api_case.client(_as_credentials(body), endpoint=sts_emulator.url)
    assert client.list_group_ids(sts_emulator.instance_id) == []


def test_credentials_uri_without_a_role_or_with_post(sts_emulator):
    assert requests.post(sts_emulator.credentials_uri, timeout=10).status_code == 405
    sts_emulator.store.update_sts_settings(credentials_uri_role=None)
    response = requests.get(sts_emulator.credentials_uri, timeout=10)
    assert response.status_code == 404
    assert response.json()["Code"] != "Success"
