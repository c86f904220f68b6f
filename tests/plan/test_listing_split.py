"""A listing's records become the inventory's CloudGroups without a second validation: built
from the records' own values, they equal CloudGroups validated from the same fields, for rows
of both APIs (no tags, tags, none), rows leaving their instance blank, and other instances'."""

from __future__ import annotations

from typing import Any

from reconciler.cloud.responses import GroupIdRecord
from reconciler.models import CloudGroup, tags_text
from reconciler.plan.builder import split_listing, to_cloud_groups

INSTANCE = "post-cn-own"
OTHER = "post-cn-other"


def _record(group_id: str, instance_id: str, **wire: Any) -> GroupIdRecord:
    row = {
        "GroupId": group_id,
        "InstanceId": instance_id,
        "IndependentNaming": False,
        "CreateTime": 11,
        "UpdateTime": 12,
        "Ignored": "an unknown field the service may add",
        **wire,
    }
    return GroupIdRecord.model_validate(row)


def _validated(record: GroupIdRecord, instance_id: str | None = None) -> CloudGroup:
    """The slow path: every field named, validated."""
    return CloudGroup(
        group_id=record.group_id,
        instance_id=instance_id or record.instance_id,
        independent_naming=record.independent_naming,
        create_time=record.create_time,
        update_time=record.update_time,
        tags=record.tags_text(),
    )


RECORDS = [
    _record("GID_ons", INSTANCE),
    _record("GID_blank", ""),
    _record("GID_no_tags", INSTANCE, Tags=[]),
    _record(
        "GID_tagged",
        INSTANCE,
        Tags=[{"TagKey": "team", "TagValue": "订单"}, {"TagKey": "env"}],
        IndependentNaming=True,
    ),
    _record("GID_theirs", OTHER, Tags=[{"TagKey": "a", "TagValue": "b"}]),
]


def test_a_listing_record_has_a_cloud_groups_fields_in_its_order() -> None:
    # to_cloud_groups copies a record's values as they are: the names must match.
    assert tuple(GroupIdRecord.model_fields) == tuple(CloudGroup.model_fields)


def test_cloud_groups_built_from_records_equal_validated_ones() -> None:
    for instance_id in (None, INSTANCE):
        built = to_cloud_groups(RECORDS, instance_id)
        expected = [_validated(record, instance_id) for record in RECORDS]
        assert built == expected
        assert [g.model_dump_json() for g in built] == [g.model_dump_json() for g in expected]
        assert [g.model_fields_set for g in built] == [g.model_fields_set for g in expected]
    tagged = to_cloud_groups(RECORDS[2:4])
    assert [g.tags for g in tagged] == [tags_text({}), tags_text({"team": "订单", "env": ""})]
    assert to_cloud_groups(RECORDS[:1])[0].tags is None


def test_a_built_cloud_group_holds_its_own_values() -> None:
    record = RECORDS[1]
    (group,) = to_cloud_groups([record], INSTANCE)
    assert group.__dict__ is not record.__dict__
    assert record.instance_id == ""
    assert group.instance_id == INSTANCE


def test_split_listing_keeps_other_instances_rows_apart_in_listing_order() -> None:
    extra = _record("GID_theirs_too", OTHER)
    inventory, others = split_listing("cn-x", INSTANCE, [*RECORDS, extra])
    assert inventory.region == "cn-x"
    assert inventory.instance_id == INSTANCE
    assert list(inventory.groups) == [_validated(r, INSTANCE) for r in RECORDS[:4]]
    assert list(others) == [("cn-x", OTHER)]
    assert others[("cn-x", OTHER)] == [_validated(RECORDS[4]), _validated(extra)]


def test_an_empty_listing_is_an_empty_inventory() -> None:
    inventory, others = split_listing("cn-x", INSTANCE, [])
    assert inventory.groups == ()
    assert others == {}
