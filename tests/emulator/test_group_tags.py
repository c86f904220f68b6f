"""GID tags on the emulated OnsMqtt 2020-04-20 (issue 19, item 6): CreateGroupId takes them in
either wire form, ListGroupId answers them (and filters by them), bad tags are refused."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
import requests

from reconciler.emulator.group_tags import INVALID_TAGS
from reconciler.emulator.store import EmulatorStore
from tests.fixtures.emulator import RunningEmulator
from tests.fixtures.wire import call, error_code, ok

ONSMQTT = "2020-04-20"
pytestmark = pytest.mark.api("onsmqtt")


def _create(emulator: RunningEmulator, group_id: str, **params: str) -> requests.Response:
    return call(
        emulator,
        "CreateGroupId",
        {"InstanceId": emulator.instance_id, "GroupId": group_id, **params},
        version=ONSMQTT,
    )


def _listed(emulator: RunningEmulator, **params: str) -> dict[str, list[dict[str, str]]]:
    body = ok(
        call(
            emulator, "ListGroupId", {"InstanceId": emulator.instance_id, **params}, version=ONSMQTT
        )
    )
    return {row["GroupId"]: row["Tags"] for row in body["Data"]}


def test_both_wire_forms_create_tags_that_list_back_in_the_order_given(
    emulator: RunningEmulator,
) -> None:
    as_json = json.dumps([{"key": "team", "value": "orders"}, {"key": "env", "value": "prod"}])
    ok(_create(emulator, "GID_json", Tags=as_json))
    ok(
        _create(
            emulator,
            "GID_repeated",
            **{"Tag.1.Key": "team", "Tag.1.Value": "pay", "Tag.2.Key": "empty"},
        )
    )
    ok(_create(emulator, "GID_none"))

    assert _listed(emulator) == {
        "GID_json": [
            {"TagKey": "team", "TagValue": "orders"},
            {"TagKey": "env", "TagValue": "prod"},
        ],
        "GID_none": [],
        "GID_repeated": [
            {"TagKey": "team", "TagValue": "pay"},
            {"TagKey": "empty", "TagValue": ""},
        ],
    }


def test_list_group_id_filters_by_the_tags_it_is_given(emulator: RunningEmulator) -> None:
    ok(_create(emulator, "GID_prod", Tags='[{"key":"env","value":"prod"}]'))
    ok(_create(emulator, "GID_dev", Tags='[{"key":"env","value":"dev"}]'))
    assert set(_listed(emulator, Tags='[{"key":"env","value":"prod"}]')) == {"GID_prod"}
    assert set(_listed(emulator, **{"Tag.1.Key": "env", "Tag.1.Value": "dev"})) == {"GID_dev"}


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"Tags": "team=orders"}, "expected a JSON list"),
        ({"Tags": '{"key": "team"}'}, "expected a JSON list"),
        ({"Tags": '[{"key": "team", "val": "x"}]'}, "each tag is"),
        ({"Tags": '[{"key":"a","value":"1"},{"key":"a","value":"2"}]'}, "given twice"),
        ({"Tags": '[{"key":"aliyun-owner","value":"x"}]'}, "reserved prefix 'aliyun'"),
        ({"Tags": '[{"key":"ACS:x","value":"x"}]'}, "reserved prefix 'acs:'"),
        ({"Tags": '[{"key":"site","value":"https://x"}]'}, "contains 'https://'"),
        ({"Tags": '[{"key":"","value":"x"}]'}, "must not be empty"),
        ({"Tags": json.dumps([{"key": "k" * 129, "value": ""}])}, "129 characters long"),
        ({"Tags": json.dumps([{"key": f"k{n}", "value": ""} for n in range(21)])}, "at most 20"),
        ({"Tag.2.Value": "x"}, "Tag.2.Value is given without Tag.2.Key"),
        ({"Tags": "[]", "Tag.1.Key": "a"}, "not both"),
    ],
)
def test_bad_tags_are_refused_and_nothing_is_created(
    emulator: RunningEmulator, params: dict[str, str], words: str
) -> None:
    response = _create(emulator, "GID_bad", **params)
    assert error_code(response, 400) == INVALID_TAGS
    assert words in response.json()["Message"]
    assert "GID_bad" not in _listed(emulator)


def test_a_store_written_before_tags_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as old:
        old.execute(
            "CREATE TABLE groups (instance_id TEXT NOT NULL, group_id TEXT NOT NULL, topic TEXT,"
            " create_time INTEGER NOT NULL, update_time INTEGER NOT NULL,"
            " PRIMARY KEY (instance_id, group_id))"
        )
        old.execute("INSERT INTO groups VALUES ('post-cn-a', 'GID_old', NULL, 1, 1)")
    with EmulatorStore(str(path)) as store:
        store.add_instance("post-cn-a")
        store.add_group("post-cn-a", "GID_new", tags=(("team", "orders"),))
        by_name = {group.group_id: group.tags for group in store.groups(["post-cn-a"])}
    assert by_name == {"GID_old": (), "GID_new": (("team", "orders"),)}
