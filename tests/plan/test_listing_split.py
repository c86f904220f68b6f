"""A listing's rows are the inventory's CloudGroups as validated from the answer: each holds the
values a CloudGroup validated from the same fields would, for rows of both APIs (no tags,
tags, none), rows leaving their instance blank (given the listed one), and other instances'
(kept apart)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from reconciler.cloud.responses import GroupIdListResponse, GroupIdRecord
from reconciler.models import CloudGroup, tags_text
from reconciler.plan.builder import split_listing

INSTANCE = "post-cn-own"
OTHER = "post-cn-other"


def _row(group_id: str, instance_id: str, **wire: Any) -> dict[str, Any]:
    return {
        "GroupId": group_id,
        "InstanceId": instance_id,
        "IndependentNaming": False,
        "CreateTime": 11,
        "UpdateTime": 12,
        "Ignored": "an unknown field the service may add",
        **wire,
    }


ROWS = [
    _row("GID_ons", INSTANCE),
    _row("GID_blank", ""),
    _row("GID_no_tags", INSTANCE, Tags=[]),
    _row(
        "GID_tagged",
        INSTANCE,
        Tags=[{"TagKey": "team", "TagValue": "订单"}, {"TagKey": "env"}],
        IndependentNaming=True,
    ),
    _row("GID_theirs", OTHER, Tags=[{"TagKey": "a", "TagValue": "b"}]),
]
RECORDS = [GroupIdRecord.model_validate(row) for row in ROWS]


def _validated(row: dict[str, Any], instance_id: str | None = None) -> CloudGroup:
    """The slow path: a CloudGroup, every field named and validated."""
    tags = row.get("Tags")
    text = None if tags is None else tags_text({t["TagKey"]: t.get("TagValue", "") for t in tags})
    return CloudGroup(
        group_id=row["GroupId"],
        instance_id=instance_id or row["InstanceId"],
        independent_naming=row["IndependentNaming"],
        create_time=row["CreateTime"],
        update_time=row["UpdateTime"],
        tags=text,
    )


def _same(group: CloudGroup, expected: CloudGroup) -> None:
    assert isinstance(group, CloudGroup)
    assert group.model_dump() == expected.model_dump()
    assert group.model_dump_json() == expected.model_dump_json()


def test_a_listing_record_is_a_cloud_group_of_the_rows_values() -> None:
    for row, record in zip(ROWS, RECORDS, strict=True):
        _same(record, _validated(row))
    assert [r.tags for r in RECORDS[:4]] == [
        None,
        None,
        tags_text({}),
        tags_text({"team": "订单", "env": ""}),
    ]


def test_records_read_from_an_answers_bytes_are_the_same() -> None:
    body = json.dumps({"RequestId": "r", "Data": {"MqttGroupIdDo": ROWS}})
    read = GroupIdListResponse.model_validate_json(body).data.items
    assert [r.model_dump() for r in read] == [r.model_dump() for r in RECORDS]


@pytest.mark.parametrize(
    "tags",
    ["a=b", {"TagKey": "a"}, [{"TagValue": "no key"}], ["a"], 3],
    ids=["text", "one-object", "no-key", "not-an-object", "number"],
)
def test_tags_other_than_a_list_of_tag_objects_are_refused(tags: object) -> None:
    with pytest.raises(ValueError, match="Tags"):
        GroupIdRecord.model_validate(_row("GID_x", INSTANCE, Tags=tags))


def test_split_listing_keeps_other_instances_rows_apart_in_listing_order() -> None:
    extra_row = _row("GID_theirs_too", OTHER)
    extra = GroupIdRecord.model_validate(extra_row)
    inventory, others = split_listing("cn-x", INSTANCE, [*RECORDS, extra])
    assert inventory.region == "cn-x"
    assert inventory.instance_id == INSTANCE
    assert len(inventory.groups) == 4
    for group, row in zip(inventory.groups, ROWS[:4], strict=True):
        _same(group, _validated(row, INSTANCE))
    assert list(others) == [("cn-x", OTHER)]
    theirs = others[("cn-x", OTHER)]
    assert len(theirs) == 2
    _same(theirs[0], _validated(ROWS[4]))
    _same(theirs[1], _validated(extra_row))


def test_a_row_naming_no_instance_is_given_the_listed_one_and_left_as_it_was() -> None:
    inventory, _ = split_listing("cn-x", INSTANCE, [RECORDS[1]])
    (group,) = inventory.groups
    assert group.instance_id == INSTANCE
    assert RECORDS[1].instance_id == ""


def test_an_empty_listing_is_an_empty_inventory() -> None:
    inventory, others = split_listing("cn-x", INSTANCE, [])
    assert inventory.groups == ()
    assert others == {}


def test_rows_given_the_same_fields_share_one_set_of_their_names() -> None:
    # 100,000 rows each holding their own set of the same names cost a plan 70 MB.
    first, again = (GroupIdRecord.model_validate(_row(f"GID_{n}", INSTANCE)) for n in (1, 2))
    assert first.model_fields_set == {
        "group_id",
        "instance_id",
        "independent_naming",
        "create_time",
        "update_time",
    }
    assert first.model_fields_set is again.model_fields_set
    tagged = GroupIdRecord.model_validate(_row("GID_3", INSTANCE, Tags=[]))
    assert "tags" in tagged.model_fields_set
    assert tagged.model_fields_set is not first.model_fields_set
