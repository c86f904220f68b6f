"""``OnsMqttClient``: the MQTT management API of the current generation (product OnsMqtt,
version 2020-04-20, endpoint ``onsmqtt.<region>.aliyuncs.com``), on the shared core of
``reconciler.cloud.rpc`` (V1 signature, retries, redaction, debug lines).

It offers the capabilities the planner and applier use (``reconciler.cloud.capabilities``, as
``OnsClient`` does, with the same ``GroupIdRecord`` inventory), so either client serves them,
plus the session look-ups and ``ListInstances`` of this generation, and the CustomAuth calls
(``custom_auth.CustomAuthCalls``).

The service limits Create/Delete/ListGroupId to 10 calls a second per account, whatever the
instance or region. So its pacing counts per account (``ONSMQTT_PACING``): every client handed
the run's ``RateLimits`` (``ClientRegistry`` makes one) shares the account's budget. A
throttled answer halves the bucket's rate, which then recovers slowly (see
``reconciler.ratelimit.AdaptiveBucket``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from reconciler.cloud.capabilities import (
    ONLINE_CHECKS,
    Confirmed,
    OnlineClients,
    WireCall,
    create_confirmed,
    listed,
)
from reconciler.cloud.custom_auth import CUSTOM_AUTH_ACTIONS, CustomAuthCalls
from reconciler.cloud.error_codes import NAME_TAKEN_CODE
from reconciler.cloud.pacing import Pacing
from reconciler.cloud.responses import GroupIdDataResponse, GroupIdRecord, RequestIdResponse
from reconciler.cloud.rpc import ApiProduct
from reconciler.errors import CloudApiError, CloudError, NotFoundError
from reconciler.ratelimit import Rate

if TYPE_CHECKING:
    from reconciler.cloud.query_responses import MqttInstance

__all__ = [
    "ACCOUNT_RATE_LIMITS",
    "ACTIONS",
    "API_VERSION",
    "BATCH_QUERY_MAX_IDS",
    "GROUP_ACTIONS",
    "ONSMQTT_PRODUCT",
    "OnsMqttClient",
]

API_VERSION = "2020-04-20"
CREATE_GROUP_ID = "CreateGroupId"
DELETE_GROUP_ID = "DeleteGroupId"
LIST_GROUP_ID = "ListGroupId"
QUERY_SESSION = "QuerySessionByClientId"
BATCH_QUERY_SESSIONS = "BatchQuerySessionByClientIds"
LIST_INSTANCES = "ListInstances"

GROUP_ACTIONS = frozenset({CREATE_GROUP_ID, DELETE_GROUP_ID, LIST_GROUP_ID})
ACTIONS = (
    GROUP_ACTIONS | CUSTOM_AUTH_ACTIONS | {QUERY_SESSION, BATCH_QUERY_SESSIONS, LIST_INSTANCES}
)
# The service's documented limits per account; ListInstances has none documented.
ACCOUNT_RATE_LIMITS: Mapping[str, Rate] = {
    **{action: Rate(10, 1.0) for action in GROUP_ACTIONS},
    QUERY_SESSION: Rate(500, 1.0),
    BATCH_QUERY_SESSIONS: Rate(100, 1.0),
}
# BatchQuerySessionByClientIds takes at most this many ids a call.
BATCH_QUERY_MAX_IDS = 10

# Counted per account; --rate replaces the limit of the creates and deletes.
ONSMQTT_PACING = Pacing(
    ACCOUNT_RATE_LIMITS, per="account", writes=frozenset({CREATE_GROUP_ID, DELETE_GROUP_ID})
)

ONSMQTT_PRODUCT = ApiProduct(
    label="OnsMqtt 2020-04-20",
    service="onsmqtt",
    version=API_VERSION,
    actions=ACTIONS,
    pacing=ONSMQTT_PACING,
)


class OnsMqttClient(CustomAuthCalls):
    """Client of the OnsMqtt 2020-04-20 API for one region."""

    product = ONSMQTT_PRODUCT

    # -- group management --------------------------------------------------------------------

    def list_group_ids(self, instance_id: str | None = None) -> list[GroupIdRecord]:
        """Every GID of the instance. With None, the GIDs of the region's shared-namespace
        instances (what ``OnsMqttGroupIdList`` without an instance answers): this API always
        wants an instance, so it lists the region's instances and then each of them."""
        if instance_id is None:
            return self._shared_namespace_groups()
        params = {"InstanceId": instance_id}
        return self._typed(LIST_GROUP_ID, params, GroupIdDataResponse).items

    def create_call(self, group_id: str, *, instance_id: str, topic: str | None = None) -> WireCall:
        """CreateGroupId as sent. ``topic`` is accepted for the planner's sake and not sent:
        this API binds no topic to a GID."""
        return WireCall(CREATE_GROUP_ID, {"InstanceId": instance_id, "GroupId": group_id})

    def delete_call(self, group_id: str, *, instance_id: str) -> WireCall:
        return WireCall(DELETE_GROUP_ID, {"InstanceId": instance_id, "GroupId": group_id})

    def create_group_id(self, group_id: str, *, instance_id: str, topic: str | None = None) -> str:
        """Create the GID; returns the RequestId. AlreadyExistsError if it exists.

        A name taken in the shared namespace (by another instance or another account) is a
        ``CloudApiError`` saying so.
        """
        call = self.create_call(group_id, instance_id=instance_id, topic=topic)
        try:
            return self._typed(call.action, call.params, RequestIdResponse).request_id
        except CloudApiError as err:
            if err.code == NAME_TAKEN_CODE:
                raise _name_taken(group_id, instance_id, err) from err
            raise

    def delete_group_id(self, group_id: str, *, instance_id: str) -> str:
        """Delete the GID; returns the RequestId. The service documents no "no such GID"
        answer for this action: ``delete_group`` finds out whether it is gone."""
        call = self.delete_call(group_id, instance_id=instance_id)
        return self._typed(call.action, call.params, RequestIdResponse).request_id

    def create_group(self, group_id: str, *, instance_id: str, topic: str | None) -> Confirmed:
        return create_confirmed(self, group_id, instance_id=instance_id, topic=topic)

    def delete_group(self, group_id: str, *, instance_id: str) -> Confirmed:
        """Done when deleted, or when a failed delete's GID is absent from a fresh listing of
        the instance (an earlier attempt whose answer was lost, or someone else, deleted it).
        Otherwise the delete's own error is raised: it says more than the listing's."""
        try:
            request_id = self.delete_group_id(group_id, instance_id=instance_id)
        except CloudError as err:
            try:
                still_there = listed(self, group_id, instance_id)
            except CloudError:
                raise err from None
            if still_there:
                raise
            gone_id = err.request_id if isinstance(err, CloudApiError) else None
            return Confirmed("already gone", gone_id)
        return Confirmed("deleted", request_id)

    def online_clients(
        self, group_id: str, *, instance_id: str, known_ids: Sequence[str]
    ) -> OnlineClients:
        """Which of the GID's known client ids are connected: this API cannot count a GID's
        clients, so without known ids they cannot be counted (``reason`` says so)."""
        if not known_ids:
            return OnlineClients(None, reason=ONLINE_CHECKS["onsmqtt"].note(known_ids))
        statuses = self.batch_query_sessions(known_ids, instance_id=instance_id)
        online = tuple(client_id for client_id, is_online in statuses.items() if is_online)
        return OnlineClients(len(online), online)

    # -- sessions and instances --------------------------------------------------------------

    def query_session(self, client_id: str, *, instance_id: str) -> bool:
        """Whether the client id is connected now."""
        from reconciler.cloud.query_responses import SessionResponse  # noqa: PLC0415

        params = {"ClientId": client_id, "InstanceId": instance_id}
        return self._typed(QUERY_SESSION, params, SessionResponse).online

    def batch_query_sessions(
        self, client_ids: Iterable[str], *, instance_id: str
    ) -> dict[str, bool]:
        """Whether each client id is connected now, in the order given (repeats asked once).

        The service takes at most ``BATCH_QUERY_MAX_IDS`` ids a call, so larger lists go out
        in batches, each paced by the account's bucket for the action.
        """
        from reconciler.cloud.query_responses import SessionListResponse  # noqa: PLC0415

        unique = list(dict.fromkeys(client_ids))
        found: dict[str, bool] = {}
        for start in range(0, len(unique), BATCH_QUERY_MAX_IDS):
            batch = unique[start : start + BATCH_QUERY_MAX_IDS]
            params = {f"ClientIdList.{n}": client_id for n, client_id in enumerate(batch, 1)}
            params["InstanceId"] = instance_id
            answer = self._typed(BATCH_QUERY_SESSIONS, params, SessionListResponse)
            statuses = {item.client_id: item.online for item in answer.items}
            missing = [client_id for client_id in batch if client_id not in statuses]
            if missing:
                raise CloudError(
                    f"{BATCH_QUERY_SESSIONS}: the answer from {self.endpoint} lacks {missing[0]}",
                    action=BATCH_QUERY_SESSIONS,
                )
            found.update((client_id, statuses[client_id]) for client_id in batch)
        return found

    def list_instances(self) -> list[MqttInstance]:
        """The account's MQTT instances in this client's region."""
        from reconciler.cloud.query_responses import InstanceListResponse  # noqa: PLC0415

        return self._typed(LIST_INSTANCES, {}, InstanceListResponse).items

    def _shared_namespace_groups(self) -> list[GroupIdRecord]:
        records: list[GroupIdRecord] = []
        for instance in self.list_instances():
            if instance.region_id not in (None, self.region):
                continue
            try:
                rows = self.list_group_ids(instance.instance_id)
            except NotFoundError:
                continue  # released since the instance list was taken
            records.extend(row for row in rows if not row.independent_naming)
        return records


def _name_taken(group_id: str, instance_id: str, err: CloudApiError) -> CloudApiError:
    return CloudApiError(
        action=CREATE_GROUP_ID,
        status=err.status,
        code=err.code,
        message=(
            f"{group_id} cannot be created on {instance_id}: the name is already used by"
            " another instance or account sharing its namespace; choose another name"
            f" (the service said: {err.api_message})"
        ),
        request_id=err.request_id,
    )
