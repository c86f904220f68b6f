"""paho-mqtt devices in DeviceCredential mode against ``reconciler emulator serve --mqtt-port 0``,
with the credentials issued through the official core SDK (aliyun-python-sdk-onsmqtt 1.0.5); and
the 2020-04-20 session look-ups answering from live devices, through our client and the SDK."""

from __future__ import annotations

import json
from typing import Any

from aliyunsdkcore.client import AcsClient
from aliyunsdkcore.request import RpcRequest
from aliyunsdkonsmqtt.request.v20200420.BatchQuerySessionByClientIdsRequest import (
    BatchQuerySessionByClientIdsRequest,
)
from aliyunsdkonsmqtt.request.v20200420.DeleteGroupIdRequest import DeleteGroupIdRequest
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

from reconciler.cloud.credentials import resolve_credentials
from reconciler.cloud.onsmqtt import OnsMqttClient
from tests.fixtures.emulator import (
    TEST_ACCESS_KEY_ID,
    TEST_ACCESS_KEY_SECRET,
    TEST_INSTANCE_ID,
    TEST_REGION,
)
from tests.fixtures.mqtt_devices import GID, NOT_AUTHORIZED, Device, ServedWorld, wait_until


def _sdk(served: ServedWorld, request: RpcRequest, **params: Any) -> dict[str, Any]:
    """One call through the official core SDK, as its users make it."""
    request.set_endpoint(served.url.removeprefix("http://"))
    request.set_protocol_type("http")
    for name, value in {"InstanceId": TEST_INSTANCE_ID, **params}.items():
        getattr(request, f"set_{name}")(value)
    client = AcsClient(TEST_ACCESS_KEY_ID, TEST_ACCESS_KEY_SECRET, TEST_REGION)
    body: dict[str, Any] = json.loads(client.do_action_with_exception(request))
    return body


def _credential_device(
    served: ServedWorld, device_id: str, key_id: str, secret: str, instance: str = TEST_INSTANCE_ID
) -> Device:
    return served.device(device_id, username=f"DeviceCredential|{key_id}|{instance}", secret=secret)


def _logged(served: ServedWorld, text: str) -> None:
    wait_until(lambda: any(text in line for line in served.stderr_lines), what=text)


def test_a_registered_device_connects_until_refreshed_or_unregistered(served: ServedWorld) -> None:
    client_id = f"{GID}@@@cred-1"
    issued = _sdk(served, RegisterDeviceCredentialRequest(), ClientId=client_id)
    key_id = issued["DeviceCredential"]["DeviceAccessKeyId"]
    first_secret = issued["DeviceCredential"]["DeviceAccessKeySecret"]

    device = _credential_device(served, "cred-1", key_id, first_secret)
    assert device.connect() == 0
    assert device.subscribe("orders/cred") == [1]
    device.publish("orders/cred", b"signed by the device key", qos=1)
    assert device.receive().payload == b"signed by the device key"

    # The credential is this device's only: another ClientId, a wrong secret or another
    # instance in the username are refused, and the live session is left alone.
    other = _credential_device(served, "cred-2", key_id, first_secret)
    assert other.connect() == NOT_AUTHORIZED
    _logged(served, f"unknown DeviceCredential key {key_id} for {GID}@@@cred-2")
    assert _credential_device(served, "cred-1", key_id, "DC.wrong").connect() == NOT_AUTHORIZED
    elsewhere = _credential_device(served, "cred-1", key_id, first_secret, "post-cn-elsewhere")
    assert elsewhere.connect() == NOT_AUTHORIZED
    device.publish("orders/cred", b"still connected", qos=1)
    assert device.receive().payload == b"still connected"
    assert not device.disconnected.is_set()

    refreshed = _sdk(served, RefreshDeviceCredentialRequest(), ClientId=client_id)
    new_secret = refreshed["DeviceCredential"]["DeviceAccessKeySecret"]
    assert refreshed["DeviceCredential"]["DeviceAccessKeyId"] == key_id
    assert new_secret != first_secret
    # The old secret no longer opens a connection; the session it opened goes on.
    stale = _credential_device(served, "cred-1", key_id, first_secret)
    assert stale.connect() == NOT_AUTHORIZED
    _logged(served, "the password is not the DeviceCredential signature")
    assert not device.disconnected.is_set()
    renewed = _credential_device(served, "cred-1", key_id, new_secret)
    assert renewed.connect() == 0
    assert device.disconnected.wait(5), "the new connection took over"
    renewed.disconnect()

    assert set(_sdk(served, UnRegisterDeviceCredentialRequest(), ClientId=client_id)) == {
        "RequestId"
    }
    assert _credential_device(served, "cred-1", key_id, new_secret).connect() == NOT_AUTHORIZED
    wait_until(lambda: sum(f"key {key_id}" in line for line in served.stderr_lines) >= 2)
    assert all(first_secret not in line and new_secret not in line for line in served.stderr_lines)


def test_a_credential_of_a_deleted_gid_is_refused(served: ServedWorld) -> None:
    issued = _sdk(served, RegisterDeviceCredentialRequest(), ClientId=f"{GID}@@@cred-1")
    credential = issued["DeviceCredential"]
    key_id, secret = credential["DeviceAccessKeyId"], credential["DeviceAccessKeySecret"]
    _sdk(served, DeleteGroupIdRequest(), GroupId=GID)
    assert _credential_device(served, "cred-1", key_id, secret).connect() == NOT_AUTHORIZED
    _logged(served, f"group {GID} does not exist on instance {TEST_INSTANCE_ID}")


def test_session_look_ups_see_live_devices(served: ServedWorld) -> None:
    creds = resolve_credentials(
        access_key_id=TEST_ACCESS_KEY_ID, access_key_secret=TEST_ACCESS_KEY_SECRET, env={}
    )
    ours = OnsMqttClient(creds, region=TEST_REGION, endpoint=served.url)
    live, never = f"{GID}@@@live-1", f"{GID}@@@never"

    def sdk_single() -> bool:
        answer = _sdk(served, QuerySessionByClientIdRequest(), ClientId=live)
        return bool(answer["OnlineStatus"])

    def sdk_batch() -> list[tuple[str, bool]]:
        answer = _sdk(served, BatchQuerySessionByClientIdsRequest(), ClientIdLists=[live, never])
        return [(s["ClientId"], s["OnlineStatus"]) for s in answer["OnlineStatusList"]]

    with ours:
        assert ours.query_session(live, instance_id=TEST_INSTANCE_ID) is False
        device = served.device("live-1")
        assert device.connect() == 0
        assert ours.query_session(live, instance_id=TEST_INSTANCE_ID) is True
        assert ours.batch_query_sessions([live, never], instance_id=TEST_INSTANCE_ID) == {
            live: True,
            never: False,
        }
        assert sdk_single() is True
        assert sdk_batch() == [(live, True), (never, False)]

        device.disconnect()
        wait_until(
            lambda: not ours.query_session(live, instance_id=TEST_INSTANCE_ID),
            what="the device offline",
        )
        assert ours.batch_query_sessions([live], instance_id=TEST_INSTANCE_ID) == {live: False}
        assert sdk_single() is False
        assert sdk_batch() == [(live, False), (never, False)]
