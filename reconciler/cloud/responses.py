"""Pydantic models of the documented success bodies of the GID actions, wire names kept as
aliases (the query and instance actions' are in ``query_responses``).

Response models ignore unknown fields (unlike our own frozen models): the service may add
fields at any time and that must not break a client.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class WireModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True, defer_build=True)


class RequestIdResponse(WireModel):
    """Every answer carries its RequestId; create and delete answer nothing else."""

    request_id: str = Field(alias="RequestId")


class GroupIdRecord(WireModel):
    group_id: str = Field(alias="GroupId")
    instance_id: str = Field(alias="InstanceId")
    independent_naming: bool = Field(alias="IndependentNaming")
    create_time: int = Field(alias="CreateTime")  # ms since the epoch
    update_time: int = Field(alias="UpdateTime")

    def belongs_to(self, instance_id: str) -> bool:
        """Whether the row is a GID of ``instance_id`` itself: a shared-namespace listing shows
        other instances' GIDs too, and a row naming no instance is the listed one's."""
        return self.instance_id in ("", instance_id)


class GroupIdList(WireModel):
    items: list[GroupIdRecord] = Field(default_factory=list, alias="MqttGroupIdDo")


class GroupIdListResponse(RequestIdResponse):
    data: GroupIdList = Field(default_factory=GroupIdList, alias="Data")


# -- OnsMqtt 2020-04-20 ----------------------------------------------------------------------
#
# ListGroupId answers the same rows as OnsMqttGroupIdList (plus Tags), directly under ``Data``,
# so both generations produce the same ``GroupIdRecord`` inventory.


class GroupIdDataResponse(RequestIdResponse):
    items: list[GroupIdRecord] = Field(default_factory=list, alias="Data")
