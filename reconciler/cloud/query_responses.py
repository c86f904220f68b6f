"""Pydantic models of the query and instance actions' success bodies (who is online, statistics,
sessions, instances), apart from the GID actions' in ``responses``: each client method imports
them when it runs, so a plan that only lists GIDs does not pay for building these classes.
"""

from __future__ import annotations

from pydantic import Field

from reconciler.cloud.responses import RequestIdResponse, WireModel
from reconciler.models import empty_list


class ClientSet(WireModel):
    online_count: int = Field(alias="OnlineCount")


class ClientSetResponse(RequestIdResponse):
    client_set: ClientSet = Field(alias="MqttClientSetDo")


class Subscription(WireModel):
    parent_topic: str = Field(alias="ParentTopic")
    sub_topic: str = Field(default="", alias="SubTopic")
    qos: int = Field(alias="Qos")


class SubscriptionList(WireModel):
    items: list[Subscription] = Field(default_factory=empty_list, alias="SubscriptionDo")


class ClientInfo(WireModel):
    client_id: str = Field(alias="ClientId")
    online: bool = Field(alias="Online")
    last_touch: int | None = Field(default=None, alias="LastTouch")  # ms since the epoch
    socket_channel: str | None = Field(default=None, alias="SocketChannel")  # "/ip:port"
    # "SubScriptonData" is the service's own spelling.
    subscriptions: SubscriptionList = Field(
        default_factory=SubscriptionList, alias="SubScriptonData"
    )


class ClientInfoResponse(RequestIdResponse):
    client_info: ClientInfo = Field(alias="MqttClientInfoDo")


class StatsPoint(WireModel):
    x: int = Field(alias="X")  # ms since the epoch
    y: int | float = Field(alias="Y")  # counts are ints, TPS may be fractional


class StatsRecords(WireModel):
    items: list[StatsPoint] = Field(default_factory=empty_list, alias="StatsDataDo")


class StatsData(WireModel):
    title: str = Field(default="", alias="Title")
    x_unit: str = Field(default="", alias="XUnit")
    y_unit: str = Field(default="", alias="YUnit")
    records: StatsRecords = Field(default_factory=StatsRecords, alias="Records")

    @property
    def points(self) -> list[StatsPoint]:
        return self.records.items


class StatsResponse(RequestIdResponse):
    data: StatsData = Field(alias="Data")


# -- OnsMqtt 2020-04-20 ----------------------------------------------------------------------


class SessionResponse(RequestIdResponse):
    online: bool = Field(alias="OnlineStatus")


class SessionStatus(WireModel):
    client_id: str = Field(alias="ClientId")
    online: bool = Field(alias="OnlineStatus")


class SessionListResponse(RequestIdResponse):
    items: list[SessionStatus] = Field(default_factory=empty_list, alias="OnlineStatusList")


class InstanceTag(WireModel):
    key: str = Field(alias="TagKey")
    value: str = Field(default="", alias="TagValue")


class MqttInstance(WireModel):
    """An instance as ListInstances describes it (it does not tell the naming mode)."""

    instance_id: str = Field(alias="InstanceId")
    instance_name: str | None = Field(default=None, alias="InstanceName")
    region_id: str | None = Field(default=None, alias="RegionId")
    instance_status: int | None = Field(default=None, alias="InstanceStatus")
    instance_type: int | None = Field(default=None, alias="InstanceType")
    kernel_version: str | None = Field(default=None, alias="KernelVersion")
    create_time: int | None = Field(default=None, alias="CreateTime")  # ms since the epoch
    expire_time: int | None = Field(default=None, alias="ExpireTime")
    tags: list[InstanceTag] = Field(default_factory=empty_list, alias="MqttTags")


class InstanceListResponse(RequestIdResponse):
    items: list[MqttInstance] = Field(default_factory=empty_list, alias="Instances")
