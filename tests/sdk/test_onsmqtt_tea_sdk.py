"""alibabacloud-onsmqtt20200420 1.7.1 (Tea) vs the emulator, in both of its signature modes:
the default V3 (action and version only in x-acs-* headers) and ``signature_algorithm='v2'``
(V1, action and version in the query)."""

from __future__ import annotations

import pytest
from alibabacloud_onsmqtt20200420 import models
from alibabacloud_onsmqtt20200420.client import Client
from alibabacloud_tea_openapi.exceptions import (
    ClientException,
    ServerException,
    ThrottlingException,
)
from Tea.exceptions import TeaException

from reconciler.ratelimit import Rate
from tests.fixtures.sdk import tea_config

MODES = ["v3", "v2"]


def _client(emulator, mode: str) -> Client:
    config = tea_config(emulator)
    if mode == "v2":
        config.signature_algorithm = "v2"
    return Client(config)


def _error(call) -> TeaException:
    with pytest.raises(TeaException) as caught:
        call()
    return caught.value


@pytest.mark.parametrize("mode", MODES)
def test_group_actions_round_trip(emulator, mode):
    client, inst = _client(emulator, mode), emulator.instance_id
    created = client.create_group_id(
        models.CreateGroupIdRequest(group_id=f"GID_tea_{mode}", instance_id=inst)
    )
    assert created.status_code == 200 and created.body.request_id
    rows = client.list_group_id(models.ListGroupIdRequest(instance_id=inst)).body.data
    assert [(r.group_id, r.instance_id, r.independent_naming) for r in rows] == [
        (f"GID_tea_{mode}", inst, True)
    ]
    assert rows[0].create_time == rows[0].update_time > 0
    assert rows[0].tags == []
    client.delete_group_id(
        models.DeleteGroupIdRequest(group_id=f"GID_tea_{mode}", instance_id=inst)
    )
    assert client.list_group_id(models.ListGroupIdRequest(instance_id=inst)).body.data == []


@pytest.mark.parametrize("mode", MODES)
def test_session_actions_answer_from_the_devices(emulator, mode):
    store, inst = emulator.store, emulator.instance_id
    store.add_group(inst, "GID_orders")
    store.add_client("GID_orders@@@on", instance_id=inst)
    store.add_client("GID_orders@@@off", instance_id=inst, online=False)
    client = _client(emulator, mode)
    one = client.query_session_by_client_id(
        models.QuerySessionByClientIdRequest(client_id="GID_orders@@@on", instance_id=inst)
    ).body
    assert one.online_status is True
    batch = client.batch_query_session_by_client_ids(
        models.BatchQuerySessionByClientIdsRequest(
            client_id_list=["GID_orders@@@on", "GID_orders@@@off", "GID_orders@@@never"],
            instance_id=inst,
        )
    ).body
    assert [(s.client_id, s.online_status) for s in batch.online_status_list] == [
        ("GID_orders@@@on", True),
        ("GID_orders@@@off", False),
        ("GID_orders@@@never", False),
    ]


@pytest.mark.parametrize("mode", MODES)
def test_list_instances(emulator, mode):
    emulator.store.add_instance("mqtt-cn-shared", region="cn-shanghai", independent_naming=False)
    body = _client(emulator, mode).list_instances(models.ListInstancesRequest()).body
    assert (body.code, body.success) == ("200", "true")
    by_id = {i.instance_id: i for i in body.instances}
    assert set(by_id) == {emulator.instance_id, "mqtt-cn-shared"}
    shared = by_id["mqtt-cn-shared"]
    assert (shared.region_id, shared.instance_status) == ("cn-shanghai", 5)
    assert shared.kernel_version and shared.expire_time > shared.create_time
    assert shared.mqtt_tags == []


@pytest.mark.parametrize("mode", MODES)
def test_error_codes(emulator, mode):
    client, inst = _client(emulator, mode), emulator.instance_id
    request = models.CreateGroupIdRequest(group_id="GID_dup", instance_id=inst)
    client.create_group_id(request)
    err = _error(lambda: client.create_group_id(request))
    assert isinstance(err, ClientException)
    assert (err.code, err.status_code) == ("GroupIdAlreadyExsited", 400)
    assert err.request_id
    bad = models.CreateGroupIdRequest(group_id="GID", instance_id=inst)
    err = _error(lambda: client.create_group_id(bad))
    assert (err.code, err.status_code) == ("ParameterFieldCheckFailed", 400)
    unknown = models.ListGroupIdRequest(instance_id="mqtt-cn-unknown")
    err = _error(lambda: client.list_group_id(unknown))
    assert (err.code, err.status_code) == ("InstanceNotFound", 400)


@pytest.mark.parametrize("mode", MODES)
def test_name_used_by_another_shared_instance(emulator, mode):
    emulator.store.add_instance("mqtt-shared-a", independent_naming=False)
    emulator.store.add_instance("mqtt-shared-b", independent_naming=False)
    emulator.store.add_group("mqtt-shared-a", "GID_one")
    client = _client(emulator, mode)
    err = _error(
        lambda: client.create_group_id(
            models.CreateGroupIdRequest(group_id="GID_one", instance_id="mqtt-shared-b")
        )
    )
    assert (err.code, err.status_code) == ("GroupIdAlreadyUsedByOtherUsers", 400)


@pytest.mark.parametrize("mode", MODES)
def test_throttling_carries_a_retry_after(emulator, mode):
    emulator.server.set_throttle("ListGroupId", Rate(1, 60))
    emulator.server.set_throttle("QuerySessionByClientId", Rate(1, 60))
    client, inst = _client(emulator, mode), emulator.instance_id
    request = models.ListGroupIdRequest(instance_id=inst)
    client.list_group_id(request)
    err = _error(lambda: client.list_group_id(request))
    # The SDK turns an x-acs-retry-after header into ThrottlingException (milliseconds).
    assert isinstance(err, ThrottlingException)
    assert (err.code, err.status_code) == ("Throttling.User", 400)
    assert 0 < err.retry_after <= 60_000
    session = models.QuerySessionByClientIdRequest(client_id="GID_orders@@@1", instance_id=inst)
    client.query_session_by_client_id(session)
    err = _error(lambda: client.query_session_by_client_id(session))
    assert isinstance(err, ThrottlingException)
    assert (err.code, err.status_code) == ("SystemOverFlow", 500)


def test_a_server_fault_is_a_server_exception(emulator):
    emulator.store.add_group(emulator.instance_id, "GID_x")
    emulator.store.close()  # the next store access fails: the emulator answers InternalError
    err = _error(
        lambda: _client(emulator, "v3").list_group_id(
            models.ListGroupIdRequest(instance_id=emulator.instance_id)
        )
    )
    assert isinstance(err, ServerException)
    assert (err.code, err.status_code) == ("InternalError", 500)


@pytest.mark.parametrize("mode", MODES)
def test_device_credential_lifecycle(emulator, mode):
    client, inst = _client(emulator, mode), emulator.instance_id
    device = {"client_id": f"GID_cred@@@{mode}", "instance_id": inst}
    issued = client.register_device_credential(
        models.RegisterDeviceCredentialRequest(**device)
    ).body.device_credential
    assert (issued.client_id, issued.instance_id) == (f"GID_cred@@@{mode}", inst)
    assert issued.device_access_key_id.startswith("DC.")
    assert issued.create_time == issued.update_time > 0
    got = client.get_device_credential(
        models.GetDeviceCredentialRequest(**device)
    ).body.device_credential
    assert got.to_map() == issued.to_map()
    refreshed = client.refresh_device_credential(
        models.RefreshDeviceCredentialRequest(**device)
    ).body.device_credential
    assert refreshed.device_access_key_id == issued.device_access_key_id
    assert refreshed.device_access_key_secret != issued.device_access_key_secret
    gone = client.un_register_device_credential(models.UnRegisterDeviceCredentialRequest(**device))
    assert gone.status_code == 200 and gone.body.request_id
    err = _error(lambda: client.get_device_credential(models.GetDeviceCredentialRequest(**device)))
    assert isinstance(err, ClientException)
    assert (err.code, err.status_code) == ("DeviceCredentialNotFound", 400)
