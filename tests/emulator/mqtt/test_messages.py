"""Messages and sessions with paho-mqtt devices: filters, P2P, QoS 1 redelivery to a persistent
session, keep-alive, and the service's topic rules."""

from __future__ import annotations

import time

import pytest

from reconciler.emulator.mqtt.topics import MAX_TOPIC_LENGTH
from tests.fixtures.emulator import TEST_INSTANCE_ID
from tests.fixtures.mqtt_devices import MqttWorld, wait_until


def _online(world: MqttWorld, client_id: str) -> bool:
    return world.emulator.store.client_online(TEST_INSTANCE_ID, client_id)


def test_plus_and_hash_filters(world: MqttWorld) -> None:
    subscriber = world.connected("subscriber")
    assert subscriber.subscribe("orders/+/temp", "orders/room/#", qos=0) == [0, 0]
    publisher = world.connected("publisher")
    for topic in (
        "orders/a/temp",  # + matches one level
        "orders/a/b/temp",  # but not two
        "orders/room",  # "#" matches the parent level too
        "orders/room/1/2",
        "orders/hall",
    ):
        publisher.publish(topic, topic.encode(), qos=1)
    got = sorted(topic for topic, _ in subscriber.received_within(1.0))
    assert got == ["orders/a/temp", "orders/room", "orders/room/1/2"]


def test_overlapping_filters_deliver_once_at_the_highest_qos(world: MqttWorld) -> None:
    subscriber = world.connected("subscriber")
    assert subscriber.subscribe("orders/#", qos=0) == [0]
    assert subscriber.subscribe("orders/+", qos=1) == [1]
    publisher = world.connected("publisher")
    publisher.publish("orders/x", b"once", qos=1)
    assert subscriber.receive().qos == 1
    assert subscriber.received_within(0.3) == []


def test_filters_the_service_refuses(world: MqttWorld) -> None:
    device = world.connected()
    granted = device.subscribe(
        "nope/#",  # parent topic does not exist on the instance
        "+/orders",  # the parent must be named
        "#",
        "orders/" + "x" * MAX_TOPIC_LENGTH,  # over 64 characters
        "orders/ok",
        qos=2,  # QoS 2 is granted as 1
    )
    assert granted == [128, 128, 128, 128, 1]


def test_at_most_thirty_subscriptions(world: MqttWorld) -> None:
    device = world.connected()
    granted = device.subscribe(*(f"orders/{n}" for n in range(31)), qos=0)
    assert granted == [0] * 30 + [128]


def test_p2p_reaches_the_client_without_a_subscription(world: MqttWorld) -> None:
    receiver = world.connected("receiver")
    bystander = world.connected("bystander")
    assert bystander.subscribe("orders/#") == [1]
    sender = world.connected("sender")
    sender.publish(f"orders/p2p/{receiver.client_id}", b"just for you", qos=1)
    message = receiver.receive()
    assert (message.topic, message.payload) == (f"orders/p2p/{receiver.client_id}", b"just for you")
    assert bystander.received_within(0.3) == []


def test_qos1_is_kept_for_a_persistent_session_and_redelivered(world: MqttWorld) -> None:
    subscriber = world.device("subscriber", clean_session=False)
    assert subscriber.connect() == 0
    assert subscriber.session_present is False
    assert subscriber.subscribe("orders/jobs", qos=1) == [1]
    subscriber.disconnect()
    wait_until(lambda: not _online(world, subscriber.client_id), what="offline")
    publisher = world.connected("publisher")
    for number in range(3):
        publisher.publish("orders/jobs", f"job {number}", qos=1)
    publisher.publish("orders/jobs", b"qos0 is not kept", qos=0)
    again = world.device("subscriber", clean_session=False)
    assert again.connect() == 0
    assert again.session_present is True
    got = [(m.payload, m.qos) for m in (again.receive() for _ in range(3))]
    assert got == [(b"job 0", 1), (b"job 1", 1), (b"job 2", 1)]
    assert again.received_within(0.3) == []
    # The subscription survived too: new messages arrive without subscribing again.
    publisher.publish("orders/jobs", b"live", qos=1)
    assert again.receive().payload == b"live"


def test_a_clean_session_forgets_everything(world: MqttWorld) -> None:
    subscriber = world.device("subscriber", clean_session=False)
    assert subscriber.connect() == 0
    assert subscriber.subscribe("orders/jobs") == [1]
    subscriber.disconnect()
    wait_until(lambda: not _online(world, subscriber.client_id), what="offline")
    world.connected("publisher").publish("orders/jobs", b"kept", qos=1)
    clean = world.device("subscriber", clean_session=True)
    assert clean.connect() == 0
    assert clean.session_present is False
    assert clean.received_within(0.5) == []


@pytest.mark.slow  # waits out a real keep-alive: 4 s
def test_keep_alive_drops_a_silent_client_after_one_and_a_half_times(world: MqttWorld) -> None:
    talker = world.device("talker", keep_alive=2)  # pings every 2 s, allowed 3 s
    silent = world.device("silent", keep_alive=1)  # allowed 1.5 s
    assert talker.connect() == 0
    assert silent.connect() == 0
    started = time.monotonic()
    silent.pause()
    wait_until(lambda: not _online(world, silent.client_id), timeout=10, what="the drop")
    elapsed = time.monotonic() - started
    assert 1.2 <= elapsed < 4.0, elapsed
    silent.resume()
    assert silent.disconnected.wait(5), "the silent device finds its connection closed"
    # The client that pings is still there, past its own 3 s.
    time.sleep(max(0.0, 4.0 - (time.monotonic() - started)))
    assert _online(world, talker.client_id)
    assert not talker.disconnected.is_set()


def test_publishing_outside_the_rules_closes_the_connection(world: MqttWorld) -> None:
    for topic in ("nope/x", "orders/" + "x" * MAX_TOPIC_LENGTH):
        device = world.connected(f"d-{len(topic)}")
        device.publish(topic, b"refused", qos=0)
        assert device.disconnected.wait(5), topic
        wait_until(lambda d=device: not _online(world, d.client_id), what="offline")
