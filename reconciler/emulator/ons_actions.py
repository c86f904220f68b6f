"""The eight OnsMqtt* actions of ONS 2019-02-14: parameter checks, naming rules, regions and the
BIZ_* answers.

Each handler takes the request's parameters and the calling account (its AccessKeyId) and
returns the success body without ``RequestId`` (the server adds it), or raises ``ApiError``
with the service's code. A call sees only its account's instances: another account's instance
answers exactly as a missing one does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from reconciler.emulator.group_listing import listing_records
from reconciler.emulator.protocol import ApiError, invalid, missing, optional, required
from reconciler.emulator.store import (
    EmulatorStore,
    InstanceRecord,
    StatsPoint,
)
from reconciler.models import GROUP_ID_RE, GROUP_ID_RULE, KNOWN_REGIONS, client_id_problem
from reconciler.ratelimit import Rate

VERSION = "2019-02-14"
SERVICE = "ons"
GROUP_ACTIONS = ("OnsMqttGroupIdCreate", "OnsMqttGroupIdDelete", "OnsMqttGroupIdList")
QUERY_ACTIONS = (
    "OnsMqttQueryHistoryOnline",
    "OnsMqttQueryClientByTopic",
    "OnsMqttQueryClientByGroupId",
    "OnsMqttQueryClientByClientId",
    "OnsMqttQueryMsgTransTrend",
)
ALL_ACTIONS = GROUP_ACTIONS + QUERY_ACTIONS
ONE_DAY_MS = 24 * 60 * 60 * 1000

Params = Mapping[str, str]
Body = dict[str, Any]


def throttled(action: str, rate: Rate, wait: float) -> ApiError:
    """The answer to a call over its limit (no retry-after header: this API sends none)."""
    return ApiError(
        400, "Throttling.User", f"Request was denied due to user flow control ({rate})."
    )


def _instance_not_found(instance_id: str) -> ApiError:
    return ApiError(404, "BIZ_INSTANCE_NOT_FOUND", f"The instance {instance_id} does not exist.")


def _group_not_found(group_id: str) -> ApiError:
    return ApiError(400, "BIZ_SUBSCRIPTION_NOT_FOUND", f"The group {group_id} does not exist.")


def _topic_not_found(topic: str) -> ApiError:
    return ApiError(400, "BIZ_TOPIC_NOT_FOUND", f"The topic {topic} does not exist.")


def _check_group_id(group_id: str) -> None:
    if not GROUP_ID_RE.match(group_id):
        raise invalid(f"GroupId {group_id} is invalid: it {GROUP_ID_RULE}.")


def _millis(params: Params, name: str) -> int:
    text = required(params, name)
    try:
        return int(text)
    except ValueError as exc:
        raise invalid(f"{name} must be a time in milliseconds, not {text!r}.") from exc


def _time_range(params: Params) -> tuple[int, int]:
    begin, end = _millis(params, "BeginTime"), _millis(params, "EndTime")
    if begin > end:
        raise invalid("BeginTime must not be after EndTime.")
    # The service answers at most one day of data, counted from BeginTime.
    return begin, min(end, begin + ONE_DAY_MS)


def _stats(title: str, x_unit: str, y_unit: str, points: Sequence[StatsPoint]) -> Body:
    records = [{"X": p.x, "Y": int(p.y) if p.y == int(p.y) else round(p.y, 3)} for p in points]
    return {
        "Data": {
            "Title": title,
            "XUnit": x_unit,
            "YUnit": y_unit,
            "Records": {"StatsDataDo": records},
        }
    }


class OnsActions:
    def __init__(self, store: EmulatorStore) -> None:
        self.store = store
        self.handlers: dict[str, Callable[[Params, str], Body]] = {
            "OnsMqttGroupIdCreate": self.group_id_create,
            "OnsMqttGroupIdDelete": self.group_id_delete,
            "OnsMqttGroupIdList": self.group_id_list,
            "OnsMqttQueryHistoryOnline": self.query_history_online,
            "OnsMqttQueryClientByTopic": self.query_client_by_topic,
            "OnsMqttQueryClientByGroupId": self.query_client_by_group_id,
            "OnsMqttQueryClientByClientId": self.query_client_by_client_id,
            "OnsMqttQueryMsgTransTrend": self.query_msg_trans_trend,
        }

    # --- instance resolution --------------------------------------------------------------

    def _region(self, params: Params, account: str) -> str | None:
        region = optional(params, "RegionId")
        if (
            region is not None
            and region not in KNOWN_REGIONS
            and not any(inst.region == region for inst in self.store.owned_instances(account))
        ):
            raise ApiError(400, "BIZ_REGION_NOT_FOUND", f"The region {region} does not exist.")
        return region

    def _named_instance(self, params: Params, account: str) -> InstanceRecord | None:
        """The instance named by ``InstanceId`` (checked against ``RegionId``), else None."""
        region = self._region(params, account)
        instance_id = optional(params, "InstanceId")
        if instance_id is None:
            return None
        instance = self.store.owned_instance(account, instance_id)
        if instance is None:
            raise _instance_not_found(instance_id)
        if region is not None and region != instance.region:
            raise ApiError(
                404,
                "BIZ_INSTANCE_NOT_FOUND",
                f"The instance {instance_id} does not exist in region {region}.",
            )
        return instance

    def _shared_instances(self, params: Params, account: str) -> list[InstanceRecord]:
        """Instances without an independent namespace that an unnamed call may address.

        The Tea SDK sends no RegionId, so then every region counts. None at all means the
        caller had to name a (namespaced) instance.
        """
        region = self._region(params, account)
        shared = [
            inst
            for inst in self.store.owned_instances(account)
            if not inst.independent_naming and (region is None or inst.region == region)
        ]
        if not shared:
            raise missing("InstanceId")
        return shared

    def _addressed_instances(self, params: Params, account: str) -> list[InstanceRecord]:
        """The named instance, or else every shared-namespace instance the call may address."""
        named = self._named_instance(params, account)
        return [named] if named is not None else self._shared_instances(params, account)

    def _instance_of_group(self, params: Params, account: str, group_id: str) -> InstanceRecord:
        named = self._named_instance(params, account)
        if named is not None:
            if self.store.group(named.instance_id, group_id) is None:
                raise _group_not_found(group_id)
            return named
        holders = set(self.store.instances_holding(group_id))
        for inst in self._shared_instances(params, account):
            if inst.instance_id in holders:
                return inst
        raise _group_not_found(group_id)

    # --- group management -----------------------------------------------------------------

    def group_id_create(self, params: Params, account: str) -> Body:
        group_id = required(params, "GroupId")
        _check_group_id(group_id)
        instance = self._named_instance(params, account)
        if instance is None:
            shared = self._shared_instances(params, account)
            if len(shared) != 1:
                raise missing("InstanceId")
            instance = shared[0]
        topic = optional(params, "Topic")
        if topic is not None and not self.store.has_topic(instance.instance_id, topic):
            raise _topic_not_found(topic)
        with self.store.transaction() as db:
            # Shared-namespace instances of the account see each other's names.
            if not instance.independent_naming:
                other = self.store.shared_namespace_holder(db, instance.instance_id, group_id)
                if other is not None:
                    raise ApiError(
                        400,
                        "BIZ_SUBSCRIPTION_EXISTED",
                        f"The group {group_id} already exists in instance {other}, which shares"
                        " the account-wide namespace.",
                    )
            if not self.store.insert_group(db, instance.instance_id, group_id, topic):
                raise ApiError(
                    400, "BIZ_SUBSCRIPTION_EXISTED", f"The group {group_id} already exists."
                )
        return {}

    def group_id_delete(self, params: Params, account: str) -> Body:
        group_id = required(params, "GroupId")
        _check_group_id(group_id)
        instance = self._instance_of_group(params, account, group_id)
        with self.store.transaction() as db:
            if not self.store.delete_group(db, instance.instance_id, group_id):
                raise _group_not_found(group_id)
        return {}

    def group_id_list(self, params: Params, account: str) -> Body:
        naming = {
            inst.instance_id: inst.independent_naming
            for inst in self._addressed_instances(params, account)
        }
        columns = self.store.group_columns(list(naming))
        return {"Data": {"MqttGroupIdDo": listing_records(columns, naming, with_tags=False)}}

    # --- device queries -------------------------------------------------------------------

    def query_client_by_group_id(self, params: Params, account: str) -> Body:
        group_id = required(params, "GroupId")
        _check_group_id(group_id)
        instance = self._instance_of_group(params, account, group_id)
        count = self.store.online_count_by_group(instance.instance_id, group_id)
        return {"MqttClientSetDo": {"OnlineCount": count}}

    def query_client_by_topic(self, params: Params, account: str) -> Body:
        parent_topic = required(params, "ParentTopic")
        sub_topic = params.get("SubTopic", "").strip()
        instances = self._addressed_instances(params, account)
        holders = [i for i in instances if self.store.has_topic(i.instance_id, parent_topic)]
        if not holders:
            raise _topic_not_found(parent_topic)
        count = sum(
            self.store.online_count_by_topic(i.instance_id, parent_topic, sub_topic)
            for i in holders
        )
        return {"MqttClientSetDo": {"OnlineCount": count}}

    def query_client_by_client_id(self, params: Params, account: str) -> Body:
        client_id = required(params, "ClientId")
        problem = client_id_problem(client_id)
        if problem is not None:
            raise invalid(f"The ClientId is invalid: {problem}.")
        for inst in self._addressed_instances(params, account):
            client = self.store.client(inst.instance_id, client_id)
            if client is not None:
                subscriptions = [
                    {"ParentTopic": s.parent_topic, "SubTopic": s.sub_topic, "Qos": s.qos}
                    for s in client.subscriptions
                ]
                return {
                    "MqttClientInfoDo": {
                        "ClientId": client.client_id,
                        "Online": client.online,
                        "LastTouch": client.last_touch,
                        "SocketChannel": client.socket,
                        "SubScriptonData": {"SubscriptionDo": subscriptions},
                    }
                }
        raise ApiError(
            400, "BIZ_CONSUMER_NOT_ONLINE", f"The client {client_id} has never been online."
        )

    def query_history_online(self, params: Params, account: str) -> Body:
        group_id = required(params, "GroupId")
        begin, end = _time_range(params)
        _check_group_id(group_id)
        instance = self._instance_of_group(params, account, group_id)
        points = self.store.online_history(instance.instance_id, group_id, begin, end)
        return _stats(f"{group_id} online clients", "time(ms)", "clients", points)

    def query_msg_trans_trend(self, params: Params, account: str) -> Body:
        begin, end = _time_range(params)
        instance_id = required(params, "InstanceId")
        parent_topic = required(params, "ParentTopic")
        tps_type = required(params, "TpsType")
        trans_type = required(params, "TransType")
        if tps_type not in ("TPS", "SUM"):
            raise invalid(f"TpsType must be TPS or SUM, not {tps_type}.")
        if trans_type not in ("PUB", "SUB"):
            raise invalid(f"TransType must be PUB or SUB, not {trans_type}.")
        msg_type = optional(params, "MsgType")
        if msg_type is not None and msg_type not in ("P2P", "SUB"):
            raise invalid(f"MsgType must be P2P or SUB, not {msg_type}.")
        qos_text = optional(params, "Qos")
        if qos_text is not None and qos_text not in ("0", "1", "2"):
            raise invalid(f"Qos must be 0, 1 or 2, not {qos_text}.")
        instance = self._named_instance(params, account)
        assert instance is not None and instance.instance_id == instance_id
        if not self.store.has_topic(instance_id, parent_topic):
            raise _topic_not_found(parent_topic)
        points = self.store.message_trend(
            instance_id,
            parent_topic,
            begin,
            end,
            trans_type=trans_type,
            summed=tps_type == "SUM",
            sub_topic=optional(params, "SubTopic"),
            msg_type=msg_type,
            qos=None if qos_text is None else int(qos_text),
        )
        unit = "msg" if tps_type == "SUM" else "msg/s"
        return _stats(f"{parent_topic} {trans_type} {tps_type}", "time(ms)", unit, points)
