"""Offline QoS 1 queues are bounded by bytes, per session and across all sessions: over a
bound the oldest messages go first, with a log line saying whose and how many, as a broker
does. Sizes are counted, never timed: a queued message weighs its payload plus its topic."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import pytest

from reconciler.emulator.mqtt.server import MqttOptions, MqttServer
from reconciler.emulator.mqtt.sessions import QueueLimits
from tests.fixtures.emulator import TEST_INSTANCE_ID, RunningEmulator
from tests.fixtures.mqtt_devices import GID, Device, serving, wait_until

TOPIC = "orders/q"
PAYLOAD_BYTES = 10_000
MESSAGE_BYTES = PAYLOAD_BYTES + len(TOPIC)  # 10,008: what one queued message weighs
SESSION_BYTES = 70_000  # holds 6 such messages (60,048), not 7 (70,056)
TOTAL_BYTES = 100_000  # holds 9 (90,072), not 10 (100,080)
PUBLISHED = 20


class QueueWorld:
    def __init__(self, port: int, offline: Callable[[str], bool]) -> None:
        self.port = port
        self.offline = offline  # whether the listener has seen this ClientId leave
        self.devices: list[Device] = []

    def device(self, name: str, *, clean_session: bool = True) -> Device:
        made = Device(self.port, f"{GID}@@@{name}", clean_session=clean_session)
        self.devices.append(made)
        return made

    def offline_subscriber(self, name: str) -> None:
        subscriber = self.device(name, clean_session=False)
        assert subscriber.connect() == 0
        assert subscriber.subscribe(TOPIC, qos=1) == [1]
        subscriber.disconnect()
        wait_until(lambda: self.offline(subscriber.client_id), what="offline")

    def publish_numbered(self) -> Device:
        """PUBLISHED messages, each PUBACKed (so routed) before the next; the publisher."""
        publisher = self.device("publisher")
        assert publisher.connect() == 0
        for number in range(PUBLISHED):
            publisher.publish(TOPIC, f"{number:04d}".encode().ljust(PAYLOAD_BYTES, b"."), qos=1)
        return publisher

    def kept(self, name: str, publisher: Device) -> list[int]:
        """Reconnect ``name`` and read what its session kept, up to a marker sent after."""
        again = self.device(name, clean_session=False)
        assert again.connect() == 0
        assert again.session_present is True
        publisher.publish(TOPIC, b"marker", qos=1)
        numbers = []
        while (payload := again.receive().payload) != b"marker":
            numbers.append(int(payload[:4]))
        again.disconnect()
        return numbers


@pytest.fixture
def queue_world(emulator: RunningEmulator) -> Iterator[QueueWorld]:
    emulator.store.add_group(TEST_INSTANCE_ID, GID, topic=emulator.topic)
    limits = QueueLimits(session_bytes=SESSION_BYTES, total_bytes=TOTAL_BYTES)
    server = MqttServer(emulator.store, options=MqttOptions(queue_limits=limits)).start()
    store = emulator.store
    made = QueueWorld(server.port, lambda client: not store.client_online(TEST_INSTANCE_ID, client))
    try:
        yield made
    finally:
        for device in made.devices:
            device.close()
        server.stop()


def _drop_lines(caplog: pytest.LogCaptureFixture, client: str) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "reconciler.emulator.mqtt"
        and "dropp" in record.getMessage()
        and client in record.getMessage()
    ]


def test_a_session_over_its_byte_bound_keeps_the_newest_and_says_what_it_dropped(
    queue_world: QueueWorld, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="reconciler.emulator.mqtt")
    queue_world.offline_subscriber("only")
    publisher = queue_world.publish_numbered()
    assert queue_world.kept("only", publisher) == list(range(PUBLISHED - 6, PUBLISHED))
    client = f"{GID}@@@only"
    lines = _drop_lines(caplog, client)
    dropped = PUBLISHED - 6
    assert len(lines) == 2, lines
    assert f"over {SESSION_BYTES} bytes" in lines[0]
    assert f"{dropped} queued messages ({dropped * MESSAGE_BYTES} bytes)" in lines[1]


def test_the_total_bound_holds_across_sessions(
    queue_world: QueueWorld, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="reconciler.emulator.mqtt")
    queue_world.offline_subscriber("first")
    queue_world.offline_subscriber("second")
    publisher = queue_world.publish_numbered()
    first = queue_world.kept("first", publisher)
    second = queue_world.kept("second", publisher)
    # Nine messages fit in all; the oldest went first, whichever session held them.
    assert sorted(first + second) == [15, 16, 16, 17, 17, 18, 18, 19, 19]
    for kept in (first, second):
        assert kept == list(range(kept[0], PUBLISHED))
    for name, kept in (("first", first), ("second", second)):
        lines = _drop_lines(caplog, f"{GID}@@@{name}")
        assert any(f"over {TOTAL_BYTES} bytes" in line for line in lines), lines
        lost = PUBLISHED - len(kept)
        assert f"{lost} queued messages ({lost * MESSAGE_BYTES} bytes)" in lines[-1]


def test_serve_takes_the_bounds_as_options() -> None:
    with serving(
        "--mqtt-queue-bytes", str(SESSION_BYTES), "--mqtt-queue-total-bytes", "1MiB"
    ) as served:
        lines = served.stderr_lines
        world = QueueWorld(
            served.port,
            lambda client: any(f"mqtt: {client} disconnected" in line for line in lines),
        )
        try:
            world.offline_subscriber("only")
            publisher = world.publish_numbered()
            assert world.kept("only", publisher) == list(range(PUBLISHED - 6, PUBLISHED))
        finally:
            for device in world.devices:
                device.close()
        client, dropped = f"{GID}@@@only", PUBLISHED - 6
        summary = f"mqtt: {client} on {TEST_INSTANCE_ID}: {dropped} queued messages"
        wait_until(lambda: any(line.startswith(summary) for line in lines), what=summary)
        assert any(f"over {SESSION_BYTES} bytes" in line for line in lines)
