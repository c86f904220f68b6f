"""aliyun-python-sdk-core + aliyun-python-sdk-onsmqtt 1.0.5 (V1, every parameter in the query)
vs the emulator. The package has no ListInstances request, so that one goes through the core
SDK's CommonRequest, as its users would send it."""

from __future__ import annotations

import json

import pytest
from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkcore.client import AcsClient
from aliyunsdkcore.request import CommonRequest
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


def _client(emulator, region="cn-hangzhou"):
    return AcsClient(emulator.access_key_id, emulator.access_key_secret, region)


def _at(emulator, request, **params):
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


def test_group_actions_round_trip(emulator):
    inst = emulator.instance_id
    assert _do(emulator, CreateGroupIdRequest(), GroupId="GID_core", InstanceId=inst)["RequestId"]
    rows = _do(emulator, ListGroupIdRequest(), InstanceId=inst)["Data"]
    assert [(r["GroupId"], r["InstanceId"], r["IndependentNaming"]) for r in rows] == [
        ("GID_core", inst, True)
    ]
    _do(emulator, DeleteGroupIdRequest(), GroupId="GID_core", InstanceId=inst)
    assert _do(emulator, ListGroupIdRequest(), InstanceId=inst)["Data"] == []


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


def test_error_codes(emulator):
    inst = emulator.instance_id
    _do(emulator, CreateGroupIdRequest(), GroupId="GID_dup", InstanceId=inst)
    err = _server_error(emulator, CreateGroupIdRequest(), GroupId="GID_dup", InstanceId=inst)
    assert (err.get_error_code(), err.get_http_status()) == ("GroupIdAlreadyExsited", 400)
    assert err.get_request_id()
    err = _server_error(emulator, CreateGroupIdRequest(), GroupId="gid_lower", InstanceId=inst)
    assert (err.get_error_code(), err.get_http_status()) == ("ParameterFieldCheckFailed", 400)
    err = _server_error(emulator, ListGroupIdRequest(), InstanceId="mqtt-cn-unknown")
    assert (err.get_error_code(), err.get_http_status()) == ("InstanceNotFound", 400)
    # The SDK's region picks the endpoint; asked in another region, the instance is not there.
    err = _server_error(
        emulator, ListGroupIdRequest(), _client(emulator, "cn-beijing"), InstanceId=inst
    )
    assert err.get_error_code() == "InstanceNotFound"


def test_throttling(emulator):
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


def test_wrong_secret_is_diagnosed_by_the_sdk(emulator):
    client = AcsClient(emulator.access_key_id, "wrong-secret", "cn-hangzhou")
    err = _server_error(emulator, ListGroupIdRequest(), client, InstanceId=emulator.instance_id)
    assert err.get_error_code() == "InvalidAccessKeySecret"


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
