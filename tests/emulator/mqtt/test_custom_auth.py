"""paho-mqtt 2.x devices logging in with custom-auth identities: ORIGIN and SIGNED passwords,
CLIENT before USER, ClientIds of any form; permissions deciding SUBSCRIBE, PUBLISH and each
delivery to a granted subscription (DENY wins, wildcards, changes applying at once); the
connect blacklist refusing and closing."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.emulator.mqtt.auth import sign_client_id
from reconciler.emulator.store import IdentityRecord, PermissionRecord
from tests.fixtures.emulator import TEST_INSTANCE_ID
from tests.fixtures.mqtt_devices import (
    GID,
    NOT_AUTHORIZED,
    Device,
    MqttWorld,
    serving,
    wait_until,
)
from tests.fixtures.wire import call, ok

REFUSED = 128  # SUBACK 0x80
ONSMQTT = "2020-04-20"


def _identity(
    world: MqttWorld,
    username: str,
    secret: str,
    *,
    client_id: str = "",
    sign_mode: str = "ORIGIN",
    instance: str = TEST_INSTANCE_ID,
) -> None:
    identity_type = "CLIENT" if client_id else "USER"
    world.emulator.store.add_identity(
        IdentityRecord(instance, identity_type, username, client_id, secret, sign_mode)
    )


def _grant(
    world: MqttWorld,
    identity: str,
    topic: str,
    action: str = "PUB_SUB",
    *,
    effect: str = "ALLOW",
    identity_type: str = "USER",
) -> None:
    world.emulator.store.add_permission(
        PermissionRecord(TEST_INSTANCE_ID, identity_type, identity, topic, effect, action)
    )


def _device(world: MqttWorld, client_id: str, username: str, password: str) -> Device:
    made = Device(world.port, client_id, username=username, password=password)
    world.devices.append(made)
    return made


def _connected(world: MqttWorld, client_id: str, username: str, password: str) -> Device:
    made = _device(world, client_id, username, password)
    assert made.connect() == 0
    return made


def test_origin_and_signed_passwords_and_any_client_id(world: MqttWorld) -> None:
    _identity(world, "fleet", "origin-secret")
    _identity(world, "signer", "hmac-key", client_id="sensor-7", sign_mode="SIGNED")
    assert _device(world, "plain-id-1", "fleet", "origin-secret").connect() == 0
    assert _device(world, "plain-id-2", "fleet", "wrong").connect() == NOT_AUTHORIZED
    signed = sign_client_id("hmac-key", "sensor-7")
    assert _device(world, "sensor-7", "signer", signed).connect() == 0
    # A SIGNED password is the HMAC of this ClientId, not the secret itself; and the CLIENT
    # identity is sensor-7's alone.
    assert _device(world, "sensor-7", "signer", "hmac-key").connect() == NOT_AUTHORIZED
    other = sign_client_id("hmac-key", "sensor-8")
    assert _device(world, "sensor-8", "signer", other).connect() == NOT_AUTHORIZED
    assert _device(world, "x-1", "nobody", "secret").connect() == NOT_AUTHORIZED
    # The session look-up sees the custom-auth client online.
    assert world.emulator.store.client_online(TEST_INSTANCE_ID, "plain-id-1")


def test_a_client_identity_is_matched_before_the_user_identity(world: MqttWorld) -> None:
    _identity(world, "fleet", "user-secret")
    _identity(world, "fleet", "client-secret", client_id="sensor-1")
    assert _device(world, "sensor-1", "fleet", "user-secret").connect() == NOT_AUTHORIZED
    assert _device(world, "sensor-1", "fleet", "client-secret").connect() == 0
    assert _device(world, "sensor-2", "fleet", "user-secret").connect() == 0


def test_an_edition_without_custom_auth_admits_no_identity(world: MqttWorld) -> None:
    world.emulator.store.add_instance("post-cn-basic0001", edition="basic")
    _identity(world, "fleet", "secret", instance="post-cn-basic0001")
    assert _device(world, "c-1", "fleet", "secret").connect() == NOT_AUTHORIZED


def test_permissions_decide_subscribe(world: MqttWorld) -> None:
    _identity(world, "fleet", "secret")
    _grant(world, "fleet", "orders/+/telemetry", "SUB")
    _grant(world, "fleet", "orders/room/#", "PUB_SUB")
    _grant(world, "fleet", "orders/room/secret", effect="DENY")
    _grant(world, "fleet", "orders/pub-only/#", "PUB")
    device = _connected(world, "c-1", "fleet", "secret")
    assert device.subscribe(
        "orders/a/telemetry",  # covered by orders/+/telemetry
        "orders/+/telemetry",  # the same filter covers itself
        "orders/#",  # wider than every grant
        "orders/room/1/#",  # covered by orders/room/#, no DENY inside
        "orders/room/+",  # could receive orders/room/secret: the DENY wins
        "orders/room/secret",
        "orders/pub-only/x",  # granted PUB only
    ) == [1, 1, REFUSED, 1, REFUSED, REFUSED, REFUSED]


def test_permissions_decide_publish(world: MqttWorld) -> None:
    _identity(world, "listener", "l-secret")
    _grant(world, "listener", "orders/#", "SUB")
    _identity(world, "sender", "s-secret")
    _grant(world, "sender", "orders/telemetry/#", "PUB")
    _grant(world, "sender", "orders/telemetry/blocked", "PUB_SUB", effect="DENY")
    listener = _connected(world, "listener-1", "listener", "l-secret")
    assert listener.subscribe("orders/#") == [1]
    sender = _connected(world, "sender-1", "sender", "s-secret")
    sender.publish("orders/telemetry/1", b"allowed", qos=1)
    assert listener.receive().payload == b"allowed"
    # Refused: QoS 1 is acknowledged (publish returns) and QoS 0 dropped; neither reaches
    # the subscriber, and the publisher stays connected.
    sender.publish("orders/telemetry/blocked", b"denied", qos=1)
    sender.publish("orders/telemetry/blocked", b"denied", qos=0)
    sender.publish("orders/other", b"never granted", qos=1)
    sender.publish("orders/telemetry/2", b"after", qos=1)
    # One publisher's messages arrive in order: had a refused one been delivered, it would
    # have come before this one.
    assert listener.receive().payload == b"after"
    assert not sender.disconnected.is_set()
    # The listener has SUB only: its publishes reach nobody. Its QoS 1 publish returns once
    # acknowledged, after the broker routed (or dropped) it, so the marker comes after it.
    listener.publish("orders/telemetry/3", b"from a listener", qos=1)
    sender.publish("orders/telemetry/4", b"marker", qos=1)
    assert listener.receive().payload == b"marker"


def test_a_changed_permission_applies_to_the_next_publish(world: MqttWorld) -> None:
    _identity(world, "listener", "l-secret")
    _grant(world, "listener", "orders/#", "SUB")
    _identity(world, "sender", "s-secret")
    _grant(world, "sender", "orders/#", "PUB")
    listener = _connected(world, "listener-1", "listener", "l-secret")
    assert listener.subscribe("orders/#") == [1]
    sender = _connected(world, "sender-1", "sender", "s-secret")
    sender.publish("orders/x", b"one", qos=1)
    assert listener.receive().payload == b"one"
    ok(
        call(
            world.emulator,
            "UpdateCustomAuthPermission",
            {
                "InstanceId": TEST_INSTANCE_ID,
                "IdentityType": "USER",
                "Identity": "sender",
                "Topic": "orders/#",
                "Effect": "DENY",
                "PermitAction": "PUB",
            },
            version=ONSMQTT,
        )
    )
    sender.publish("orders/x", b"two", qos=1)
    _grant(world, "sender", "orders/#", "PUB")  # allowed again (the fixture's upsert)
    sender.publish("orders/x", b"three", qos=1)
    assert listener.receive().payload == b"three"  # "two" never came


def _permission_call(world: MqttWorld, action: str, identity: str, **fields: str) -> None:
    ok(
        call(
            world.emulator,
            action,
            {
                "InstanceId": TEST_INSTANCE_ID,
                "IdentityType": "USER",
                "Identity": identity,
                "Topic": "orders/#",
                **fields,
            },
            version=ONSMQTT,
        )
    )


def test_a_granted_subscription_stops_receiving_once_its_permission_is_denied_or_deleted(
    world: MqttWorld,
) -> None:
    """Checked at each delivery: the subscription stays, its messages stop while no ALLOW
    SUB covers them, and resume once one does; other subscribers are not affected."""
    _identity(world, "listener", "l-secret")
    _grant(world, "listener", "orders/#", "SUB")
    _identity(world, "sender", "s-secret")
    _grant(world, "sender", "orders/#", "PUB")
    listener = _connected(world, "listener-1", "listener", "l-secret")
    assert listener.subscribe("orders/#") == [1]
    witness = world.connected("d1")  # Signature mode: no permission limits it
    assert witness.subscribe("orders/#") == [1]
    sender = _connected(world, "sender-1", "sender", "s-secret")
    sender.publish("orders/x", b"one", qos=1)
    assert listener.receive().payload == b"one"
    assert witness.receive().payload == b"one"

    _permission_call(
        world, "UpdateCustomAuthPermission", "listener", Effect="DENY", PermitAction="SUB"
    )
    sender.publish("orders/x", b"denied", qos=1)
    assert witness.receive().payload == b"denied"
    _grant(world, "listener", "orders/#", "SUB")  # allowed again (the fixture's upsert)
    sender.publish("orders/x", b"allowed again", qos=1)
    # One publisher's messages arrive in order: "denied" would have come first.
    assert listener.receive().payload == b"allowed again"

    _permission_call(world, "DeleteCustomAuthPermission", "listener")
    sender.publish("orders/x", b"deleted", qos=0)
    sender.publish("orders/x", b"deleted", qos=1)
    _grant(world, "listener", "orders/#", "SUB")
    sender.publish("orders/x", b"granted anew", qos=1)
    assert listener.receive().payload == b"granted anew"
    assert not listener.disconnected.is_set()


def test_client_permissions_apply_to_the_client_id(world: MqttWorld) -> None:
    _identity(world, "fleet", "secret")
    _grant(world, "fleet", "orders/#", "SUB")
    _grant(world, "sensor-1", "orders/sensor-1/#", "SUB", effect="DENY", identity_type="CLIENT")
    sensor1 = _connected(world, "sensor-1", "fleet", "secret")
    sensor2 = _connected(world, "sensor-2", "fleet", "secret")
    assert sensor1.subscribe("orders/sensor-1/cmd") == [REFUSED]
    assert sensor2.subscribe("orders/sensor-1/cmd") == [1]


def test_signature_mode_is_not_limited_by_permissions(world: MqttWorld) -> None:
    _grant(world, "fleet", "orders/#", effect="DENY")
    device = world.connected("d1")
    assert device.subscribe("orders/#") == [1]


@pytest.mark.parametrize("mode", ["custom-auth", "signature"])
def test_a_blacklisted_client_is_refused_and_its_live_session_closed(
    world: MqttWorld, mode: str
) -> None:
    _identity(world, "fleet", "secret")
    _grant(world, "fleet", "orders/#")

    def device(client_id: str) -> Device:
        if mode == "signature":
            return world.device(client_id.removeprefix(f"{GID}@@@"))
        return _device(world, client_id, "fleet", "secret")

    live = device(f"{GID}@@@live")
    assert live.connect() == 0
    ok(
        call(
            world.emulator,
            "AddCustomAuthConnectBlack",
            {"InstanceId": TEST_INSTANCE_ID, "ClientId": f"{GID}@@@live"},
            version=ONSMQTT,
        )
    )
    assert live.disconnected.wait(5), "the blacklisted client's connection is closed"
    wait_until(
        lambda: not world.emulator.store.client_online(TEST_INSTANCE_ID, f"{GID}@@@live"),
        what="recorded offline",
    )
    assert device(f"{GID}@@@live").connect() == NOT_AUTHORIZED
    assert device(f"{GID}@@@other").connect() == 0
    ok(
        call(
            world.emulator,
            "DeleteCustomAuthConnectBlack",
            {"InstanceId": TEST_INSTANCE_ID, "ClientId": f"{GID}@@@live"},
            version=ONSMQTT,
        )
    )
    assert device(f"{GID}@@@live").connect() == 0


SERVED_FIXTURE = """\
instances:
  - instance_id: post-cn-auth0001
    topics: [telemetry]
    identities:
      - {type: USER, username: sensors, secret: sensor-secret-51}
      - {type: CLIENT, username: ops, client_id: dashboard, secret: ops-key-77, sign_mode: SIGNED}
    permissions:
      - {identity_type: USER, identity: sensors, topic: telemetry/#, permit_action: PUB}
      - {identity_type: CLIENT, identity: dashboard, topic: telemetry/#, permit_action: SUB}
    blacklist: [sensor-stolen]
"""


def test_a_served_fixture_with_custom_auth(tmp_path: Path) -> None:
    fixture = tmp_path / "auth.yaml"
    fixture.write_text(SERVED_FIXTURE, encoding="utf-8")
    with serving("--fixture", str(fixture)) as served:
        dashboard = Device(
            served.port,
            "dashboard",
            username="ops",
            password=sign_client_id("ops-key-77", "dashboard"),
        )
        sensor = Device(served.port, "sensor-1", username="sensors", password="sensor-secret-51")
        stolen = Device(
            served.port, "sensor-stolen", username="sensors", password="sensor-secret-51"
        )
        served.devices.extend([dashboard, sensor, stolen])
        assert dashboard.connect() == 0
        assert dashboard.subscribe("telemetry/#") == [1]
        assert sensor.connect() == 0
        sensor.publish("telemetry/sensor-1/temp", b"21.5", qos=1)
        assert dashboard.receive().payload == b"21.5"
        assert stolen.connect() == NOT_AUTHORIZED
        wait_until(
            lambda: any("connect blacklist" in line for line in served.stderr_lines),
            what="the refusal logged",
        )
        secrets = ("sensor-secret-51", "ops-key-77")
        assert not any(s in line for s in secrets for line in served.stderr_lines)
