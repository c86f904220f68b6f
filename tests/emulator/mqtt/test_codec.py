"""The MQTT 3.1.1 codec on its own: every packet round-trips, streams reassemble, and
malformed input is refused with MalformedPacket (never another exception)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.emulator.mqtt.codec import (
    ConnAck,
    Connect,
    Disconnect,
    MalformedPacket,
    PacketReader,
    PingReq,
    PingResp,
    PubAck,
    Publish,
    SubAck,
    Subscribe,
    UnsubAck,
    Unsubscribe,
    UnsupportedProtocolLevel,
    Will,
    encode,
)

PACKETS = [
    Connect("GID_a@@@d", clean_session=False, keep_alive=90, username="u", password=b"p"),
    Connect("GID_a@@@d", will=Will("orders/will", b"bye", 1, False)),
    Connect(""),
    ConnAck(True, 0),
    ConnAck(False, 5),
    Publish("orders/a", b"payload"),
    Publish("orders/a", b"", qos=1, packet_id=7, dup=True, retain=True),
    Publish("orders/" + "x" * 50, b"y" * 300, qos=1, packet_id=65535),  # 2-byte length
    PubAck(1),
    Subscribe(2, (("orders/#", 1), ("orders/+/t", 0))),
    SubAck(2, (1, 0x80)),
    Unsubscribe(3, ("orders/#",)),
    UnsubAck(3),
    PingReq(),
    PingResp(),
    Disconnect(),
]


@pytest.mark.parametrize("packet", PACKETS, ids=lambda p: type(p).__name__)
def test_every_packet_round_trips(packet: object) -> None:
    assert PacketReader().feed(encode(packet)) == [packet]  # type: ignore[arg-type]


def test_a_stream_fed_byte_by_byte_gives_the_same_packets() -> None:
    stream = b"".join(encode(p) for p in PACKETS)  # type: ignore[arg-type]
    reader = PacketReader()
    got = []
    for index in range(len(stream)):
        got += reader.feed(stream[index : index + 1])
    assert got == PACKETS


def test_large_remaining_length_uses_more_bytes() -> None:
    for size, length_bytes in ((2_000, 2), (20_000, 3), (2_100_000, 4)):
        packet = Publish("orders/big", b"z" * size)
        data = encode(packet)
        assert [b & 0x80 for b in data[1 : 1 + length_bytes]] == [0x80] * (length_bytes - 1) + [0]
        assert PacketReader().feed(data) == [packet]


def _connect_body(name: bytes, level: int, rest: bytes = b"\x02\x00\x3c\x00\x01c") -> bytes:
    return len(name).to_bytes(2, "big") + name + bytes((level,)) + rest


def _frame(first: int, body: bytes) -> bytes:
    assert len(body) < 128
    return bytes((first, len(body))) + body


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"\x30\xff\xff\xff\xff\x01", "longer than four bytes"),
        (b"\x00\x00", "reserved"),
        (b"\xf0\x00", "reserved"),
        (_frame(0x10, _connect_body(b"HTTP", 4)), "protocol name"),
        (_frame(0x10, _connect_body(b"MQTT", 4, b"\x03\x00\x3c\x00\x01c")), "reserved flag"),
        (_frame(0x10, _connect_body(b"MQTT", 4, b"\x42\x00\x3c\x00\x01c")), "without a username"),
        (_frame(0x10, _connect_body(b"MQTT", 4, b"\x02\x00")), "ends early"),
        (_frame(0x10, _connect_body(b"MQTT", 4) + b"extra"), "trailing"),
        (_frame(0x36, b"\x00\x01a\x00\x01"), "QoS 3"),
        (_frame(0x38, b"\x00\x01a"), "DUP"),
        (_frame(0x32, b"\x00\x01a\x00\x00"), "packet identifier 0"),
        (_frame(0x30, b"\x00\x02\xff\xfe"), "UTF-8"),
        (_frame(0x30, b"\x00\x02a\x00"), r"U\+0000"),
        (_frame(0x30, b"\x00\x09a"), "past the end"),
        (_frame(0x80, b"\x00\x01\x00\x01a\x01"), "flags"),
        (_frame(0x82, b"\x00\x01"), "without a topic filter"),
        (_frame(0x82, b"\x00\x01\x00\x01a\x03"), "QoS is not"),
        (_frame(0xA2, b"\x00\x01"), "without a topic filter"),
        (_frame(0x62, b"\x00\x01"), "QoS 2"),
        (_frame(0x50, b"\x00\x01"), "QoS 2"),
        (_frame(0xC0, b"\x00"), "trailing"),
    ],
)
def test_malformed_packets(data: bytes, words: str) -> None:
    with pytest.raises(MalformedPacket, match=words):
        PacketReader().feed(data)


def test_other_protocol_levels_are_recognised_for_an_answer() -> None:
    for name, level in ((b"MQTT", 5), (b"MQTT", 3), (b"MQIsdp", 3)):
        with pytest.raises(UnsupportedProtocolLevel) as info:
            PacketReader().feed(_frame(0x10, _connect_body(name, level)))
        assert info.value.level == level


def test_a_packet_over_the_size_limit_is_refused_from_its_header() -> None:
    with pytest.raises(MalformedPacket, match="over the limit"):
        PacketReader(max_packet_size=1000).feed(b"\x30\xe9\x07")  # announces 1001 bytes


def test_an_incomplete_packet_waits() -> None:
    data = encode(Publish("orders/a", b"payload"))
    reader = PacketReader()
    assert reader.feed(data[:1]) == []
    assert reader.feed(data[1:-1]) == []
    assert reader.feed(data[-1:]) == [Publish("orders/a", b"payload")]


@given(st.binary(max_size=300))
def test_arbitrary_bytes_decode_or_raise_malformed_only(data: bytes) -> None:
    with contextlib.suppress(MalformedPacket):
        PacketReader(max_packet_size=10_000).feed(data)
