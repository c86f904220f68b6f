"""The listener against raw sockets: malformed input closes that connection and nothing else,
other protocol levels get CONNACK 1, and an unacknowledged QoS 1 message comes back as DUP."""

from __future__ import annotations

import socket

import pytest

from reconciler.emulator.mqtt.auth import sign_client_id
from reconciler.emulator.mqtt.codec import (
    ConnAck,
    Connect,
    Packet,
    PacketReader,
    PubAck,
    Publish,
    SubAck,
    Subscribe,
    encode,
)
from tests.fixtures.emulator import TEST_ACCESS_KEY_SECRET, TEST_INSTANCE_ID
from tests.fixtures.mqtt_devices import GID, MqttWorld, signature_username, wait_until


class RawClient:
    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.reader = PacketReader()
        self.pending: list[Packet] = []

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def next(self) -> Packet:
        while not self.pending:
            data = self.sock.recv(65536)
            assert data, "connection closed"
            self.pending += self.reader.feed(data)
        return self.pending.pop(0)

    def closed_by_server(self) -> bool:
        """True once the server has closed the connection (EOF or reset)."""
        try:
            while self.sock.recv(65536):
                pass
        except ConnectionResetError:
            return True
        except TimeoutError:
            return False
        return True

    def connect(self, device: str, *, clean_session: bool = True) -> ConnAck:
        client_id = f"{GID}@@@{device}"
        self.send(
            encode(
                Connect(
                    client_id,
                    clean_session=clean_session,
                    username=signature_username(),
                    password=sign_client_id(TEST_ACCESS_KEY_SECRET, client_id).encode(),
                )
            )
        )
        answer = self.next()
        assert isinstance(answer, ConnAck)
        return answer

    def close(self) -> None:
        self.sock.close()


def _connect_packet(name: bytes, level: int) -> bytes:
    body = len(name).to_bytes(2, "big") + name + bytes((level, 0x02, 0, 60, 0, 1)) + b"c"
    return bytes((0x10, len(body))) + body


@pytest.mark.parametrize(
    "garbage",
    [
        b"\x10\xff\xff\xff\xff\x01",  # remaining length over four bytes
        _connect_packet(b"HTTP", 4),  # wrong protocol name
        b"\x30\x05\x00\x01a",  # PUBLISH before CONNECT (incomplete, then more below)
        b"GET / HTTP/1.1\r\n\r\n",
    ],
)
def test_malformed_input_closes_the_connection_and_the_server_carries_on(
    world: MqttWorld, garbage: bytes
) -> None:
    bystander = world.connected("bystander")
    assert bystander.subscribe("orders/a") == [1]
    raw = RawClient(world.port)
    raw.send(garbage + b"\x00" * 8)
    assert raw.closed_by_server()
    raw.close()
    # Still serving: the connected device keeps working and a new one connects.
    publisher = world.connected("publisher")
    publisher.publish("orders/a", b"alive", qos=1)
    assert bystander.receive().payload == b"alive"


def test_malformed_input_after_connect_ends_the_session(world: MqttWorld) -> None:
    raw = RawClient(world.port)
    assert raw.connect("raw").return_code == 0
    raw.send(b"\x62\x02\x00\x01")  # PUBREL: QoS 2 is not spoken here
    assert raw.closed_by_server()
    raw.close()


@pytest.mark.parametrize("malformed", ["#/ab", "a/#/b", "a+/b"])
def test_a_malformed_topic_filter_closes_the_connection_with_nothing_subscribed(
    world: MqttWorld, malformed: str
) -> None:
    raw = RawClient(world.port)
    # A persistent session keeps its subscriptions: any made would still be recorded below.
    assert raw.connect("raw", clean_session=False).return_code == 0
    # One good filter beside the malformed one: the whole packet is a protocol violation.
    raw.send(encode(Subscribe(1, (("orders/fine", 1), (malformed, 1)))))
    assert raw.closed_by_server()  # and no SUBACK before the close
    assert raw.pending == []
    raw.close()
    client_id = f"{GID}@@@raw"
    wait_until(
        lambda: not world.emulator.store.client_online(TEST_INSTANCE_ID, client_id),
        what="offline",
    )
    record = world.emulator.store.client(TEST_INSTANCE_ID, client_id)
    assert record is not None and record.subscriptions == ()


def test_a_refused_well_formed_filter_gets_suback_0x80_and_keeps_the_connection(
    world: MqttWorld,
) -> None:
    raw = RawClient(world.port)
    assert raw.connect("raw").return_code == 0
    raw.send(encode(Subscribe(1, (("nope/x", 1), ("+/x", 1), ("orders/" + "x" * 60, 1)))))
    assert raw.next() == SubAck(1, (0x80, 0x80, 0x80))
    raw.send(encode(Subscribe(2, (("orders/fine", 1),))))
    assert raw.next() == SubAck(2, (1,))
    raw.close()


@pytest.mark.parametrize(("name", "level"), [(b"MQTT", 5), (b"MQIsdp", 3)])
def test_other_protocol_levels_get_connack_1(world: MqttWorld, name: bytes, level: int) -> None:
    raw = RawClient(world.port)
    raw.send(_connect_packet(name, level))
    assert raw.next() == ConnAck(False, 1)
    assert raw.closed_by_server()
    raw.close()


def test_an_unacknowledged_qos1_message_is_redelivered_as_dup(world: MqttWorld) -> None:
    raw = RawClient(world.port)
    assert raw.connect("raw", clean_session=False) == ConnAck(False, 0)
    raw.send(encode(Subscribe(1, (("orders/jobs", 1),))))
    assert raw.next() == SubAck(1, (1,))
    world.connected("publisher").publish("orders/jobs", b"work", qos=1)
    first = raw.next()
    assert isinstance(first, Publish) and first.qos == 1 and not first.dup
    raw.close()  # gone without acknowledging
    again = RawClient(world.port)
    assert again.connect("raw", clean_session=False) == ConnAck(True, 0)
    redelivered = again.next()
    assert isinstance(redelivered, Publish)
    assert (redelivered.payload, redelivered.dup, redelivered.packet_id) == (
        b"work",
        True,
        first.packet_id,
    )
    assert redelivered.packet_id is not None
    again.send(encode(PubAck(redelivered.packet_id)))
    again.close()
