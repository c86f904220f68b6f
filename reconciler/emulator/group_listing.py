"""The rows of a GID listing as both APIs answer them: ``OnsMqttGroupIdList`` (ONS 2019-02-14)
and ``ListGroupId`` (OnsMqtt 2020-04-20, which adds each GID's ``Tags``), in one field order.

A listing holds up to thousands of GIDs, so its rows stay columns (``protocol.Records``) from
the store to the encoder: no ``GroupRecord`` or dict per row on the JSON path.
"""

from __future__ import annotations

from collections.abc import Mapping

from reconciler.emulator.group_tags import tags_body
from reconciler.emulator.protocol import Records
from reconciler.emulator.store import GroupColumns

FIELDS = ("GroupId", "InstanceId", "IndependentNaming", "CreateTime", "UpdateTime")
FIELDS_WITH_TAGS = (*FIELDS, "Tags")


def listing_records(
    columns: GroupColumns, independent_naming: Mapping[str, bool], *, with_tags: bool
) -> Records:
    """The listed GIDs; ``independent_naming`` is each listed instance's naming."""
    naming = [independent_naming[instance_id] for instance_id in columns.instance_ids]
    values = [
        columns.group_ids,
        columns.instance_ids,
        naming,
        columns.create_times,
        columns.update_times,
    ]
    if not with_tags:
        return Records(FIELDS, values)
    # A fresh list per GID, as the dicts of the XML answer would otherwise share one.
    tags = [tags_body(pairs) if pairs else [] for pairs in columns.tags]
    return Records(FIELDS_WITH_TAGS, [*values, tags])
