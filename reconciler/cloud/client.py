"""``OnsClient``: one typed method per OnsMqtt* action of ONS 2019-02-14, signed, paced,
retried and logged by the shared core in ``reconciler.cloud.rpc``, and the capabilities a plan
and an apply use (``reconciler.cloud.capabilities``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Literal

from reconciler.cloud.capabilities import (
    ONS_QUERY_RATE,
    Confirmed,
    OnlineClients,
    WireCall,
    create_confirmed,
)
from reconciler.cloud.error_codes import NO_CLIENT_ONLINE_CODE
from reconciler.cloud.pacing import Pacing
from reconciler.cloud.responses import GroupIdListResponse, GroupIdRecord, RequestIdResponse
from reconciler.cloud.retry import RetryPolicy
from reconciler.cloud.rpc import ApiProduct, RpcClient, present, redacted_parameters
from reconciler.cloud.signing import API_VERSION
from reconciler.errors import CloudApiError, NotFoundError
from reconciler.ratelimit import Rate

if TYPE_CHECKING:
    from reconciler.cloud.query_responses import ClientInfo, StatsData

__all__ = [
    "ACTIONS",
    "DEFAULT_RATE_LIMITS",
    "GROUP_ACTIONS",
    "ONS_PRODUCT",
    "QUERY_ACTIONS",
    "OnsClient",
    "RetryPolicy",
    "redacted_parameters",
]

GROUP_ID_CREATE = "OnsMqttGroupIdCreate"
GROUP_ID_DELETE = "OnsMqttGroupIdDelete"
GROUP_ID_LIST = "OnsMqttGroupIdList"
QUERY_HISTORY_ONLINE = "OnsMqttQueryHistoryOnline"
QUERY_CLIENT_BY_TOPIC = "OnsMqttQueryClientByTopic"
QUERY_CLIENT_BY_GROUP_ID = "OnsMqttQueryClientByGroupId"
QUERY_CLIENT_BY_CLIENT_ID = "OnsMqttQueryClientByClientId"
QUERY_MSG_TRANS_TREND = "OnsMqttQueryMsgTransTrend"

GROUP_ACTIONS = frozenset({GROUP_ID_CREATE, GROUP_ID_DELETE, GROUP_ID_LIST})
QUERY_ACTIONS = frozenset(
    {
        QUERY_HISTORY_ONLINE,
        QUERY_CLIENT_BY_TOPIC,
        QUERY_CLIENT_BY_GROUP_ID,
        QUERY_CLIENT_BY_CLIENT_ID,
        QUERY_MSG_TRANS_TREND,
    }
)
ACTIONS = GROUP_ACTIONS | QUERY_ACTIONS
# Pacing ourselves to the query actions' documented rate avoids spending retries on
# Throttling.User answers. The GID actions have no documented limit.
DEFAULT_RATE_LIMITS: Mapping[str, Rate] = dict.fromkeys(QUERY_ACTIONS, ONS_QUERY_RATE)
# The codes that mean "this GID does not exist" (others name a missing instance or topic).
GROUP_NOT_FOUND_CODES = frozenset({"BIZ_SUBSCRIPTION_NOT_FOUND", "BIZ_PUBLISH_INFO_NOT_FOUND"})
ONS_PACING = Pacing(DEFAULT_RATE_LIMITS, per="client")

ONS_PRODUCT = ApiProduct(
    label="ONS 2019-02-14", service="ons", version=API_VERSION, actions=ACTIONS, pacing=ONS_PACING
)


class OnsClient(RpcClient):
    """Client of the MQTT management API (ONS 2019-02-14) for one region."""

    product = ONS_PRODUCT

    # -- group management --------------------------------------------------------------------

    def list_group_ids(self, instance_id: str | None = None) -> list[GroupIdRecord]:
        """Every GID of the instance (of the account's non-namespaced instances if None)."""
        params = present(InstanceId=instance_id)
        return self._typed(GROUP_ID_LIST, params, GroupIdListResponse).data.items

    def create_call(
        self,
        group_id: str,
        *,
        instance_id: str | None,
        topic: str | None = None,
        tags: str | None = None,
    ) -> WireCall:
        """OnsMqttGroupIdCreate as sent; the region is one of the action's own parameters.
        This API tags no GID: the file's checks refuse tags on its instances before a plan."""
        if tags is not None:
            raise ValueError(f"{group_id}: ONS 2019-02-14 cannot create a GID with tags")
        params = present(
            RegionId=self.region, InstanceId=instance_id, GroupId=group_id, Topic=topic or None
        )
        return WireCall(GROUP_ID_CREATE, params)

    def delete_call(self, group_id: str, *, instance_id: str | None) -> WireCall:
        params = present(RegionId=self.region, InstanceId=instance_id, GroupId=group_id)
        return WireCall(GROUP_ID_DELETE, params)

    def create_group_id(
        self,
        group_id: str,
        *,
        instance_id: str | None,
        topic: str | None = None,
        tags: str | None = None,
    ) -> str:
        """Create the GID; returns the RequestId. AlreadyExistsError if it exists."""
        call = self.create_call(group_id, instance_id=instance_id, topic=topic, tags=tags)
        return self._typed(call.action, call.params, RequestIdResponse).request_id

    def delete_group_id(self, group_id: str, *, instance_id: str | None) -> str:
        """Delete the GID; returns the RequestId. NotFoundError if it does not exist."""
        call = self.delete_call(group_id, instance_id=instance_id)
        return self._typed(call.action, call.params, RequestIdResponse).request_id

    def create_group(
        self, group_id: str, *, instance_id: str, topic: str | None, tags: str | None = None
    ) -> Confirmed:
        return create_confirmed(self, group_id, instance_id=instance_id, topic=topic, tags=tags)

    def delete_group(self, group_id: str, *, instance_id: str) -> Confirmed:
        """Done when deleted, or when the service says the GID itself does not exist (a
        missing instance or topic has codes of its own, and fails)."""
        try:
            request_id = self.delete_group_id(group_id, instance_id=instance_id)
        except NotFoundError as err:
            if err.code in GROUP_NOT_FOUND_CODES:
                return Confirmed("already gone", err.request_id)
            raise
        return Confirmed("deleted", request_id)

    def online_clients(
        self, group_id: str, *, instance_id: str, known_ids: Sequence[str] = ()
    ) -> OnlineClients:
        """The GID's online clients counted by the service (paced: 30 a minute); a GID
        deleted since it was listed has none. ``known_ids`` are not needed here."""
        try:
            return OnlineClients(self.query_client_by_group_id(group_id, instance_id=instance_id))
        except NotFoundError:
            return OnlineClients(0)

    # -- device queries (rate-limited by the service) ------------------------------------------

    def query_client_by_group_id(self, group_id: str, *, instance_id: str | None) -> int:
        """How many clients of the GID are online now."""
        params = present(GroupId=group_id, InstanceId=instance_id)
        return self._online_count(QUERY_CLIENT_BY_GROUP_ID, params)

    def query_client_by_topic(
        self, parent_topic: str, sub_topic: str = "", *, instance_id: str | None
    ) -> int:
        """How many clients subscribed to the topic are online now."""
        params = present(ParentTopic=parent_topic, InstanceId=instance_id)
        params["SubTopic"] = sub_topic  # required by the service, even when empty
        return self._online_count(QUERY_CLIENT_BY_TOPIC, params)

    def query_client_by_client_id(self, client_id: str, *, instance_id: str | None) -> ClientInfo:
        from reconciler.cloud.query_responses import ClientInfoResponse  # noqa: PLC0415

        params = present(ClientId=client_id, InstanceId=instance_id)
        return self._typed(QUERY_CLIENT_BY_CLIENT_ID, params, ClientInfoResponse).client_info

    def query_history_online(
        self, group_id: str, begin_ms: int, end_ms: int, *, instance_id: str | None
    ) -> StatsData:
        """Online counts of the GID over time (the service cuts the range to one day)."""
        from reconciler.cloud.query_responses import StatsResponse  # noqa: PLC0415

        params = present(
            GroupId=group_id, BeginTime=str(begin_ms), EndTime=str(end_ms), InstanceId=instance_id
        )
        return self._typed(QUERY_HISTORY_ONLINE, params, StatsResponse).data

    def query_msg_trans_trend(
        self,
        parent_topic: str,
        begin_ms: int,
        end_ms: int,
        *,
        instance_id: str,
        trans_type: Literal["PUB", "SUB"] = "PUB",
        tps_type: Literal["TPS", "SUM"] = "TPS",
        sub_topic: str | None = None,
        msg_type: Literal["P2P", "SUB"] | None = None,
        qos: int | None = None,
    ) -> StatsData:
        """Message rates (``TPS``) or totals (``SUM``) of a topic over time."""
        from reconciler.cloud.query_responses import StatsResponse  # noqa: PLC0415

        params = present(
            ParentTopic=parent_topic,
            BeginTime=str(begin_ms),
            EndTime=str(end_ms),
            InstanceId=instance_id,
            TransType=trans_type,
            TpsType=tps_type,
            SubTopic=sub_topic,
            MsgType=msg_type,
            Qos=None if qos is None else str(qos),
        )
        return self._typed(QUERY_MSG_TRANS_TREND, params, StatsResponse).data

    def _online_count(self, action: str, params: Mapping[str, str]) -> int:
        from reconciler.cloud.query_responses import ClientSetResponse  # noqa: PLC0415

        try:
            return self._typed(action, params, ClientSetResponse).client_set.online_count
        except CloudApiError as err:
            if err.code == NO_CLIENT_ONLINE_CODE:
                return 0
            raise
