"""MQTT 3.1.1 packets as values, and the bytes they are on the wire (no I/O here).

``PacketReader.feed`` takes bytes as they arrive and returns the whole packets they complete;
``encode`` turns a packet into bytes. Only the packets of QoS 0 and 1 are understood: PUBREC,
PUBREL and PUBCOMP (QoS 2), AUTH and the reserved types are malformed input here, and so is
anything the specification forbids (bad fixed-header flags, a remaining length over four bytes,
invalid UTF-8, a zero packet identifier). A CONNECT of another protocol level decodes as far
as its level and raises ``UnsupportedProtocolLevel``, so the server can still answer it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

PROTOCOL_NAME = "MQTT"
PROTOCOL_LEVEL = 4  # MQTT 3.1.1
LEGACY_PROTOCOL_NAME = "MQIsdp"  # MQTT 3.1, answered "unacceptable protocol version"
MAX_REMAINING_LENGTH = 268_435_455  # four bytes of variable-length integer


class PacketType(IntEnum):
    CONNECT = 1
    CONNACK = 2
    PUBLISH = 3
    PUBACK = 4
    PUBREC = 5
    PUBREL = 6
    PUBCOMP = 7
    SUBSCRIBE = 8
    SUBACK = 9
    UNSUBSCRIBE = 10
    UNSUBACK = 11
    PINGREQ = 12
    PINGRESP = 13
    DISCONNECT = 14


class ConnectReturnCode(IntEnum):
    ACCEPTED = 0
    UNACCEPTABLE_PROTOCOL_VERSION = 1
    IDENTIFIER_REJECTED = 2
    SERVER_UNAVAILABLE = 3
    BAD_USERNAME_OR_PASSWORD = 4
    NOT_AUTHORIZED = 5


SUBACK_FAILURE = 0x80


class MalformedPacket(ValueError):
    """The bytes break MQTT 3.1.1 (or use what this server does not speak): close the connection."""


class UnsupportedProtocolLevel(MalformedPacket):
    """A CONNECT naming another protocol level (MQTT 5, or 3.1 as ``MQIsdp``)."""

    def __init__(self, name: str, level: int) -> None:
        self.name = name
        self.level = level
        super().__init__(f"protocol {name} level {level} is not MQTT 3.1.1")


@dataclass(frozen=True, slots=True)
class Will:
    topic: str
    payload: bytes
    qos: int
    retain: bool


@dataclass(frozen=True, slots=True)
class Connect:
    client_id: str
    clean_session: bool = True
    keep_alive: int = 60
    username: str | None = None
    password: bytes | None = None
    will: Will | None = None


@dataclass(frozen=True, slots=True)
class ConnAck:
    session_present: bool
    return_code: int


@dataclass(frozen=True, slots=True)
class Publish:
    topic: str
    payload: bytes
    qos: int = 0
    retain: bool = False
    dup: bool = False
    packet_id: int | None = None  # present exactly when qos > 0


@dataclass(frozen=True, slots=True)
class PubAck:
    packet_id: int


@dataclass(frozen=True, slots=True)
class Subscribe:
    packet_id: int
    requests: tuple[tuple[str, int], ...]  # (topic filter, requested QoS)


@dataclass(frozen=True, slots=True)
class SubAck:
    packet_id: int
    return_codes: tuple[int, ...]  # granted QoS, or SUBACK_FAILURE


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    packet_id: int
    filters: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class UnsubAck:
    packet_id: int


@dataclass(frozen=True, slots=True)
class PingReq:
    pass


@dataclass(frozen=True, slots=True)
class PingResp:
    pass


@dataclass(frozen=True, slots=True)
class Disconnect:
    pass


Packet = (
    Connect
    | ConnAck
    | Publish
    | PubAck
    | Subscribe
    | SubAck
    | Unsubscribe
    | UnsubAck
    | PingReq
    | PingResp
    | Disconnect
)

# Fixed-header flags each type must carry (PUBLISH's flags are its own and checked apart).
_REQUIRED_FLAGS = {
    PacketType.CONNECT: 0,
    PacketType.CONNACK: 0,
    PacketType.PUBACK: 0,
    PacketType.SUBSCRIBE: 0b0010,
    PacketType.SUBACK: 0,
    PacketType.UNSUBSCRIBE: 0b0010,
    PacketType.UNSUBACK: 0,
    PacketType.PINGREQ: 0,
    PacketType.PINGRESP: 0,
    PacketType.DISCONNECT: 0,
}


# --- decoding ---------------------------------------------------------------------------------


class _Cursor:
    """Reads the fields of one packet's body; every overrun is a MalformedPacket."""

    __slots__ = ("_data", "_pos")

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    def remaining(self) -> int:
        return len(self._data) - self._pos

    def byte(self) -> int:
        if self._pos >= len(self._data):
            raise MalformedPacket("packet ends early")
        value = self._data[self._pos]
        self._pos += 1
        return value

    def uint16(self) -> int:
        if self._pos + 2 > len(self._data):
            raise MalformedPacket("packet ends early")
        (value,) = struct.unpack_from("!H", self._data, self._pos)
        self._pos += 2
        return int(value)

    def binary(self) -> bytes:
        size = self.uint16()
        if self._pos + size > len(self._data):
            raise MalformedPacket("a length-prefixed field runs past the end of the packet")
        value = self._data[self._pos : self._pos + size]
        self._pos += size
        return value

    def text(self) -> str:
        raw = self.binary()
        try:
            value = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedPacket("a string is not valid UTF-8") from exc
        if "\x00" in value:
            raise MalformedPacket("a string contains U+0000")
        return value

    def rest(self) -> bytes:
        value = self._data[self._pos :]
        self._pos = len(self._data)
        return value

    def packet_id(self) -> int:
        value = self.uint16()
        if value == 0:
            raise MalformedPacket("packet identifier 0")
        return value

    def done(self, what: str) -> None:
        if self._pos != len(self._data):
            raise MalformedPacket(f"{what} has {self.remaining()} unexpected trailing byte(s)")


def _decode_connect(body: _Cursor) -> Connect:
    name = body.text()
    level = body.byte()
    if name not in (PROTOCOL_NAME, LEGACY_PROTOCOL_NAME):
        raise MalformedPacket(f"protocol name {name!r} is not MQTT")
    if name != PROTOCOL_NAME or level != PROTOCOL_LEVEL:
        raise UnsupportedProtocolLevel(name, level)
    flags = body.byte()
    if flags & 0x01:
        raise MalformedPacket("CONNECT reserved flag is set")
    has_username, has_password = bool(flags & 0x80), bool(flags & 0x40)
    will_retain, will_qos, has_will = bool(flags & 0x20), (flags >> 3) & 0x03, bool(flags & 0x04)
    if not has_will and (will_retain or will_qos):
        raise MalformedPacket("will QoS or retain set without a will")
    if will_qos == 3:
        raise MalformedPacket("will QoS 3")
    if has_password and not has_username:
        raise MalformedPacket("password without a username")
    keep_alive = body.uint16()
    client_id = body.text()
    will = None
    if has_will:
        will = Will(body.text(), body.binary(), will_qos, will_retain)
    username = body.text() if has_username else None
    password = body.binary() if has_password else None
    body.done("CONNECT")
    return Connect(
        client_id=client_id,
        clean_session=bool(flags & 0x02),
        keep_alive=keep_alive,
        username=username,
        password=password,
        will=will,
    )


def _decode_publish(flags: int, data: bytes) -> Publish:
    qos = (flags >> 1) & 0x03
    if qos == 3:
        raise MalformedPacket("PUBLISH with QoS 3")
    dup = bool(flags & 0x08)
    if dup and qos == 0:
        raise MalformedPacket("PUBLISH QoS 0 with DUP set")
    body = _Cursor(data)
    topic = body.text()
    packet_id = body.packet_id() if qos else None
    return Publish(topic, body.rest(), qos, bool(flags & 0x01), dup, packet_id)


def _decode_subscribe(body: _Cursor) -> Subscribe:
    packet_id = body.packet_id()
    requests = []
    while body.remaining():
        topic_filter = body.text()
        options = body.byte()
        if options & 0xFC or options == 3:
            raise MalformedPacket("SUBSCRIBE requested QoS is not 0, 1 or 2")
        requests.append((topic_filter, options))
    if not requests:
        raise MalformedPacket("SUBSCRIBE without a topic filter")
    return Subscribe(packet_id, tuple(requests))


def _decode_unsubscribe(body: _Cursor) -> Unsubscribe:
    packet_id = body.packet_id()
    filters = []
    while body.remaining():
        filters.append(body.text())
    if not filters:
        raise MalformedPacket("UNSUBSCRIBE without a topic filter")
    return Unsubscribe(packet_id, tuple(filters))


def _classify(first_byte: int) -> PacketType | str:
    """The type a fixed header's first byte announces, or why it is malformed."""
    try:
        kind = PacketType(first_byte >> 4)
    except ValueError:
        return f"packet type {first_byte >> 4} is reserved"
    flags = first_byte & 0x0F
    if kind is PacketType.PUBLISH:
        return "PUBLISH with QoS 3" if flags & 0x06 == 0x06 else kind
    required = _REQUIRED_FLAGS.get(kind)
    if required is None:
        return f"{kind.name} (QoS 2) is not supported"
    if flags != required:
        return f"{kind.name} with fixed-header flags {flags:#06b}"
    return kind


_FIRST_BYTES = tuple(_classify(first_byte) for first_byte in range(256))


def _packet_type(first_byte: int) -> PacketType:
    kind = _FIRST_BYTES[first_byte]
    if isinstance(kind, str):
        raise MalformedPacket(kind)
    return kind


def decode_packet(first_byte: int, data: bytes) -> Packet:
    """One packet from its first byte and its body (the bytes after the remaining length)."""
    kind = _packet_type(first_byte)
    if kind is PacketType.PUBLISH:
        return _decode_publish(first_byte & 0x0F, data)
    body = _Cursor(data)
    packet: Packet
    if kind is PacketType.CONNECT:
        return _decode_connect(body)
    if kind is PacketType.SUBSCRIBE:
        return _decode_subscribe(body)
    if kind is PacketType.UNSUBSCRIBE:
        return _decode_unsubscribe(body)
    if kind is PacketType.CONNACK:
        ack_flags, code = body.byte(), body.byte()
        if ack_flags & 0xFE:
            raise MalformedPacket("CONNACK reserved flags set")
        packet = ConnAck(bool(ack_flags & 0x01), code)
    elif kind is PacketType.PUBACK:
        packet = PubAck(body.packet_id())
    elif kind is PacketType.UNSUBACK:
        packet = UnsubAck(body.packet_id())
    elif kind is PacketType.SUBACK:
        packet = SubAck(body.packet_id(), tuple(body.rest()))
    elif kind is PacketType.PINGREQ:
        packet = PingReq()
    elif kind is PacketType.PINGRESP:
        packet = PingResp()
    else:
        packet = Disconnect()
    body.done(kind.name)
    return packet


class PacketReader:
    """Reassembles packets from a byte stream; a packet over ``max_packet_size`` is malformed."""

    __slots__ = ("_buffer", "max_packet_size")

    def __init__(self, max_packet_size: int = MAX_REMAINING_LENGTH) -> None:
        self._buffer = bytearray()
        self.max_packet_size = max_packet_size

    def feed(self, data: bytes) -> list[Packet]:
        """The packets completed by ``data`` (kept in order); raises MalformedPacket."""
        buffer = self._buffer
        buffer += data
        packets: list[Packet] = []
        pos, end = 0, len(buffer)
        while end - pos >= 1:
            _packet_type(buffer[pos])  # refuse a bad header at once, not after its body
            length, shift, index, complete = 0, 0, pos + 1, False
            while index < end:
                digit = buffer[index]
                index += 1
                length |= (digit & 0x7F) << shift
                if not digit & 0x80:
                    complete = True
                    break
                shift += 7
                if shift >= 28:
                    raise MalformedPacket("remaining length is longer than four bytes")
            if not complete:
                break  # the length itself has not fully arrived
            if length > self.max_packet_size:
                raise MalformedPacket(f"packet of {length} bytes is over the limit")
            if end - index < length:
                break
            packets.append(decode_packet(buffer[pos], bytes(buffer[index : index + length])))
            pos = index + length
        if pos:
            del buffer[:pos]
        return packets


# --- encoding ---------------------------------------------------------------------------------


def _remaining_length(length: int) -> bytes:
    if length > MAX_REMAINING_LENGTH:
        raise ValueError(f"packet body of {length} bytes is too long for MQTT")
    out = bytearray()
    while True:
        digit, length = length % 128, length // 128
        if length:
            out.append(digit | 0x80)
        else:
            out.append(digit)
            return bytes(out)


def _text(value: str) -> bytes:
    return _binary(value.encode("utf-8"))


def _binary(value: bytes) -> bytes:
    return struct.pack("!H", len(value)) + value


def _frame(first_byte: int, body: bytes) -> bytes:
    return bytes((first_byte,)) + _remaining_length(len(body)) + body


def encode_publish(
    topic: str,
    payload: bytes,
    qos: int = 0,
    packet_id: int | None = None,
    *,
    dup: bool = False,
    retain: bool = False,
) -> bytes:
    """A PUBLISH packet; the broker's hot path, so it skips building a ``Publish`` value."""
    flags = (0x08 if dup else 0) | (qos << 1) | (0x01 if retain else 0)
    head = _text(topic)
    if qos:
        if not packet_id:
            raise ValueError("a QoS 1 or 2 PUBLISH needs a packet identifier")
        head += struct.pack("!H", packet_id)
    return _frame(0x30 | flags, head + payload)


def encode(packet: Packet) -> bytes:
    """The wire form of any packet (clients' packets too, for tests and tools)."""
    if isinstance(packet, Publish):
        return encode_publish(
            packet.topic,
            packet.payload,
            packet.qos,
            packet.packet_id,
            dup=packet.dup,
            retain=packet.retain,
        )
    if isinstance(packet, ConnAck):
        return bytes((0x20, 2, int(packet.session_present), packet.return_code))
    if isinstance(packet, PubAck):
        return bytes((0x40, 2)) + struct.pack("!H", packet.packet_id)
    if isinstance(packet, SubAck):
        return _frame(0x90, struct.pack("!H", packet.packet_id) + bytes(packet.return_codes))
    if isinstance(packet, UnsubAck):
        return bytes((0xB0, 2)) + struct.pack("!H", packet.packet_id)
    if isinstance(packet, PingReq):
        return b"\xc0\x00"
    if isinstance(packet, PingResp):
        return b"\xd0\x00"
    if isinstance(packet, Disconnect):
        return b"\xe0\x00"
    if isinstance(packet, Subscribe):
        body = struct.pack("!H", packet.packet_id)
        body += b"".join(_text(f) + bytes((qos,)) for f, qos in packet.requests)
        return _frame(0x82, body)
    if isinstance(packet, Unsubscribe):
        body = struct.pack("!H", packet.packet_id) + b"".join(_text(f) for f in packet.filters)
        return _frame(0xA2, body)
    return _encode_connect(packet)


def _encode_connect(packet: Connect) -> bytes:
    flags = 0x02 if packet.clean_session else 0
    payload = _text(packet.client_id)
    if packet.will is not None:
        flags |= 0x04 | (packet.will.qos << 3) | (0x20 if packet.will.retain else 0)
        payload += _text(packet.will.topic) + _binary(packet.will.payload)
    if packet.username is not None:
        flags |= 0x80
        payload += _text(packet.username)
    if packet.password is not None:
        flags |= 0x40
        payload += _binary(packet.password)
    head = (
        _text(PROTOCOL_NAME) + bytes((PROTOCOL_LEVEL, flags)) + struct.pack("!H", packet.keep_alive)
    )
    return _frame(0x10, head + payload)


PINGRESP = encode(PingResp())
