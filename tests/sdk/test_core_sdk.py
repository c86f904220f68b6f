"""aliyun-python-sdk-core + aliyun-python-sdk-ons 3.1.8 (parameters in the query) vs emulator."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkcore.auth.credentials import StsTokenCredential
from aliyunsdkcore.client import AcsClient
from aliyunsdkons.request.v20190214.OnsMqttGroupIdCreateRequest import OnsMqttGroupIdCreateRequest
from aliyunsdkons.request.v20190214.OnsMqttGroupIdDeleteRequest import OnsMqttGroupIdDeleteRequest
from aliyunsdkons.request.v20190214.OnsMqttGroupIdListRequest import OnsMqttGroupIdListRequest
from aliyunsdkons.request.v20190214.OnsMqttQueryClientByClientIdRequest import (
    OnsMqttQueryClientByClientIdRequest,
)
from aliyunsdkons.request.v20190214.OnsMqttQueryClientByGroupIdRequest import (
    OnsMqttQueryClientByGroupIdRequest,
)
from aliyunsdkons.request.v20190214.OnsMqttQueryClientByTopicRequest import (
    OnsMqttQueryClientByTopicRequest,
)
from aliyunsdkons.request.v20190214.OnsMqttQueryHistoryOnlineRequest import (
    OnsMqttQueryHistoryOnlineRequest,
)
from aliyunsdkons.request.v20190214.OnsMqttQueryMsgTransTrendRequest import (
    OnsMqttQueryMsgTransTrendRequest,
)

from reconciler.ratelimit import Rate
from tests.fixtures.emulator_store import group_ids
from tests.fixtures.sdk import HOUR, T0


def _client(emulator, *, key=None, secret=None, region="cn-hangzhou"):
    return AcsClient(key or emulator.access_key_id, secret or emulator.access_key_secret, region)


def _at(emulator, request, **params):
    """Point the request at the emulator over plain http and fill its parameters."""
    request.set_endpoint(emulator.url.removeprefix("http://"))
    request.set_protocol_type("http")
    for name, value in params.items():
        getattr(request, f"set_{name}")(value)
    return request


def _do(emulator, request, **params):
    return json.loads(_client(emulator).do_action_with_exception(_at(emulator, request, **params)))


def _server_error(emulator, request, client=None, **params):
    with pytest.raises(ServerException) as caught:
        (client or _client(emulator)).do_action_with_exception(_at(emulator, request, **params))
    return caught.value


def test_group_management_round_trip(emulator):
    inst = emulator.instance_id
    created = _do(
        emulator, OnsMqttGroupIdCreateRequest(), GroupId="GID_core", InstanceId=inst, Topic="orders"
    )
    assert created["RequestId"]
    listed = _do(emulator, OnsMqttGroupIdListRequest(), InstanceId=inst)
    rows = listed["Data"]["MqttGroupIdDo"]
    assert [(r["GroupId"], r["InstanceId"], r["IndependentNaming"]) for r in rows] == [
        ("GID_core", inst, True)
    ]
    assert rows[0]["CreateTime"] == rows[0]["UpdateTime"] > 0
    _do(emulator, OnsMqttGroupIdDeleteRequest(), GroupId="GID_core", InstanceId=inst)
    assert (
        _do(emulator, OnsMqttGroupIdListRequest(), InstanceId=inst)["Data"]["MqttGroupIdDo"] == []
    )


def test_query_actions(seeded):
    inst = seeded.instance_id
    by_group = _do(
        seeded, OnsMqttQueryClientByGroupIdRequest(), GroupId="GID_orders", InstanceId=inst
    )
    assert by_group["MqttClientSetDo"]["OnlineCount"] == 2
    by_topic = _do(
        seeded,
        OnsMqttQueryClientByTopicRequest(),
        ParentTopic="orders",
        SubTopic="/room/1/",
        InstanceId=inst,
    )
    assert by_topic["MqttClientSetDo"]["OnlineCount"] == 1
    info = _do(
        seeded, OnsMqttQueryClientByClientIdRequest(), ClientId="GID_orders@@@dev1", InstanceId=inst
    )
    assert info["MqttClientInfoDo"]["SocketChannel"] == "/10.0.0.7:50112"
    assert info["MqttClientInfoDo"]["SubScriptonData"]["SubscriptionDo"] == [
        {"ParentTopic": "orders", "SubTopic": "/room/1/", "Qos": 1}
    ]
    history = _do(
        seeded,
        OnsMqttQueryHistoryOnlineRequest(),
        GroupId="GID_orders",
        BeginTime=T0,
        EndTime=T0 + 3 * HOUR,
        InstanceId=inst,
    )
    assert [p["Y"] for p in history["Data"]["Records"]["StatsDataDo"]] == [1, 2, 2]
    trend = _do(
        seeded,
        OnsMqttQueryMsgTransTrendRequest(),
        ParentTopic="orders",
        TpsType="SUM",
        TransType="PUB",
        Qos=1,
        BeginTime=T0,
        EndTime=T0 + 3 * HOUR,
        InstanceId=inst,
    )
    assert trend["Data"]["Records"]["StatsDataDo"] == [
        {"X": T0, "Y": 150},
        {"X": T0 + HOUR, "Y": 240},
    ]


def test_wrong_secret_becomes_the_sdks_invalid_access_key_secret(emulator):
    client = _client(emulator, secret="wrong-secret")
    err = _server_error(
        emulator, OnsMqttGroupIdListRequest(), client, InstanceId=emulator.instance_id
    )
    # The SDK recognised our "server string to sign" as its own and diagnosed the secret.
    assert err.get_error_code() == "InvalidAccessKeySecret"
    assert err.get_http_status() == 400
    assert err.get_request_id()


def test_unknown_key(emulator):
    client = _client(emulator, key="LTAI-nobody")
    err = _server_error(
        emulator, OnsMqttGroupIdListRequest(), client, InstanceId=emulator.instance_id
    )
    assert (err.get_error_code(), err.get_http_status()) == ("InvalidAccessKeyId.NotFound", 404)


def test_duplicate_create_and_missing_delete(emulator):
    inst = emulator.instance_id
    _do(emulator, OnsMqttGroupIdCreateRequest(), GroupId="GID_dup", InstanceId=inst)
    err = _server_error(emulator, OnsMqttGroupIdCreateRequest(), GroupId="GID_dup", InstanceId=inst)
    assert (err.get_error_code(), err.get_http_status()) == ("BIZ_SUBSCRIPTION_EXISTED", 400)
    err = _server_error(
        emulator, OnsMqttGroupIdDeleteRequest(), GroupId="GID_none", InstanceId=inst
    )
    assert err.get_error_code() == "BIZ_SUBSCRIPTION_NOT_FOUND"
    assert err.get_request_id()


def test_throttling(seeded):
    seeded.server.set_throttle("OnsMqttQueryClientByGroupId", Rate(1, 60))
    params = {"GroupId": "GID_orders", "InstanceId": seeded.instance_id}
    _do(seeded, OnsMqttQueryClientByGroupIdRequest(), **params)
    err = _server_error(seeded, OnsMqttQueryClientByGroupIdRequest(), **params)
    assert (err.get_error_code(), err.get_http_status()) == ("Throttling.User", 400)


def test_client_region_must_match_the_instance(emulator):
    client = _client(emulator, region="cn-beijing")
    err = _server_error(
        emulator, OnsMqttGroupIdListRequest(), client, InstanceId=emulator.instance_id
    )
    assert (err.get_error_code(), err.get_http_status()) == ("BIZ_INSTANCE_NOT_FOUND", 404)


def test_sts_credentials(emulator):
    emulator.store.add_account("STS.core", "sts-secret", sts_tokens=["token-core"])
    client = AcsClient(
        region_id="cn-hangzhou",
        credential=StsTokenCredential("STS.core", "sts-secret", "token-core"),
    )
    body = client.do_action_with_exception(
        _at(emulator, OnsMqttGroupIdListRequest(), InstanceId=emulator.instance_id)
    )
    assert json.loads(body)["Data"]["MqttGroupIdDo"] == []
    bad = AcsClient(
        region_id="cn-hangzhou", credential=StsTokenCredential("STS.core", "sts-secret", "stolen")
    )
    err = _server_error(emulator, OnsMqttGroupIdListRequest(), bad, InstanceId=emulator.instance_id)
    assert err.get_error_code() == "InvalidSecurityToken.MismatchWithAccessKey"


def test_get_method_as_older_sdk_releases_send(emulator):
    request = OnsMqttGroupIdCreateRequest()
    request.set_method("GET")
    _do(emulator, request, GroupId="GID_viaget", InstanceId=emulator.instance_id)
    assert group_ids(emulator.store, emulator.instance_id) == ["GID_viaget"]


def test_xml_format(emulator):
    emulator.store.add_group(emulator.instance_id, "GID_xmlcore")
    request = _at(emulator, OnsMqttGroupIdListRequest(), InstanceId=emulator.instance_id)
    request.set_accept_format("XML")
    with pytest.warns(DeprecationWarning):
        body = _client(emulator).do_action(request)
    root = ET.fromstring(body)
    assert root.tag == "OnsMqttGroupIdListResponse"
    assert root.findtext("Data/MqttGroupIdDo/GroupId") == "GID_xmlcore"
