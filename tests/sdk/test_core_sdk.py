"""aliyun-python-sdk-core with either API's request package vs the emulator: aliyun-python-sdk-ons
3.1.8 (ONS 2019-02-14) and aliyun-python-sdk-onsmqtt 1.0.5 (OnsMqtt 2020-04-20, V1, every
parameter in the query). What both promise runs for both; the rest is marked for its API.
aliyun-python-sdk-onsmqtt has no ListInstances request, so that one goes through the core SDK's
CommonRequest, as its users would send it."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

import pytest
from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkcore.auth.credentials import StsTokenCredential
from aliyunsdkcore.client import AcsClient
from aliyunsdkcore.request import CommonRequest
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
from aliyunsdkonsmqtt.request.v20200420.BatchQuerySessionByClientIdsRequest import (
    BatchQuerySessionByClientIdsRequest,
)
from aliyunsdkonsmqtt.request.v20200420.CreateGroupIdRequest import CreateGroupIdRequest
from aliyunsdkonsmqtt.request.v20200420.DeleteGroupIdRequest import DeleteGroupIdRequest
from aliyunsdkonsmqtt.request.v20200420.GetDeviceCredentialRequest import (
    GetDeviceCredentialRequest,
)
from aliyunsdkonsmqtt.request.v20200420.ListGroupIdRequest import ListGroupIdRequest
from aliyunsdkonsmqtt.request.v20200420.QuerySessionByClientIdRequest import (
    QuerySessionByClientIdRequest,
)
from aliyunsdkonsmqtt.request.v20200420.RefreshDeviceCredentialRequest import (
    RefreshDeviceCredentialRequest,
)
from aliyunsdkonsmqtt.request.v20200420.RegisterDeviceCredentialRequest import (
    RegisterDeviceCredentialRequest,
)
from aliyunsdkonsmqtt.request.v20200420.UnRegisterDeviceCredentialRequest import (
    UnRegisterDeviceCredentialRequest,
)

from reconciler.ratelimit import Rate
from tests.fixtures.apis import ApiCase
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


def _do(emulator, request, client=None, **params):
    client = client or _client(emulator)
    return json.loads(client.do_action_with_exception(_at(emulator, request, **params)))


def _server_error(emulator, request, client=None, **params) -> ServerException:
    with pytest.raises(ServerException) as caught:
        _do(emulator, request, client, **params)
    return caught.value


@dataclass(frozen=True)
class Requests:
    """One API's request package, as far as the shared tests use it."""

    create: type[Any]
    delete: type[Any]
    list: type[Any]
    rows_key: tuple[str, ...]  # where the listing's rows are in its answer
    exists_code: str  # a create of a GID that exists
    elsewhere: tuple[str, int]  # asked in another region: the code and status


REQUESTS = {
    "ons": Requests(
        OnsMqttGroupIdCreateRequest,
        OnsMqttGroupIdDeleteRequest,
        OnsMqttGroupIdListRequest,
        ("Data", "MqttGroupIdDo"),
        "BIZ_SUBSCRIPTION_EXISTED",
        ("BIZ_INSTANCE_NOT_FOUND", 404),
    ),
    "onsmqtt": Requests(
        CreateGroupIdRequest,
        DeleteGroupIdRequest,
        ListGroupIdRequest,
        ("Data",),
        "GroupIdAlreadyExsited",
        ("InstanceNotFound", 400),
    ),
}


def _rows(answer: dict[str, Any], requests: Requests) -> list[dict[str, Any]]:
    for key in requests.rows_key:
        answer = answer[key]
    return answer  # type: ignore[return-value]


def test_group_management_round_trip(api_case: ApiCase, emulator):
    requests, inst = REQUESTS[api_case.name], emulator.instance_id
    created = _do(emulator, requests.create(), GroupId="GID_core", InstanceId=inst)
    assert created["RequestId"]
    rows = _rows(_do(emulator, requests.list(), InstanceId=inst), requests)
    assert [(r["GroupId"], r["InstanceId"], r["IndependentNaming"]) for r in rows] == [
        ("GID_core", inst, True)
    ]
    assert rows[0]["CreateTime"] == rows[0]["UpdateTime"] > 0
    _do(emulator, requests.delete(), GroupId="GID_core", InstanceId=inst)
    assert _rows(_do(emulator, requests.list(), InstanceId=inst), requests) == []


@pytest.mark.api("ons")
def test_a_gid_is_created_with_its_topic(api_case: ApiCase, emulator):
    inst = emulator.instance_id
    _do(
        emulator, OnsMqttGroupIdCreateRequest(), GroupId="GID_core", InstanceId=inst, Topic="orders"
    )
    assert emulator.store.groups([inst])[0].topic == "orders"


@pytest.mark.api("ons")
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


def test_wrong_secret_becomes_the_sdks_invalid_access_key_secret(api_case: ApiCase, emulator):
    client = _client(emulator, secret="wrong-secret")
    err = _server_error(
        emulator, REQUESTS[api_case.name].list(), client, InstanceId=emulator.instance_id
    )
    # The SDK recognised our "server string to sign" as its own and diagnosed the secret.
    assert err.get_error_code() == "InvalidAccessKeySecret"
    assert err.get_http_status() == 400
    assert err.get_request_id()


def test_unknown_key(api_case: ApiCase, emulator):
    client = _client(emulator, key="LTAI-nobody")
    err = _server_error(
        emulator, REQUESTS[api_case.name].list(), client, InstanceId=emulator.instance_id
    )
    assert (err.get_error_code(), err.get_http_status()) == ("InvalidAccessKeyId.NotFound", 404)


def test_duplicate_create_is_refused_with_the_apis_code(api_case: ApiCase, emulator):
    requests, inst = REQUESTS[api_case.name], emulator.instance_id
    _do(emulator, requests.create(), GroupId="GID_dup", InstanceId=inst)
    err = _server_error(emulator, requests.create(), GroupId="GID_dup", InstanceId=inst)
    assert (err.get_error_code(), err.get_http_status()) == (requests.exists_code, 400)
    assert err.get_request_id()


@pytest.mark.api("ons")
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


@pytest.mark.api("ons")
def test_throttling(seeded):
    seeded.server.set_throttle("OnsMqttQueryClientByGroupId", Rate(1, 60))
    params = {"GroupId": "GID_orders", "InstanceId": seeded.instance_id}
    _do(seeded, OnsMqttQueryClientByGroupIdRequest(), **params)
    err = _server_error(seeded, OnsMqttQueryClientByGroupIdRequest(), **params)
    assert (err.get_error_code(), err.get_http_status()) == ("Throttling.User", 400)


def test_client_region_must_match_the_instance(api_case: ApiCase, emulator):
    # The SDK's region picks the endpoint; asked in another region, the instance is not there.
    requests = REQUESTS[api_case.name]
    client = _client(emulator, region="cn-beijing")
    err = _server_error(emulator, requests.list(), client, InstanceId=emulator.instance_id)
    assert (err.get_error_code(), err.get_http_status()) == requests.elsewhere


@pytest.mark.api("ons")
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


@pytest.mark.api("ons")
def test_get_method_as_older_sdk_releases_send(emulator):
    request = OnsMqttGroupIdCreateRequest()
    request.set_method("GET")
    _do(emulator, request, GroupId="GID_viaget", InstanceId=emulator.instance_id)
    assert group_ids(emulator.store, emulator.instance_id) == ["GID_viaget"]


@pytest.mark.api("ons")
def test_xml_format(emulator):
    emulator.store.add_group(emulator.instance_id, "GID_xmlcore")
    request = _at(emulator, OnsMqttGroupIdListRequest(), InstanceId=emulator.instance_id)
    request.set_accept_format("XML")
    with pytest.warns(DeprecationWarning):
        body = _client(emulator).do_action(request)
    root = ET.fromstring(body)
    assert root.tag == "OnsMqttGroupIdListResponse"
    assert root.findtext("Data/MqttGroupIdDo/GroupId") == "GID_xmlcore"


# --- OnsMqtt 2020-04-20 only ---------------------------------------------------------------


@pytest.mark.api("onsmqtt")
def test_session_actions(emulator):
    store, inst = emulator.store, emulator.instance_id
    store.add_group(inst, "GID_orders")
    store.add_client("GID_orders@@@on", instance_id=inst)
    one = _do(
        emulator, QuerySessionByClientIdRequest(), ClientId="GID_orders@@@on", InstanceId=inst
    )
    assert one["OnlineStatus"] is True
    batch = _do(
        emulator,
        BatchQuerySessionByClientIdsRequest(),
        ClientIdLists=["GID_orders@@@on", "GID_orders@@@off"],
        InstanceId=inst,
    )
    assert batch["OnlineStatusList"] == [
        {"ClientId": "GID_orders@@@on", "OnlineStatus": True},
        {"ClientId": "GID_orders@@@off", "OnlineStatus": False},
    ]


@pytest.mark.api("onsmqtt")
def test_list_instances_through_a_common_request(emulator):
    request = CommonRequest(
        domain=emulator.url.removeprefix("http://"),
        version="2020-04-20",
        action_name="ListInstances",
        product="OnsMqtt",
    )
    request.set_protocol_type("http")
    request.set_method("POST")
    body = json.loads(_client(emulator).do_action_with_exception(request))
    # The core SDK sends RegionId, so the emulator answers that region's instances.
    assert [i["InstanceId"] for i in body["Instances"]] == [emulator.instance_id]


@pytest.mark.api("onsmqtt")
def test_onsmqtt_error_codes(emulator):
    inst = emulator.instance_id
    err = _server_error(emulator, CreateGroupIdRequest(), GroupId="gid_lower", InstanceId=inst)
    assert (err.get_error_code(), err.get_http_status()) == ("ParameterFieldCheckFailed", 400)
    err = _server_error(emulator, ListGroupIdRequest(), InstanceId="mqtt-cn-unknown")
    assert (err.get_error_code(), err.get_http_status()) == ("InstanceNotFound", 400)


@pytest.mark.api("onsmqtt")
def test_onsmqtt_throttling(emulator):
    emulator.server.set_throttle("CreateGroupId", Rate(1, 60))
    inst = emulator.instance_id
    _do(emulator, CreateGroupIdRequest(), GroupId="GID_first", InstanceId=inst)
    err = _server_error(emulator, CreateGroupIdRequest(), GroupId="GID_second", InstanceId=inst)
    assert (err.get_error_code(), err.get_http_status()) == ("Throttling.User", 400)
    emulator.server.set_throttle("BatchQuerySessionByClientIds", Rate(1, 60))
    params = {"ClientIdLists": ["GID_first@@@1"], "InstanceId": inst}
    _do(emulator, BatchQuerySessionByClientIdsRequest(), **params)
    err = _server_error(emulator, BatchQuerySessionByClientIdsRequest(), **params)
    assert (err.get_error_code(), err.get_http_status()) == ("SystemOverFlow", 500)


@pytest.mark.api("onsmqtt")
def test_device_credential_lifecycle(emulator):
    device = {"ClientId": "GID_cred@@@dev1", "InstanceId": emulator.instance_id}
    issued = _do(emulator, RegisterDeviceCredentialRequest(), **device)["DeviceCredential"]
    assert (issued["ClientId"], issued["InstanceId"]) == ("GID_cred@@@dev1", emulator.instance_id)
    assert issued["DeviceAccessKeyId"].startswith("DC.")
    assert issued["DeviceAccessKeySecret"].startswith("DC.")
    assert issued["CreateTime"] == issued["UpdateTime"] > 0
    assert _do(emulator, GetDeviceCredentialRequest(), **device)["DeviceCredential"] == issued
    # A device holds one credential: registering again replaces it.
    again = _do(emulator, RegisterDeviceCredentialRequest(), **device)["DeviceCredential"]
    assert again["DeviceAccessKeyId"] != issued["DeviceAccessKeyId"]
    assert again["DeviceAccessKeySecret"] != issued["DeviceAccessKeySecret"]
    refreshed = _do(emulator, RefreshDeviceCredentialRequest(), **device)["DeviceCredential"]
    assert refreshed["DeviceAccessKeyId"] == again["DeviceAccessKeyId"]
    assert refreshed["DeviceAccessKeySecret"] != again["DeviceAccessKeySecret"]
    assert refreshed["CreateTime"] == again["CreateTime"]
    assert refreshed["UpdateTime"] >= again["UpdateTime"]
    assert _do(emulator, GetDeviceCredentialRequest(), **device)["DeviceCredential"] == refreshed
    gone = _do(emulator, UnRegisterDeviceCredentialRequest(), **device)
    assert set(gone) == {"RequestId"}
    for request in (
        GetDeviceCredentialRequest(),
        RefreshDeviceCredentialRequest(),
        UnRegisterDeviceCredentialRequest(),
    ):
        err = _server_error(emulator, request, **device)
        assert (err.get_error_code(), err.get_http_status()) == ("DeviceCredentialNotFound", 400)
        assert "GID_cred@@@dev1" in err.get_error_msg()


@pytest.mark.api("onsmqtt")
def test_device_credential_errors(emulator):
    inst = emulator.instance_id
    err = _server_error(
        emulator,
        RegisterDeviceCredentialRequest(),
        ClientId="GID_cred@@@dev1",
        InstanceId="post-cn-unknown",
    )
    assert (err.get_error_code(), err.get_http_status()) == ("InstanceNotFound", 400)
    for bad in ("no-separator", "GID_cred@@@", "lower@@@dev", "GID_cred@@@" + "d" * 60):
        err = _server_error(
            emulator, RegisterDeviceCredentialRequest(), ClientId=bad, InstanceId=inst
        )
        assert (err.get_error_code(), err.get_http_status()) == ("ParameterCheckFailed", 400)
    err = _server_error(emulator, GetDeviceCredentialRequest(), InstanceId=inst)
    assert (err.get_error_code(), err.get_http_status()) == ("MissingClientId", 400)
    # A credential belongs to its instance.
    emulator.store.add_instance("post-cn-other")
    _do(emulator, RegisterDeviceCredentialRequest(), ClientId="GID_cred@@@dev1", InstanceId=inst)
    err = _server_error(
        emulator,
        GetDeviceCredentialRequest(),
        ClientId="GID_cred@@@dev1",
        InstanceId="post-cn-other",
    )
    assert err.get_error_code() == "DeviceCredentialNotFound"


@pytest.mark.api("onsmqtt")
def test_device_credential_actions_are_limited_per_account(emulator):
    for action in ("Register", "Get", "Refresh", "UnRegister"):
        assert emulator.server.throttles()[f"{action}DeviceCredential"] == Rate(500, 1)
    emulator.server.set_throttle("RegisterDeviceCredential", Rate(1, 60))
    device = {"ClientId": "GID_cred@@@dev1", "InstanceId": emulator.instance_id}
    _do(emulator, RegisterDeviceCredentialRequest(), **device)
    err = _server_error(emulator, RegisterDeviceCredentialRequest(), **device)
    assert (err.get_error_code(), err.get_http_status()) == ("Throttling.User", 400)
    # The other credential actions keep their own budget.
    assert _do(emulator, GetDeviceCredentialRequest(), **device)["DeviceCredential"]
