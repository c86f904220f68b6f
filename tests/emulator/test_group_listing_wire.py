"""The GID listings of both APIs, written from columns (``group_listing``), answer byte for byte
what a dict per GID through ``json.dumps`` answered: the field order, the naming of each
listed instance, the tags and their filter, the shared-namespace listing, XML."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any

import pytest

from reconciler.emulator.group_tags import tags_body
from reconciler.emulator.store import EmulatorStore
from tests.fixtures.emulator import RunningEmulator
from tests.fixtures.wire import call

ONSMQTT = "2020-04-20"
SHARED = ("post-cn-shared0001", "post-cn-shared0002")


def _seed(store: EmulatorStore, instance_id: str) -> None:
    for shared in SHARED:
        store.add_instance(shared, region="cn-hangzhou", independent_naming=False)
    store.add_group(instance_id, "GID_plain", topic="orders", create_time=1, update_time=2)
    store.add_group(instance_id, "GID_tagged", tags=(("team", "订单"), ("env", 'q"uote')))
    store.add_group(instance_id, "GID_other", tags=(("env", "dev"),))
    store.add_group(SHARED[0], "GID_a", create_time=2**40)
    store.add_group(SHARED[1], "GID_b")


def _as_dicts_answered(
    store: EmulatorStore, instance_ids: list[str], *, with_tags: bool, keep: Any = None
) -> list[dict[str, Any]]:
    """The rows as the handlers built them before: a dict per GID from its record."""
    naming = {}
    for instance_id in instance_ids:
        instance = store.instance(instance_id)
        assert instance is not None
        naming[instance_id] = instance.independent_naming
    rows = []
    for group in store.groups(instance_ids):
        if keep is not None and not keep(group.tags):
            continue
        row: dict[str, Any] = {
            "GroupId": group.group_id,
            "InstanceId": group.instance_id,
            "IndependentNaming": naming[group.instance_id],
            "CreateTime": group.create_time,
            "UpdateTime": group.update_time,
        }
        if with_tags:
            row["Tags"] = tags_body(group.tags)
        rows.append(row)
    return rows


def _expected_bytes(request_id: str, data: Any) -> bytes:
    body = {"RequestId": request_id, "Data": data}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@pytest.mark.parametrize("named", [True, False])
def test_ons_listing_answers_the_bytes_of_a_dict_per_gid(
    emulator: RunningEmulator, named: bool
) -> None:
    _seed(emulator.store, emulator.instance_id)
    params = {"InstanceId": emulator.instance_id} if named else {}
    listed = [emulator.instance_id] if named else list(SHARED)
    response = call(emulator, "OnsMqttGroupIdList", params)
    assert response.status_code == 200, response.text
    rows = _as_dicts_answered(emulator.store, listed, with_tags=False)
    assert len(rows) == (3 if named else 2)
    expected = _expected_bytes(response.json()["RequestId"], {"MqttGroupIdDo": rows})
    assert response.content == expected


@pytest.mark.parametrize(
    ("params", "keep"),
    [
        ({}, None),
        ({"Tags": '[{"key":"env","value":"dev"}]'}, lambda tags: ("env", "dev") in tags),
        ({"Tag.1.Key": "env", "Tag.1.Value": "nowhere"}, lambda tags: False),
    ],
)
def test_list_group_id_answers_the_bytes_of_a_dict_per_gid(
    emulator: RunningEmulator, params: dict[str, str], keep: Any
) -> None:
    _seed(emulator.store, emulator.instance_id)
    response = call(
        emulator, "ListGroupId", {"InstanceId": emulator.instance_id, **params}, version=ONSMQTT
    )
    assert response.status_code == 200, response.text
    rows = _as_dicts_answered(emulator.store, [emulator.instance_id], with_tags=True, keep=keep)
    assert response.content == _expected_bytes(response.json()["RequestId"], rows)


def test_a_shared_instance_lists_its_naming_and_its_own_gids_only(
    emulator: RunningEmulator,
) -> None:
    _seed(emulator.store, emulator.instance_id)
    response = call(emulator, "ListGroupId", {"InstanceId": SHARED[0]}, version=ONSMQTT)
    assert response.json()["Data"] == [
        {
            "GroupId": "GID_a",
            "InstanceId": SHARED[0],
            "IndependentNaming": False,
            "CreateTime": 2**40,
            "UpdateTime": 2**40,
            "Tags": [],
        }
    ]


def test_the_xml_listing_holds_every_row_and_its_tags(emulator: RunningEmulator) -> None:
    _seed(emulator.store, emulator.instance_id)
    response = call(
        emulator,
        "ListGroupId",
        {"InstanceId": emulator.instance_id},
        version=ONSMQTT,
        response_format="XML",
    )
    root = ET.fromstring(response.content)
    rows = root.findall("Data")
    assert [row.findtext("GroupId") for row in rows] == ["GID_other", "GID_plain", "GID_tagged"]
    assert [row.findtext("IndependentNaming") for row in rows] == ["true"] * 3
    tagged = rows[2].findall("Tags")
    assert [(t.findtext("TagKey"), t.findtext("TagValue")) for t in tagged] == [
        ("team", "订单"),
        ("env", 'q"uote'),
    ]
    assert rows[1].findall("Tags") == []
