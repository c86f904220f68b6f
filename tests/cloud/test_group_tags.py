"""GID tags through the clients (issue 19, item 6): OnsMqttClient sends them with CreateGroupId
as the JSON form and reads them back from ListGroupId; ONS 2019-02-14 has no GID tags."""

from __future__ import annotations

import json

import pytest

from reconciler.cloud.capabilities import GroupResources, ResourceTarget
from reconciler.cloud.client import OnsClient
from reconciler.cloud.credentials import resolve_credentials
from reconciler.cloud.onsmqtt import OnsMqttClient
from reconciler.cloud.responses import GroupIdRecord
from reconciler.models import tags_of, tags_text
from tests.fixtures.apis import API_CASES, ApiCase
from tests.fixtures.emulator import TEST_ACCESS_KEY_ID, TEST_ACCESS_KEY_SECRET, RunningEmulator

TAGS = tags_text({"team": "orders", "env": "prod", "note": 'ünïcode, quotes " and: colons'})


def _onsmqtt(emulator: RunningEmulator) -> OnsMqttClient:
    creds = resolve_credentials(
        access_key_id=TEST_ACCESS_KEY_ID,
        access_key_secret=TEST_ACCESS_KEY_SECRET,
        security_token=None,
        env={},
    )
    client = API_CASES["onsmqtt"].client(creds, endpoint=emulator.url)
    assert isinstance(client, OnsMqttClient)
    return client


@pytest.mark.api("onsmqtt")
def test_create_sends_the_json_form_and_the_listing_reads_the_tags_back(
    emulator: RunningEmulator,
) -> None:
    with _onsmqtt(emulator) as client:
        resources = GroupResources(client)
        target = ResourceTarget(
            emulator.instance_id, "GID_tagged", attributes={"topic": None, "tags": TAGS}
        )
        call = resources.create_call(target)
        assert json.loads(call.params["Tags"]) == [
            {"key": "env", "value": "prod"},
            {"key": "note", "value": 'ünïcode, quotes " and: colons'},
            {"key": "team", "value": "orders"},
        ]
        assert resources.create(target).detail == "created"
        bare = ResourceTarget(emulator.instance_id, "GID_bare", attributes={"tags": None})
        assert "Tags" not in resources.create_call(bare).params
        resources.create(bare)
        listed = {
            record.group_id: record.tags for record in client.list_group_ids(emulator.instance_id)
        }
    assert listed == {"GID_bare": tags_text({}), "GID_tagged": TAGS}
    stored = emulator.store.groups([emulator.instance_id])
    assert {group.group_id: dict(group.tags) for group in stored} == {
        "GID_bare": {},
        "GID_tagged": tags_of(TAGS),
    }


@pytest.mark.api("onsmqtt")
def test_no_tags_sends_no_parameter(emulator: RunningEmulator) -> None:
    with _onsmqtt(emulator) as client:
        empty = client.create_call("GID_x", instance_id=emulator.instance_id, tags=tags_text({}))
    assert "Tags" not in empty.params


def test_a_row_without_tags_reports_none_and_an_empty_list_reports_no_tags() -> None:
    row = {
        "GroupId": "GID_a",
        "InstanceId": "i",
        "IndependentNaming": True,
        "CreateTime": 1,
        "UpdateTime": 1,
    }
    assert GroupIdRecord.model_validate(row).tags is None  # ONS 2019-02-14's rows
    assert GroupIdRecord.model_validate({**row, "Tags": []}).tags == "{}"
    tagged = {**row, "Tags": [{"TagKey": "b", "TagValue": "2"}, {"TagKey": "a", "TagValue": "1"}]}
    assert GroupIdRecord.model_validate(tagged).tags == '{"a": "1", "b": "2"}'


@pytest.mark.api("ons")
def test_the_ons_client_cannot_tag_a_gid(api_case: ApiCase, emulator: RunningEmulator) -> None:
    creds = resolve_credentials(
        access_key_id=TEST_ACCESS_KEY_ID,
        access_key_secret=TEST_ACCESS_KEY_SECRET,
        security_token=None,
        env={},
    )
    with api_case.client(creds, endpoint=emulator.url) as client:
        assert isinstance(client, OnsClient)
        with pytest.raises(ValueError, match="cannot create a GID with tags"):
            client.create_call("GID_x", instance_id=emulator.instance_id, tags=TAGS)
