"""The Tea SDKs of either API vs the emulator: alibabacloud-ons20190214 1.0.2 (parameters in a
form body, no RegionId) and alibabacloud-onsmqtt20200420 1.7.1 in both of its signature modes:
the default V3 (action and version only in x-acs-* headers) and ``signature_algorithm='v2'``
(V1, action and version in the query). What both promise runs for each SDK and mode; the rest
is marked for its API."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from alibabacloud_ons20190214 import models
from alibabacloud_ons20190214.client import Client
from alibabacloud_onsmqtt20200420 import models as mqtt_models
from alibabacloud_onsmqtt20200420.client import Client as MqttClient
from alibabacloud_tea_openapi.exceptions import (
    ClientException,
    ServerException,
    ThrottlingException,
)
from Tea.exceptions import TeaException

from reconciler.ratelimit import Rate
from tests.fixtures.sdk import HOUR, T0, tea_config

MODES = ["v3", "v2"]


def _client(emulator, *, key=None, secret=None, token=None):
    return Client(tea_config(emulator, key=key, secret=secret, token=token))


def _mqtt_client(emulator, mode: str) -> MqttClient:
    config = tea_config(emulator)
    if mode == "v2":
        config.signature_algorithm = "v2"
    return MqttClient(config)


def _tea_error(call):
    with pytest.raises(TeaException) as caught:
        call()
    err = caught.value
    return err.code, err.data["statusCode"], err.data["RequestId"]


def _error(call) -> TeaException:
    with pytest.raises(TeaException) as caught:
        call()
    return caught.value


@dataclass(frozen=True)
class GroupCalls:
    """One SDK's (and signature mode's) GID calls, as the shared tests make them."""

    client: Callable[[Any], Any]
    create: Callable[[Any, str, str], Any]  # (client, group_id, instance_id) -> response
    rows: Callable[[Any, str], list[Any]]  # (client, instance_id) -> the listing's rows
    delete: Callable[[Any, str, str], Any]
    exists_code: str


def _mqtt_calls(mode: str) -> GroupCalls:
    return GroupCalls(
        client=lambda emulator: _mqtt_client(emulator, mode),
        create=lambda c, gid, inst: c.create_group_id(
            mqtt_models.CreateGroupIdRequest(group_id=gid, instance_id=inst)
        ),
        rows=lambda c, inst: (
            c.list_group_id(mqtt_models.ListGroupIdRequest(instance_id=inst)).body.data
        ),
        delete=lambda c, gid, inst: c.delete_group_id(
            mqtt_models.DeleteGroupIdRequest(group_id=gid, instance_id=inst)
        ),
        exists_code="GroupIdAlreadyExsited",
    )


SDKS = {
    "ons": GroupCalls(
        client=_client,
        create=lambda c, gid, inst: c.ons_mqtt_group_id_create(
            models.OnsMqttGroupIdCreateRequest(group_id=gid, instance_id=inst)
        ),
        rows=lambda c, inst: (
            c.ons_mqtt_group_id_list(
                models.OnsMqttGroupIdListRequest(instance_id=inst)
            ).body.data.mqtt_group_id_do
        ),
        delete=lambda c, gid, inst: c.ons_mqtt_group_id_delete(
            models.OnsMqttGroupIdDeleteRequest(group_id=gid, instance_id=inst)
        ),
        exists_code="BIZ_SUBSCRIPTION_EXISTED",
    ),
    **{f"onsmqtt-{mode}": _mqtt_calls(mode) for mode in MODES},
}


@pytest.mark.parametrize("sdk", list(SDKS))
def test_group_management_round_trip(emulator, sdk):
    calls, inst = SDKS[sdk], emulator.instance_id
    client = calls.client(emulator)
    created = calls.create(client, f"GID_tea_{sdk}", inst)
    assert created.headers
    assert created.body.request_id
    [row] = calls.rows(client, inst)
    assert (row.group_id, row.instance_id, row.independent_naming) == (f"GID_tea_{sdk}", inst, True)
    assert row.create_time == row.update_time > 0
    calls.delete(client, f"GID_tea_{sdk}", inst)
    assert calls.rows(client, inst) == []


@pytest.mark.parametrize("sdk", list(SDKS))
def test_a_duplicate_create_is_refused_with_the_apis_code(emulator, sdk):
    calls, inst = SDKS[sdk], emulator.instance_id
    client = calls.client(emulator)
    calls.create(client, "GID_dup", inst)
    code, status, request_id = _tea_error(lambda: calls.create(client, "GID_dup", inst))
    assert (code, status) == (calls.exists_code, 400)
    assert request_id


# --- ONS 2019-02-14 only ---------------------------------------------------------------------


@pytest.mark.api("ons")
def test_a_gid_is_created_with_its_topic(emulator):
    client, inst = _client(emulator), emulator.instance_id
    client.ons_mqtt_group_id_create(
        models.OnsMqttGroupIdCreateRequest(group_id="GID_tea", instance_id=inst, topic="orders")
    )
    assert emulator.store.groups([inst])[0].topic == "orders"


@pytest.mark.api("ons")
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


@pytest.mark.api("ons")
def test_wrong_secret(emulator):
    client = _client(emulator, secret="wrong")
    code, status, request_id = _tea_error(
        lambda: client.ons_mqtt_group_id_list(
            models.OnsMqttGroupIdListRequest(instance_id=emulator.instance_id)
        )
    )
    assert (code, status) == ("SignatureDoesNotMatch", 400)
    assert request_id


@pytest.mark.api("ons")
def test_unknown_key(emulator):
    client = _client(emulator, key="LTAI-nobody")
    code, status, _ = _tea_error(
        lambda: client.ons_mqtt_group_id_list(
            models.OnsMqttGroupIdListRequest(instance_id=emulator.instance_id)
        )
    )
    assert (code, status) == ("InvalidAccessKeyId.NotFound", 404)


@pytest.mark.api("ons")
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


@pytest.mark.api("ons")
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


@pytest.mark.api("ons")
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


@pytest.mark.api("ons")
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


# --- OnsMqtt 2020-04-20 only -----------------------------------------------------------------


@pytest.mark.api("onsmqtt")
@pytest.mark.parametrize("mode", MODES)
def test_onsmqtt_listing_rows_carry_their_tags(emulator, mode):
    client, inst = _mqtt_client(emulator, mode), emulator.instance_id
    tags = json.dumps([{"key": "team", "value": "orders"}, {"key": "env", "value": "prod"}])
    created = client.create_group_id(
        mqtt_models.CreateGroupIdRequest(group_id="GID_tags", instance_id=inst, tags=tags)
    )
    assert created.status_code == 200
    client.create_group_id(mqtt_models.CreateGroupIdRequest(group_id="GID_bare", instance_id=inst))
    rows = client.list_group_id(mqtt_models.ListGroupIdRequest(instance_id=inst)).body.data
    by_name = {row.group_id: [(tag.tag_key, tag.tag_value) for tag in row.tags] for row in rows}
    assert by_name == {"GID_bare": [], "GID_tags": [("team", "orders"), ("env", "prod")]}
    # The SDK's ListGroupId filter takes the same form.
    request = mqtt_models.ListGroupIdRequest(instance_id=inst, tags=tags)
    assert [row.group_id for row in client.list_group_id(request).body.data] == ["GID_tags"]


@pytest.mark.api("onsmqtt")
@pytest.mark.parametrize("mode", MODES)
def test_session_actions_answer_from_the_devices(emulator, mode):
    store, inst = emulator.store, emulator.instance_id
    store.add_group(inst, "GID_orders")
    store.add_client("GID_orders@@@on", instance_id=inst)
    store.add_client("GID_orders@@@off", instance_id=inst, online=False)
    client = _mqtt_client(emulator, mode)
    one = client.query_session_by_client_id(
        mqtt_models.QuerySessionByClientIdRequest(client_id="GID_orders@@@on", instance_id=inst)
    ).body
    assert one.online_status is True
    batch = client.batch_query_session_by_client_ids(
        mqtt_models.BatchQuerySessionByClientIdsRequest(
            client_id_list=["GID_orders@@@on", "GID_orders@@@off", "GID_orders@@@never"],
            instance_id=inst,
        )
    ).body
    assert [(s.client_id, s.online_status) for s in batch.online_status_list] == [
        ("GID_orders@@@on", True),
        ("GID_orders@@@off", False),
        ("GID_orders@@@never", False),
    ]


@pytest.mark.api("onsmqtt")
@pytest.mark.parametrize("mode", MODES)
def test_list_instances(emulator, mode):
    emulator.store.add_instance("mqtt-cn-shared", region="cn-shanghai", independent_naming=False)
    body = _mqtt_client(emulator, mode).list_instances(mqtt_models.ListInstancesRequest()).body
    assert (body.code, body.success) == ("200", "true")
    by_id = {i.instance_id: i for i in body.instances}
    assert set(by_id) == {emulator.instance_id, "mqtt-cn-shared"}
    shared = by_id["mqtt-cn-shared"]
    assert (shared.region_id, shared.instance_status) == ("cn-shanghai", 5)
    assert shared.kernel_version and shared.expire_time > shared.create_time
    assert shared.mqtt_tags == []


@pytest.mark.api("onsmqtt")
@pytest.mark.parametrize("mode", MODES)
def test_error_codes(emulator, mode):
    client, inst = _mqtt_client(emulator, mode), emulator.instance_id
    request = mqtt_models.CreateGroupIdRequest(group_id="GID_dup", instance_id=inst)
    client.create_group_id(request)
    err = _error(lambda: client.create_group_id(request))
    assert isinstance(err, ClientException)
    assert (err.code, err.status_code) == ("GroupIdAlreadyExsited", 400)
    assert err.request_id
    bad = mqtt_models.CreateGroupIdRequest(group_id="GID", instance_id=inst)
    err = _error(lambda: client.create_group_id(bad))
    assert (err.code, err.status_code) == ("ParameterFieldCheckFailed", 400)
    unknown = mqtt_models.ListGroupIdRequest(instance_id="mqtt-cn-unknown")
    err = _error(lambda: client.list_group_id(unknown))
    assert (err.code, err.status_code) == ("InstanceNotFound", 400)


@pytest.mark.api("onsmqtt")
@pytest.mark.parametrize("mode", MODES)
def test_name_used_by_another_shared_instance(emulator, mode):
    emulator.store.add_instance("mqtt-shared-a", independent_naming=False)
    emulator.store.add_instance("mqtt-shared-b", independent_naming=False)
    emulator.store.add_group("mqtt-shared-a", "GID_one")
    client = _mqtt_client(emulator, mode)
    err = _error(
        lambda: client.create_group_id(
            mqtt_models.CreateGroupIdRequest(group_id="GID_one", instance_id="mqtt-shared-b")
        )
    )
    assert (err.code, err.status_code) == ("GroupIdAlreadyUsedByOtherUsers", 400)


@pytest.mark.api("onsmqtt")
@pytest.mark.parametrize("mode", MODES)
def test_throttling_carries_a_retry_after(emulator, mode):
    emulator.server.set_throttle("ListGroupId", Rate(1, 60))
    emulator.server.set_throttle("QuerySessionByClientId", Rate(1, 60))
    client, inst = _mqtt_client(emulator, mode), emulator.instance_id
    request = mqtt_models.ListGroupIdRequest(instance_id=inst)
    client.list_group_id(request)
    err = _error(lambda: client.list_group_id(request))
    # The SDK turns an x-acs-retry-after header into ThrottlingException (milliseconds).
    assert isinstance(err, ThrottlingException)
    assert (err.code, err.status_code) == ("Throttling.User", 400)
    assert 0 < err.retry_after <= 60_000
    session = mqtt_models.QuerySessionByClientIdRequest(
        client_id="GID_orders@@@1", instance_id=inst
    )
    client.query_session_by_client_id(session)
    err = _error(lambda: client.query_session_by_client_id(session))
    assert isinstance(err, ThrottlingException)
    assert (err.code, err.status_code) == ("SystemOverFlow", 500)


@pytest.mark.api("onsmqtt")
def test_a_server_fault_is_a_server_exception(emulator):
    emulator.store.add_group(emulator.instance_id, "GID_x")
    emulator.store.close()  # the next store access fails: the emulator answers InternalError
    err = _error(
        lambda: _mqtt_client(emulator, "v3").list_group_id(
            mqtt_models.ListGroupIdRequest(instance_id=emulator.instance_id)
        )
    )
    assert isinstance(err, ServerException)
    assert (err.code, err.status_code) == ("InternalError", 500)


@pytest.mark.api("onsmqtt")
@pytest.mark.parametrize("mode", MODES)
def test_device_credential_lifecycle(emulator, mode):
    client, inst = _mqtt_client(emulator, mode), emulator.instance_id
    device = {"client_id": f"GID_cred@@@{mode}", "instance_id": inst}
    issued = client.register_device_credential(
        mqtt_models.RegisterDeviceCredentialRequest(**device)
    ).body.device_credential
    assert (issued.client_id, issued.instance_id) == (f"GID_cred@@@{mode}", inst)
    assert issued.device_access_key_id.startswith("DC.")
    assert issued.create_time == issued.update_time > 0
    got = client.get_device_credential(
        mqtt_models.GetDeviceCredentialRequest(**device)
    ).body.device_credential
    assert got.to_map() == issued.to_map()
    refreshed = client.refresh_device_credential(
        mqtt_models.RefreshDeviceCredentialRequest(**device)
    ).body.device_credential
    assert refreshed.device_access_key_id == issued.device_access_key_id
    assert refreshed.device_access_key_secret != issued.device_access_key_secret
    gone = client.un_register_device_credential(
        mqtt_models.UnRegisterDeviceCredentialRequest(**device)
    )
    assert gone.status_code == 200 and gone.body.request_id
    err = _error(
        lambda: client.get_device_credential(mqtt_models.GetDeviceCredentialRequest(**device))
    )
    assert isinstance(err, ClientException)
    assert (err.code, err.status_code) == ("DeviceCredentialNotFound", 400)
