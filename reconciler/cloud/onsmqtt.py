"""``OnsMqtt2020Client``: the MQTT management API of the current generation (product OnsMqtt,
version 2020-04-20, endpoint ``onsmqtt.<region>.aliyuncs.com``), on the shared core of
``reconciler.cloud.rpc`` (V1 signature, retries, redaction, debug lines).

It offers what the planner and applier use of ``OnsMqttClient`` (create, delete and list GIDs,
returning the same ``GroupIdRecord`` inventory), so either client serves them, plus the session
look-ups and ``ListInstances`` of this generation.

The service limits Create/Delete/ListGroupId to 10 calls a second per account, whatever the
instance or region. So its pacing counts per account (``ONSMQTT_PACING``): every client handed
the run's ``RateLimits`` (``ClientRegistry`` makes one) shares the account's budget. A
throttled answer halves the bucket's rate, which then recovers slowly (see
``reconciler.ratelimit.AdaptiveBucket``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from reconciler.cloud.error_codes import NAME_TAKEN_CODE
from reconciler.cloud.pacing import Pacing
from reconciler.cloud.responses import (
    GroupIdDataResponse,
    GroupIdRecord,
    InstanceListResponse,
    MqttInstance,
    RequestIdResponse,
    SessionListResponse,
    SessionResponse,
)
from reconciler.cloud.rpc import ApiProduct, RpcClient
from reconciler.errors import CloudApiError, CloudError, NotFoundError
from reconciler.ratelimit import Rate

__all__ = [
    "ACCOUNT_RATE_LIMITS",
    "ACTIONS",
    "API_VERSION",
    "BATCH_QUERY_MAX_IDS",
    "GROUP_ACTIONS",
    "ONSMQTT_PRODUCT",
    "OnsMqtt2020Client",
]

API_VERSION = "2020-04-20"
CREATE_GROUP_ID = "CreateGroupId"
DELETE_GROUP_ID = "DeleteGroupId"
LIST_GROUP_ID = "ListGroupId"
QUERY_SESSION = "QuerySessionByClientId"
BATCH_QUERY_SESSIONS = "BatchQuerySessionByClientIds"
LIST_INSTANCES = "ListInstances"

GROUP_ACTIONS = frozenset({CREATE_GROUP_ID, DELETE_GROUP_ID, LIST_GROUP_ID})
ACTIONS = GROUP_ACTIONS | {QUERY_SESSION, BATCH_QUERY_SESSIONS, LIST_INSTANCES}
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


class OnsMqtt2020Client(RpcClient):
    """Client of the OnsMqtt 2020-04-20 API for one region."""

    product = ONSMQTT_PRODUCT
    # This generation has no action that counts a GID's online clients.
    counts_online_clients = False

    # -- group management --------------------------------------------------------------------

    def list_group_ids(self, instance_id: str | None = None) -> list[GroupIdRecord]:
        """Every GID of the instance. With None, the GIDs of the region's shared-namespace
        instances (what ``OnsMqttGroupIdList`` without an instance answers): this API always
        wants an instance, so it lists the region's instances and then each of them."""
        if instance_id is None:
            return self._shared_namespace_groups()
        params = {"InstanceId": instance_id}
        return self._typed(LIST_GROUP_ID, params, GroupIdDataResponse).items

    def create_group_id(self, group_id: str, *, instance_id: str, topic: str | None = None) -> str:
        """Create the GID; returns the RequestId. AlreadyExistsError if it exists.

        ``topic`` is accepted for the planner's sake and not sent: this API binds no topic to a
        GID. A name taken in the shared namespace (by another instance or another account) is a
        ``CloudApiError`` saying so.
        """
        params = {"GroupId": group_id, "InstanceId": instance_id}
        try:
            return self._typed(CREATE_GROUP_ID, params, RequestIdResponse).request_id
        except CloudApiError as err:
            if err.code == NAME_TAKEN_CODE:
                raise _name_taken(group_id, instance_id, err) from err
            raise

    def delete_group_id(self, group_id: str, *, instance_id: str) -> str:
        """Delete the GID; returns the RequestId.

        The service documents no "no such GID" answer for this action, so a delete of a GID
        that is already gone fails with some other code: ask ``group_id_gone`` before
        reporting such a failure (the applier counts the delete as done when it says True).
        """
        params = {"GroupId": group_id, "InstanceId": instance_id}
        return self._typed(DELETE_GROUP_ID, params, RequestIdResponse).request_id

    def group_id_gone(self, group_id: str, *, instance_id: str) -> bool:
        """Whether a fresh ListGroupId of the instance no longer shows the GID.

        The check for a failed ``delete_group_id``: an earlier attempt may have deleted it
        (its answer lost), or someone else did. Raises what the listing raises.
        """
        return all(record.group_id != group_id for record in self.list_group_ids(instance_id))

    # -- sessions and instances --------------------------------------------------------------

    def query_session(self, client_id: str, *, instance_id: str) -> bool:
        """Whether the client id is connected now."""
        params = {"ClientId": client_id, "InstanceId": instance_id}
        return self._typed(QUERY_SESSION, params, SessionResponse).online

    def batch_query_sessions(
        self, client_ids: Iterable[str], *, instance_id: str
    ) -> dict[str, bool]:
        """Whether each client id is connected now, in the order given (repeats asked once).

        The service takes at most ``BATCH_QUERY_MAX_IDS`` ids a call, so larger lists go out
        in batches, each paced by the account's bucket for the action.
        """
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

    def query_client_by_group_id(self, group_id: str, *, instance_id: str | None) -> int:
        """Not available: this generation cannot count a GID's online clients (check
        ``counts_online_clients`` first; ask about known client ids with
        ``batch_query_sessions`` instead). Raises CloudError saying so."""
        raise CloudError(
            f"the {self.product.label} API cannot count the online clients of {group_id}"
            " (no such action); list its known client ids to check them instead",
            action="QueryClientByGroupId",
        )

    def list_instances(self) -> list[MqttInstance]:
        """The account's MQTT instances in this client's region."""
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
