"""alibabacloud-ons20190214 1.0.2 (Tea: parameters in a form body, no RegionId) vs the emulator."""

from __future__ import annotations

import pytest
from alibabacloud_ons20190214 import models
from alibabacloud_ons20190214.client import Client
from Tea.exceptions import TeaException

from reconciler.ratelimit import Rate
from tests.fixtures.sdk import HOUR, T0, tea_config


def _client(emulator, *, key=None, secret=None, token=None):
    return Client(tea_config(emulator, key=key, secret=secret, token=token))


def _tea_error(call):
    with pytest.raises(TeaException) as caught:
        call()
    err = caught.value
    return err.code, err.data["statusCode"], err.data["RequestId"]


def test_group_management_round_trip(emulator):
    client, inst = _client(emulator), emulator.instance_id
    created = client.ons_mqtt_group_id_create(
        models.OnsMqttGroupIdCreateRequest(group_id="GID_tea", instance_id=inst, topic="orders")
    )
    assert created.headers
    assert created.body.request_id
    listed = client.ons_mqtt_group_id_list(models.OnsMqttGroupIdListRequest(instance_id=inst)).body
    [row] = listed.data.mqtt_group_id_do
    assert (row.group_id, row.instance_id, row.independent_naming) == ("GID_tea", inst, True)
    assert row.create_time == row.update_time > 0
    client.ons_mqtt_group_id_delete(
        models.OnsMqttGroupIdDeleteRequest(group_id="GID_tea", instance_id=inst)
    )
    listed = client.ons_mqtt_group_id_list(models.OnsMqttGroupIdListRequest(instance_id=inst)).body
    assert listed.data.mqtt_group_id_do == []


def test_query_actions(seeded):
    client, inst = _client(seeded), seeded.instance_id
    by_group = client.ons_mqtt_query_client_by_group_id(
        models.OnsMqttQueryClientByGroupIdRequest(group_id="GID_orders", instance_id=inst)
    ).body
    assert by_group.mqtt_client_set_do.online_count == 2
    by_topic = client.ons_mqtt_query_client_by_topic(
        models.OnsMqttQueryClientByTopicRequest(
            parent_topic="orders", sub_topic="", instance_id=inst
        )
    ).body
    assert by_topic.mqtt_client_set_do.online_count == 2
    info = client.ons_mqtt_query_client_by_client_id(
        models.OnsMqttQueryClientByClientIdRequest(client_id="GID_orders@@@dev1", instance_id=inst)
    ).body.mqtt_client_info_do
    assert (info.client_id, info.online, info.last_touch, info.socket_channel) == (
        "GID_orders@@@dev1",
        True,
        T0,
        "/10.0.0.7:50112",
    )
    [sub] = info.sub_scripton_data.subscription_do
    assert (sub.parent_topic, sub.sub_topic, sub.qos) == ("orders", "/room/1/", 1)
    history = client.ons_mqtt_query_history_online(
        models.OnsMqttQueryHistoryOnlineRequest(
            group_id="GID_orders", begin_time=T0, end_time=T0 + 3 * HOUR, instance_id=inst
        )
    ).body.data
    assert [(p.x, p.y) for p in history.records.stats_data_do] == [
        (T0, 1),
        (T0 + HOUR, 2),
        (T0 + 2 * HOUR, 2),
    ]
    assert history.title and history.xunit and history.yunit
    trend = client.ons_mqtt_query_msg_trans_trend(
        models.OnsMqttQueryMsgTransTrendRequest(
            parent_topic="orders",
            tps_type="TPS",
            trans_type="PUB",
            msg_type="SUB",
            qos=1,
            begin_time=T0,
            end_time=T0 + 3 * HOUR,
            instance_id=inst,
        )
    ).body.data
    assert [(p.x, p.y) for p in trend.records.stats_data_do] == [(T0, 2.5), (T0 + HOUR, 4)]


def test_wrong_secret(emulator):
    client = _client(emulator, secret="wrong")
    code, status, request_id = _tea_error(
        lambda: client.ons_mqtt_group_id_list(
            models.OnsMqttGroupIdListRequest(instance_id=emulator.instance_id)
        )
    )
    assert (code, status) == ("SignatureDoesNotMatch", 400)
    assert request_id


def test_unknown_key(emulator):
    client = _client(emulator, key="LTAI-nobody")
    code, status, _ = _tea_error(
        lambda: client.ons_mqtt_group_id_list(
            models.OnsMqttGroupIdListRequest(instance_id=emulator.instance_id)
        )
    )
    assert (code, status) == ("InvalidAccessKeyId.NotFound", 404)


def test_duplicate_create_and_missing_delete(emulator):
    client, inst = _client(emulator), emulator.instance_id
    request = models.OnsMqttGroupIdCreateRequest(group_id="GID_dup", instance_id=inst)
    client.ons_mqtt_group_id_create(request)
    assert _tea_error(lambda: client.ons_mqtt_group_id_create(request))[:2] == (
        "BIZ_SUBSCRIPTION_EXISTED",
        400,
    )
    missing = models.OnsMqttGroupIdDeleteRequest(group_id="GID_none", instance_id=inst)
    assert _tea_error(lambda: client.ons_mqtt_group_id_delete(missing))[:2] == (
        "BIZ_SUBSCRIPTION_NOT_FOUND",
        400,
    )


def test_throttling(seeded):
    seeded.server.set_throttle("OnsMqttQueryClientByTopic", Rate(1, 60))
    client = _client(seeded)
    request = models.OnsMqttQueryClientByTopicRequest(
        parent_topic="orders", sub_topic="", instance_id=seeded.instance_id
    )
    client.ons_mqtt_query_client_by_topic(request)
    assert _tea_error(lambda: client.ons_mqtt_query_client_by_topic(request))[:2] == (
        "Throttling.User",
        400,
    )


def test_sts_token(emulator):
    emulator.store.add_account("STS.tea", "sts-secret", sts_tokens=["token-tea"])
    request = models.OnsMqttGroupIdListRequest(instance_id=emulator.instance_id)
    good = _client(emulator, key="STS.tea", secret="sts-secret", token="token-tea")
    assert good.ons_mqtt_group_id_list(request).body.data.mqtt_group_id_do == []
    bad = _client(emulator, key="STS.tea", secret="sts-secret", token="other")
    assert (
        _tea_error(lambda: bad.ons_mqtt_group_id_list(request))[0]
        == "InvalidSecurityToken.MismatchWithAccessKey"
    )


def test_shared_namespace_instance_without_instance_id(emulator):
    # Tea sends no RegionId, so a shared-namespace instance is found across regions.
    emulator.store.add_instance("MQ_INST_shared", region="cn-shanghai", independent_naming=False)
    client = _client(emulator)
    client.ons_mqtt_group_id_create(models.OnsMqttGroupIdCreateRequest(group_id="GID_noinst"))
    [row] = client.ons_mqtt_group_id_list(
        models.OnsMqttGroupIdListRequest()
    ).body.data.mqtt_group_id_do
    assert (row.group_id, row.instance_id, row.independent_naming) == (
        "GID_noinst",
        "MQ_INST_shared",
        False,
    )
