"""The OnsMqtt 2020-04-20 actions of the emulator, over hand-signed V1 requests: dispatch by
version, one store seen through both APIs, the documented codes, throttling, sessions."""

from __future__ import annotations

import pytest

from reconciler.emulator import onsmqtt_actions
from reconciler.emulator.fixture import load_fixture_text
from reconciler.emulator.mqtt.auth import DeviceAuthenticator, Refused, sign_client_id
from reconciler.emulator.onsmqtt_actions import OnsMqttActions
from reconciler.emulator.store import EmulatorStore
from reconciler.ratelimit import Rate
from tests.fixtures.emulator_store import group_ids
from tests.fixtures.wire import call, error_code, ok

V2020 = "2020-04-20"


def call2020(emulator, action, params=None, **kwargs):
    return call(emulator, action, params, version=V2020, **kwargs)


def test_the_handler_table_is_what_the_module_lists():
    with EmulatorStore() as store:
        assert tuple(OnsMqttActions(store).handlers) == onsmqtt_actions.ALL_ACTIONS


def test_the_version_picks_the_product(emulator):
    inst = emulator.instance_id
    ok(call2020(emulator, "CreateGroupId", {"GroupId": "GID_new", "InstanceId": inst}))
    # The same action name under the other version is not an action of that product.
    response = call(emulator, "CreateGroupId", {"GroupId": "GID_x", "InstanceId": inst})
    assert error_code(response, 404) == "InvalidAction.NotFound"
    response = call2020(emulator, "OnsMqttGroupIdList", {"InstanceId": inst})
    assert error_code(response, 404) == "InvalidAction.NotFound"
    response = call(emulator, "ListGroupId", {}, version="2021-01-01")
    assert error_code(response, 400) == "InvalidVersion"


def test_one_store_seen_through_both_apis(emulator):
    inst = emulator.instance_id
    ok(call(emulator, "OnsMqttGroupIdCreate", {"GroupId": "GID_old", "InstanceId": inst}))
    ok(call2020(emulator, "CreateGroupId", {"GroupId": "GID_new", "InstanceId": inst}))
    rows = ok(call2020(emulator, "ListGroupId", {"InstanceId": inst}))["Data"]
    assert [(r["GroupId"], r["InstanceId"], r["IndependentNaming"]) for r in rows] == [
        ("GID_new", inst, True),
        ("GID_old", inst, True),
    ]
    assert all(r["CreateTime"] == r["UpdateTime"] > 0 and r["Tags"] == [] for r in rows)
    listed = ok(call(emulator, "OnsMqttGroupIdList", {"InstanceId": inst}))
    assert [r["GroupId"] for r in listed["Data"]["MqttGroupIdDo"]] == ["GID_new", "GID_old"]
    ok(call2020(emulator, "DeleteGroupId", {"GroupId": "GID_old", "InstanceId": inst}))
    assert group_ids(emulator.store, inst) == ["GID_new"]


def test_group_errors_carry_the_documented_codes(emulator):
    inst = emulator.instance_id
    params = {"GroupId": "GID_dup", "InstanceId": inst}
    ok(call2020(emulator, "CreateGroupId", params))
    assert error_code(call2020(emulator, "CreateGroupId", params), 400) == "GroupIdAlreadyExsited"
    bad = {"GroupId": "bad-name", "InstanceId": inst}
    assert error_code(call2020(emulator, "CreateGroupId", bad), 400) == (
        "ParameterFieldCheckFailed"
    )
    unknown = {"GroupId": "GID_dup", "InstanceId": "mqtt-cn-nowhere"}
    assert error_code(call2020(emulator, "CreateGroupId", unknown), 400) == "InstanceNotFound"
    assert error_code(call2020(emulator, "ListGroupId", {}), 400) == "MissingInstanceId"
    gone = {"GroupId": "GID_none", "InstanceId": inst}
    assert error_code(call2020(emulator, "DeleteGroupId", gone), 400) == (
        "ParameterFieldCheckFailed"
    )


def test_a_region_that_is_not_the_instances_does_not_find_it(emulator):
    params = {"InstanceId": emulator.instance_id}
    response = call2020(emulator, "ListGroupId", params, region_id="cn-beijing")
    assert error_code(response, 400) == "InstanceNotFound"
    assert response.json()["HostId"] == "onsmqtt.cn-beijing.aliyuncs.com"
    ok(call2020(emulator, "ListGroupId", params, region_id="cn-hangzhou"))


def test_shared_namespace_names_are_unique_across_instances(emulator):
    store = emulator.store
    store.add_instance("mqtt-shared-a", independent_naming=False)
    store.add_instance("mqtt-shared-b", independent_naming=False)
    ok(call2020(emulator, "CreateGroupId", {"GroupId": "GID_one", "InstanceId": "mqtt-shared-a"}))
    taken = {"GroupId": "GID_one", "InstanceId": "mqtt-shared-b"}
    assert error_code(call2020(emulator, "CreateGroupId", taken), 400) == (
        "GroupIdAlreadyUsedByOtherUsers"
    )
    # A namespaced instance has its own names.
    own = {"GroupId": "GID_one", "InstanceId": emulator.instance_id}
    ok(call2020(emulator, "CreateGroupId", own))
    rows = ok(call2020(emulator, "ListGroupId", {"InstanceId": "mqtt-shared-a"}))["Data"]
    assert [(r["GroupId"], r["IndependentNaming"]) for r in rows] == [("GID_one", False)]


def test_sessions_answer_from_the_device_registry(emulator):
    store, inst = emulator.store, emulator.instance_id
    store.add_group(inst, "GID_dev")
    store.add_client("GID_dev@@@on", instance_id=inst)
    store.add_client("GID_dev@@@off", instance_id=inst, online=False)
    assert (
        ok(
            call2020(
                emulator, "QuerySessionByClientId", {"ClientId": "GID_dev@@@on", "InstanceId": inst}
            )
        )["OnlineStatus"]
        is True
    )
    for client_id in ("GID_dev@@@off", "GID_dev@@@never"):
        params = {"ClientId": client_id, "InstanceId": inst}
        assert ok(call2020(emulator, "QuerySessionByClientId", params))["OnlineStatus"] is False
    batch = {
        "ClientIdList.1": "GID_dev@@@off",
        "ClientIdList.2": "GID_dev@@@on",
        "ClientIdList.10": "GID_dev@@@never",
        "InstanceId": inst,
    }
    statuses = ok(call2020(emulator, "BatchQuerySessionByClientIds", batch))["OnlineStatusList"]
    assert statuses == [
        {"ClientId": "GID_dev@@@off", "OnlineStatus": False},
        {"ClientId": "GID_dev@@@on", "OnlineStatus": True},
        {"ClientId": "GID_dev@@@never", "OnlineStatus": False},
    ]


def test_session_parameter_errors(emulator):
    inst = emulator.instance_id
    eleven = {f"ClientIdList.{n}": f"GID_dev@@@{n}" for n in range(1, 12)}
    response = call2020(emulator, "BatchQuerySessionByClientIds", {**eleven, "InstanceId": inst})
    assert error_code(response, 400) == "ParameterCheckFailed"
    response = call2020(emulator, "BatchQuerySessionByClientIds", {"InstanceId": inst})
    assert error_code(response, 400) == "MissingClientIdList"
    response = call2020(
        emulator, "QuerySessionByClientId", {"ClientId": "no-separator", "InstanceId": inst}
    )
    assert error_code(response, 400) == "ParameterCheckFailed"


def test_list_instances_answers_the_declared_instances(emulator):
    emulator.store.add_instance("mqtt-cn-other", region="cn-shanghai", independent_naming=False)
    body = ok(call2020(emulator, "ListInstances"))
    assert (body["Code"], body["Success"]) == ("200", "true")
    by_id = {i["InstanceId"]: i for i in body["Instances"]}
    assert set(by_id) == {emulator.instance_id, "mqtt-cn-other"}
    other = by_id["mqtt-cn-other"]
    assert other["RegionId"] == "cn-shanghai"
    assert other["InstanceStatus"] == onsmqtt_actions.INSTANCE_RUNNING
    assert other["ExpireTime"] > other["CreateTime"] > 0
    assert other["KernelVersion"].startswith("V3")
    regional = ok(call2020(emulator, "ListInstances", region_id="cn-shanghai"))["Instances"]
    assert [i["InstanceId"] for i in regional] == ["mqtt-cn-other"]


def test_group_actions_are_limited_per_account_with_a_retry_after(emulator):
    emulator.server.set_throttle("ListGroupId", Rate(2, 60))
    params = {"InstanceId": emulator.instance_id}
    ok(call2020(emulator, "ListGroupId", params))
    ok(call2020(emulator, "ListGroupId", params))
    response = call2020(emulator, "ListGroupId", params)
    assert error_code(response, 400) == "Throttling.User"
    retry_after = int(response.headers["x-acs-retry-after"])
    assert 0 < retry_after <= 30_000  # milliseconds until the next token
    # Another account has a budget of its own.
    emulator.store.add_account("LTAI-other", "other-secret")
    ok(call2020(emulator, "ListGroupId", params, key="LTAI-other", secret="other-secret"))


def test_session_look_ups_over_the_limit_answer_system_overflow(emulator):
    emulator.server.set_throttle("QuerySessionByClientId", Rate(1, 60))
    params = {"ClientId": "GID_dev@@@1", "InstanceId": emulator.instance_id}
    ok(call2020(emulator, "QuerySessionByClientId", params))
    response = call2020(emulator, "QuerySessionByClientId", params)
    assert error_code(response, 500) == "SystemOverFlow"
    assert int(response.headers["x-acs-retry-after"]) > 0


def test_default_limits_are_the_services(emulator):
    rates = emulator.server.throttles()
    for action in ("CreateGroupId", "DeleteGroupId", "ListGroupId"):
        assert rates[action] == Rate(10, 1)
    assert rates["OnsMqttQueryClientByGroupId"] == Rate(30, 60)
    assert "ListInstances" not in rates


@pytest.mark.parametrize("fmt", ["XML", "JSON"])
def test_either_format(emulator, fmt):
    response = call2020(emulator, "ListInstances", response_format=fmt)
    assert response.status_code == 200
    if fmt == "XML":
        assert response.text.startswith("<?xml") and "<ListInstancesResponse>" in response.text
    else:
        assert response.json()["Instances"]


def test_fixture_devices_answer_the_session_look_ups(emulator):
    load_fixture_text(
        """
instances:
  - instance_id: mqtt-cn-fixture
    region: cn-hangzhou
    groups: [GID_fleet]
    devices:
      - {client_id: GID_fleet@@@truck-1}
      - {client_id: GID_fleet@@@truck-2, online: false}
""",
        "world.yaml",
        emulator.store,
    )
    batch = {
        "ClientIdList.1": "GID_fleet@@@truck-1",
        "ClientIdList.2": "GID_fleet@@@truck-2",
        "InstanceId": "mqtt-cn-fixture",
    }
    statuses = ok(call2020(emulator, "BatchQuerySessionByClientIds", batch))["OnlineStatusList"]
    assert [s["OnlineStatus"] for s in statuses] == [True, False]


def test_device_credentials_live_in_the_store_and_admit_their_device(tmp_path):
    path = str(tmp_path / "world.db")
    client_id = "GID_dev@@@sensor"
    with EmulatorStore(path) as store:
        store.add_instance("post-cn-disk")
        store.add_group("post-cn-disk", "GID_dev")
        actions = OnsMqttActions(store)
        params = {"ClientId": client_id, "InstanceId": "post-cn-disk"}
        issued = actions.handlers["RegisterDeviceCredential"](params, "any-account")[
            "DeviceCredential"
        ]
    with EmulatorStore(path) as store:
        actions = OnsMqttActions(store)
        assert (
            actions.handlers["GetDeviceCredential"](params, "any-account")["DeviceCredential"]
            == issued
        )
        key_id, secret = issued["DeviceAccessKeyId"], issued["DeviceAccessKeySecret"]
        username = f"DeviceCredential|{key_id}|post-cn-disk"
        authenticator = DeviceAuthenticator(store)
        admitted = authenticator.admit(
            client_id, username, sign_client_id(secret, client_id).encode()
        )
        assert (admitted.mode, admitted.key_id, admitted.group_id) == (
            "DeviceCredential",
            key_id,
            "GID_dev",
        )
        actions.handlers["UnRegisterDeviceCredential"](params, "any-account")
        with pytest.raises(Refused, match="unknown DeviceCredential key"):
            authenticator.admit(client_id, username, sign_client_id(secret, client_id).encode())
