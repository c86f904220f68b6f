"""Pydantic models of the documented success bodies of the GID actions, wire names kept as
aliases (the query and instance actions' are in ``query_responses``).

Response models ignore unknown fields (unlike our own frozen models): the service may add
fields at any time and that must not break a client.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from reconciler.models import CloudGroup, empty_list, share_fields_set, tags_text


class WireModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True, defer_build=True)


class RequestIdResponse(WireModel):
    """Every answer carries its RequestId; create and delete answer nothing else."""

    request_id: str = Field(alias="RequestId")


class GroupTag(WireModel):
    """One of a GID's tags as ListGroupId answers it."""

    key: str = Field(alias="TagKey")
    value: str = Field(default="", alias="TagValue")


# What a GID without tags reports, shared by every such row.
NO_TAGS = tags_text({})


class GroupIdRecord(CloudGroup):
    """A GID as a listing answers it: the inventory's ``CloudGroup`` itself, read from the
    wire names with the tags made into their text. pydantic-core builds each row once,
    straight from the answer's bytes; copying every row into a CloudGroup after cost a plan
    of 100,000 GIDs a tenth of a second. Unknown fields are ignored, as in every answer."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True, defer_build=True)

    group_id: str = Field(alias="GroupId")
    instance_id: str = Field(alias="InstanceId")
    independent_naming: bool = Field(alias="IndependentNaming")
    create_time: int = Field(alias="CreateTime")  # ms since the epoch
    update_time: int = Field(alias="UpdateTime")
    # OnsMqtt 2020-04-20 only: the ``tags_text`` of the row's tags; None: the row says
    # nothing of tags (ONS 2019-02-14).
    tags: str | None = Field(default=None, alias="Tags")

    @field_validator("tags", mode="before")
    @classmethod
    def _tags_as_text(cls, value: object) -> object:
        """The wire's list of {TagKey, TagValue} as ``tags_text``; nothing else is taken."""
        if value is None:
            return None
        if not isinstance(value, list | tuple):
            raise ValueError("Tags should be a list of {TagKey, TagValue}")
        if not value:
            return NO_TAGS
        tags = [GroupTag.model_validate(item) for item in value]
        return tags_text({tag.key: tag.value for tag in tags})

    @model_validator(mode="after")
    def _shared_fields_set(self) -> GroupIdRecord:
        # A listing of 100,000 rows would otherwise hold 100,000 sets of the same names.
        share_fields_set(self)
        return self

    def belongs_to(self, instance_id: str) -> bool:
        """Whether the row is a GID of ``instance_id`` itself: a shared-namespace listing shows
        other instances' GIDs too, and a row naming no instance is the listed one's."""
        return self.instance_id in ("", instance_id)


class GroupIdList(WireModel):
    items: list[GroupIdRecord] = Field(default_factory=empty_list, alias="MqttGroupIdDo")


class GroupIdListResponse(RequestIdResponse):
    data: GroupIdList = Field(default_factory=GroupIdList, alias="Data")


# -- OnsMqtt 2020-04-20 ----------------------------------------------------------------------
#
# ListGroupId answers the same rows as OnsMqttGroupIdList (plus Tags), directly under ``Data``,
# so both generations produce the same ``GroupIdRecord`` inventory.


class GroupIdDataResponse(RequestIdResponse):
    items: list[GroupIdRecord] = Field(default_factory=empty_list, alias="Data")
