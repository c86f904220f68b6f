"""paho-mqtt devices against ``reconciler emulator serve --mqtt-port 0`` as a real process:
Signature authentication and every refusal, takeover, and a GID deleted under a device."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from tests.fixtures.emulator import (
    ROOT,
    TEST_ACCESS_KEY_ID,
    TEST_ACCESS_KEY_SECRET,
    TEST_INSTANCE_ID,
    start_emulator_process,
)
from tests.fixtures.mqtt_devices import (
    GID,
    IDENTIFIER_REJECTED,
    NOT_AUTHORIZED,
    Device,
    ServedWorld,
    signature_username,
    wait_until,
)
from tests.fixtures.wire import signed_call


def _call(served: ServedWorld, action: str, **params: str) -> dict[str, object]:
    response = signed_call(
        served.url, action, params, key=TEST_ACCESS_KEY_ID, secret=TEST_ACCESS_KEY_SECRET
    )
    return response.json()


def test_a_signed_device_connects_and_the_port_is_printed(served: ServedWorld) -> None:
    device = served.device("sensor-1")
    assert device.connect() == 0
    assert device.subscribe("orders/#") == [1]
    device.publish("orders/room/1", b"hello", qos=1)
    message = device.receive()
    assert (message.topic, message.payload, message.qos) == ("orders/room/1", b"hello", 1)
    device.disconnect()


@pytest.mark.parametrize(
    ("case", "kwargs", "expected", "logged"),
    [
        ("wrong signature", {"secret": "not-the-secret"}, NOT_AUTHORIZED, "not the Signature"),
        (
            "unknown AccessKey",
            {"username": signature_username(key="LTAI-nobody")},
            NOT_AUTHORIZED,
            "unknown Signature key LTAI-nobody",
        ),
        (
            "unknown instance",
            {"username": signature_username(instance="post-cn-nowhere")},
            NOT_AUTHORIZED,
            "unknown instance post-cn-nowhere",
        ),
        (
            "GID not on the instance",
            {"group_id": "GID_missing"},
            NOT_AUTHORIZED,
            "group GID_missing does not exist",
        ),
        ("Token mode", {"username": f"Token|{TEST_ACCESS_KEY_ID}|x"}, NOT_AUTHORIZED, "'Token'"),
        ("malformed username", {"username": "Signature|x"}, NOT_AUTHORIZED, "MODE|KEY_ID"),
        (
            # No mode prefix: a custom-auth identity's username, which no instance holds.
            "unknown custom-auth username",
            {"username": "just-a-name"},
            NOT_AUTHORIZED,
            "no custom-auth identity 'just-a-name'",
        ),
        (
            "ClientId over 64 characters",
            {"device_id": "d" * (64 - len(GID) - 2)},
            IDENTIFIER_REJECTED,
            "65 characters",
        ),
        ("ClientId with a space", {"device_id": "a b"}, IDENTIFIER_REJECTED, "contains a space"),
        ("ClientId with a tab", {"device_id": "a\tb"}, IDENTIFIER_REJECTED, "contains U+0009"),
        ("ClientId with a slash", {"device_id": "a/b"}, IDENTIFIER_REJECTED, "contains '/'"),
    ],
)
def test_refusals_are_not_authorized_and_logged(
    served: ServedWorld, case: str, kwargs: dict[str, str], expected: int, logged: str
) -> None:
    device = served.device(**kwargs)  # type: ignore[arg-type]
    assert device.connect() == expected, case
    assert device.disconnected.wait(5), "a refused connection is closed"
    wait_until(lambda: any(logged in line for line in served.stderr_lines), what=logged)
    assert all(TEST_ACCESS_KEY_SECRET not in line for line in served.stderr_lines)


def test_a_64_character_client_id_is_accepted(served: ServedWorld) -> None:
    device = served.device("d" * (64 - len(GID) - 3))
    assert len(device.client_id) == 64
    assert device.connect() == 0


def test_a_refused_attempt_leaves_the_live_session_alone(served: ServedWorld) -> None:
    live = served.device("sensor-1")
    assert live.connect() == 0
    assert live.subscribe("orders/live") == [1]
    impostor = served.device("sensor-1", secret="wrong")
    assert impostor.connect() == NOT_AUTHORIZED
    # The live device was neither closed nor stripped of its subscription.
    publisher = served.device("publisher")
    assert publisher.connect() == 0
    publisher.publish("orders/live", b"still here", qos=1)
    assert live.receive().payload == b"still here"
    assert not live.disconnected.is_set()


def test_takeover_closes_the_old_connection_and_the_new_one_works(served: ServedWorld) -> None:
    old = served.device("sensor-1")
    assert old.connect() == 0
    assert old.subscribe("orders/old") == [1]
    new = served.device("sensor-1")
    assert new.connect() == 0
    assert old.disconnected.wait(5), "the old connection is closed"
    assert new.subscribe("orders/new") == [1]
    publisher = served.device("publisher")
    assert publisher.connect() == 0
    publisher.publish("orders/old", b"to the old session", qos=1)
    publisher.publish("orders/new", b"to the new one", qos=1)
    assert new.receive().payload == b"to the new one"
    assert new.received_within(0.3) == []  # a clean takeover dropped the old subscription
    assert not new.disconnected.is_set()
    info = _call(
        served, "OnsMqttQueryClientByClientId", ClientId=new.client_id, InstanceId=TEST_INSTANCE_ID
    )["MqttClientInfoDo"]
    assert info["Online"] is True  # type: ignore[index]
    assert info["SocketChannel"] == new.local_socket  # type: ignore[index]


def test_deleting_a_gid_keeps_its_devices_connected_until_they_reconnect(
    served: ServedWorld,
) -> None:
    device = served.device("sensor-1")
    assert device.connect() == 0
    assert device.subscribe("orders/x") == [1]
    deleted = _call(served, "OnsMqttGroupIdDelete", GroupId=GID, InstanceId=TEST_INSTANCE_ID)
    assert "Code" not in deleted
    # Still connected: it publishes and receives.
    device.publish("orders/x", b"after the delete", qos=1)
    assert device.receive().payload == b"after the delete"
    assert not device.disconnected.is_set()
    # Its next connect is refused.
    device.disconnect()
    again = Device(served.port, device.client_id)
    served.devices.append(again)
    assert again.connect() == NOT_AUTHORIZED


def test_a_busy_mqtt_port_is_a_one_line_error() -> None:
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "reconciler",
                "emulator",
                "serve",
                "--port",
                "0",
                "--mqtt-port",
                str(port),
            ],
            check=False,
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
        )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"Error: cannot listen for MQTT on 127.0.0.1:{port}: Address already in use"
    )


def test_without_mqtt_port_there_is_no_listener() -> None:
    process = start_emulator_process()
    try:
        process.stop()
        assert process.process.stdout is not None
        rest = process.process.stdout.read()
    finally:
        for stream in (process.process.stdout, process.process.stderr):
            if stream is not None:
                stream.close()
    assert "MQTT" not in rest and "mqtt" not in rest
