"""The MQTT 3.1.1 broker: connections, takeover, keep-alive, routing, and what the store learns.

Everything here runs on the listener's one event loop thread, so sessions need no locks. The
store (shared with the HTTP threads, guarded by its own lock) is written synchronously from this
thread at the moments the management API must see at once (connect, disconnect, subscribe), and
in batches once a second for what changes per packet (last touch, message counts), which keeps
SQLite off the forwarding path. Custom-auth permissions are the exception: they are read for
each packet and each delivery to such a connection, so a changed one applies at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from reconciler.emulator.mqtt.auth import Admission, DeviceAuthenticator, Refused
from reconciler.emulator.mqtt.codec import (
    PINGRESP,
    ConnAck,
    Connect,
    ConnectReturnCode,
    Disconnect,
    MalformedPacket,
    Packet,
    PacketReader,
    PingReq,
    PubAck,
    Publish,
    SubAck,
    Subscribe,
    UnsubAck,
    Unsubscribe,
    UnsupportedProtocolLevel,
    encode,
    encode_publish,
)
from reconciler.emulator.mqtt.permissions import Action, refusal
from reconciler.emulator.mqtt.sessions import (
    MAX_SUBSCRIPTIONS,
    QueueBudget,
    QueuedMessage,
    QueueLimits,
    Session,
    SessionRegistry,
)
from reconciler.emulator.mqtt.topics import (
    check_topic_filter,
    check_topic_name,
    malformed_topic_filter,
    p2p_receiver,
    parent_of,
    sub_topic_of,
)
from reconciler.emulator.store import EmulatorStore, MessageCount
from reconciler.emulator.store import Subscription as StoredSubscription

logger = logging.getLogger(__name__.rpartition(".")[0])

MAX_PAYLOAD_BYTES = 64 * 1024  # the service's message size limit
MAX_PACKET_BYTES = MAX_PAYLOAD_BYTES + 1024
KEEP_ALIVE_FACTOR = 1.5
# Past this much unsent data to one client, QoS 0 messages to it are dropped (QoS 1 ones wait
# in its session's bounded queue behind the in-flight window).
MAX_WRITE_BUFFER_BYTES = 16 * 1024 * 1024

# (instance, topic, PUB|SUB, qos, minute start in ms) -> messages
CountKey = tuple[str, str, str, int, int]


def _now_ms() -> int:
    return int(time.time() * 1000)


def _minute(ms: int) -> int:
    return ms - ms % 60_000


@dataclass(frozen=True)
class BrokerOptions:
    connect_timeout_s: float = 10.0
    queue_limits: QueueLimits = field(default_factory=QueueLimits)


class Broker:
    def __init__(
        self,
        store: EmulatorStore,
        authenticator: DeviceAuthenticator,
        options: BrokerOptions | None = None,
    ) -> None:
        self.store = store
        self.authenticator = authenticator
        self.options = options or BrokerOptions()
        self.sessions = SessionRegistry()
        self.queue_budget = QueueBudget(self.options.queue_limits)
        self.connections: set[Connection] = set()
        self._counts: Counter[CountKey] = Counter()
        # Parent topics are never removed from the emulator, so a found one stays found.
        self._known_parents: set[tuple[str, str]] = set()

    # --- connect and disconnect ---------------------------------------------------------------

    def connect(self, conn: Connection, packet: Connect) -> None:
        # Authentication comes before anything else: a refused attempt changes no session.
        try:
            admission = self.authenticator.admit(packet.client_id, packet.username, packet.password)
        except Refused as refusal:
            logger.info(
                "refused %r from %s: %s (CONNACK %d)",
                packet.client_id[:80],
                conn.socket,
                refusal.reason,
                refusal.return_code,
            )
            conn.refuse(refusal.return_code)
            return
        instance_id, client_id = admission.instance_id, admission.client_id
        old = self.sessions.get(instance_id, client_id)
        if old is not None and old.link is not None:
            previous = old.link
            old.link = None
            logger.info(
                "%s connected again from %s: closing its connection from %s",
                client_id,
                conn.socket,
                previous.socket,
            )
            previous.kick()
        resumed = old is not None and old.persistent and not packet.clean_session
        if resumed:
            assert old is not None
            session = old
        else:
            if old is not None:
                self.sessions.remove(old)
            session = Session(
                instance_id,
                client_id,
                persistent=not packet.clean_session,
                budget=self.queue_budget,
            )
            self.sessions.add(session)
        session.link = conn
        session.identities = admission.identities
        conn.accept(session, admission, packet.keep_alive)
        self.store.record_connect(
            instance_id,
            client_id,
            socket=conn.socket,
            at_ms=_now_ms(),
            clean_session=not resumed,
            group_id=admission.group_id,
        )
        conn.write(encode(ConnAck(resumed, ConnectReturnCode.ACCEPTED)))
        logger.info("%s connected from %s", client_id, conn.socket)
        if resumed:
            session.resume()

    def closed(self, conn: Connection) -> None:
        """The connection is gone; its session ends, or waits offline when persistent."""
        self.connections.discard(conn)
        session = conn.session
        if session is None or session.link is not conn:
            return  # refused, never connected, or taken over by a newer connection
        session.link = None
        if not session.persistent:
            self.sessions.remove(session)
        self.store.record_disconnect(
            session.instance_id,
            session.client_id,
            at_ms=_now_ms(),
            keep_subscriptions=session.persistent,
        )
        logger.info("%s disconnected (%s)", session.client_id, conn.close_reason)

    # --- messages -----------------------------------------------------------------------------

    def publish(self, conn: Connection, session: Session, packet: Publish) -> None:
        if packet.qos == 2:
            conn.abort(f"published with QoS 2 to {packet.topic!r}, which the emulator lacks")
            return
        problem = check_topic_name(packet.topic)
        if problem is None and not self._parent_exists(session.instance_id, packet.topic):
            problem = f"parent topic {parent_of(packet.topic)!r} does not exist on the instance"
        if problem is None and len(packet.payload) > MAX_PAYLOAD_BYTES:
            problem = f"the payload is {len(packet.payload)} bytes (at most {MAX_PAYLOAD_BYTES})"
        if problem is not None:
            conn.abort(f"publish to {packet.topic!r} refused: {problem}")
            return
        # A PUBLISH the permissions refuse is acknowledged as usual (MQTT 3.1.1 3.3.5 lets a
        # server ack or close; acking keeps a QoS 1 publisher from resending it forever) and
        # reaches no subscriber.
        refused = self._refused(conn, session, "PUB", packet.topic)
        if refused is not None:
            logger.info("%s: publish refused: %s", session.client_id, refused)
        else:
            self.route(session.instance_id, packet.topic, packet.payload, packet.qos)
        if packet.qos == 1:
            assert packet.packet_id is not None
            conn.write(encode(PubAck(packet.packet_id)))

    def route(self, instance_id: str, topic: str, payload: bytes, qos: int) -> None:
        """Deliver one published message to its P2P receiver or to every matching session."""
        minute = _minute(_now_ms())
        self._counts[(instance_id, topic, "PUB", qos, minute)] += 1
        levels = topic.split("/")
        receiver = p2p_receiver(levels)
        targets: list[tuple[Session, int]]
        if receiver is not None:
            session = self.sessions.get(instance_id, receiver)
            targets = [] if session is None else [(session, qos)]
        else:
            targets = self._may_receive(
                instance_id, topic, self.sessions.subscribers(instance_id, levels)
            )
        encoded: bytes | None = None
        sent_qos0 = 0
        for session, granted in targets:
            if min(qos, granted) == 1:
                session.deliver_qos1(QueuedMessage(topic, payload))
                continue
            link = session.link
            if link is None:
                continue  # QoS 0 is not kept for offline sessions, as on the service
            if encoded is None:
                encoded = encode_publish(topic, payload)
            if link.send_raw(encoded):
                sent_qos0 += 1
        if sent_qos0:
            self._counts[(instance_id, topic, "SUB", 0, minute)] += sent_qos0

    def _may_receive(
        self, instance_id: str, topic: str, targets: Iterable[tuple[Session, int]]
    ) -> list[tuple[Session, int]]:
        """The subscribers whose custom-auth permissions allow SUB on ``topic`` now: a
        subscription granted earlier does not outlive a permission denied or deleted since
        (read from the store for each message, once per set of identities). Sessions of other
        modes are not limited."""
        verdicts: dict[tuple[tuple[str, str], ...], str | None] = {}
        kept: list[tuple[Session, int]] = []
        for session, granted in targets:
            identities = session.identities
            if identities is not None:
                if identities not in verdicts:
                    permissions = self.store.permissions_for(instance_id, identities)
                    verdicts[identities] = refusal(permissions, "SUB", topic)
                refused = verdicts[identities]
                if refused is not None:
                    logger.debug("%s: delivery withheld: %s", session.client_id, refused)
                    continue
            kept.append((session, granted))
        return kept

    def count_delivery(self, instance_id: str, topic: str, qos: int) -> None:
        self._counts[(instance_id, topic, "SUB", qos, _minute(_now_ms()))] += 1

    def _refused(
        self, conn: Connection, session: Session, action: Action, topic: str
    ) -> str | None:
        """Why the connection's custom-auth permissions refuse this, or None (also for a
        connection of another mode, which no permission limits). Read from the store each time,
        so a changed permission applies to the next packet."""
        admission = conn.admission
        if admission is None or admission.identities is None:
            return None
        permissions = self.store.permissions_for(session.instance_id, admission.identities)
        return refusal(permissions, action, topic)

    def blacklisted(self, instance_id: str, client_id: str) -> None:
        """A client id was put on its instance's connect blacklist: close its live connection."""
        session = self.sessions.get(instance_id, client_id)
        if session is not None and session.link is not None:
            session.link.abort(f"{client_id} was put on the connect blacklist")

    def _parent_exists(self, instance_id: str, topic: str) -> bool:
        key = (instance_id, parent_of(topic))
        if key in self._known_parents:
            return True
        if self.store.has_topic(*key):
            self._known_parents.add(key)
            return True
        return False

    # --- subscriptions ------------------------------------------------------------------------

    def subscribe(self, conn: Connection, session: Session, packet: Subscribe) -> None:
        # A malformed filter makes the whole packet a protocol violation (MQTT 3.1.1 4.7.1):
        # close the connection with nothing subscribed, no SUBACK.
        for topic_filter, _ in packet.requests:
            malformed = malformed_topic_filter(topic_filter)
            if malformed is not None:
                conn.abort(f"malformed topic filter {topic_filter!r}: {malformed}")
                return
        codes: list[int] = []
        added: list[StoredSubscription] = []
        for topic_filter, requested in packet.requests:
            problem = check_topic_filter(topic_filter)
            if problem is None and not self._parent_exists(session.instance_id, topic_filter):
                problem = f"parent topic {parent_of(topic_filter)!r} does not exist"
            if (
                problem is None
                and topic_filter not in session.subscriptions
                and len(session.subscriptions) >= MAX_SUBSCRIPTIONS
            ):
                problem = f"a client may hold at most {MAX_SUBSCRIPTIONS} subscriptions"
            if problem is None:
                problem = self._refused(conn, session, "SUB", topic_filter)
            if problem is not None:
                logger.info(
                    "%s: subscription %r refused: %s", session.client_id, topic_filter, problem
                )
                codes.append(0x80)
                continue
            granted = min(requested, 1)  # QoS 2 is granted as 1
            self.sessions.subscribe(session, topic_filter, granted)
            codes.append(granted)
            added.append(
                StoredSubscription(parent_of(topic_filter), sub_topic_of(topic_filter), granted)
            )
        if added:
            self.store.record_subscriptions(session.instance_id, session.client_id, added=added)
        conn.write(encode(SubAck(packet.packet_id, tuple(codes))))

    def unsubscribe(self, conn: Connection, session: Session, packet: Unsubscribe) -> None:
        removed = [
            (parent_of(topic_filter), sub_topic_of(topic_filter))
            for topic_filter in packet.filters
            if self.sessions.unsubscribe(session, topic_filter)
        ]
        if removed:
            self.store.record_subscriptions(session.instance_id, session.client_id, removed=removed)
        conn.write(encode(UnsubAck(packet.packet_id)))

    # --- bookkeeping --------------------------------------------------------------------------

    def flush(self) -> None:
        """Write the batched last touches and message counts to the store."""
        touches = []
        for conn in self.connections:
            session = conn.session
            if session is not None and session.link is conn and conn.touch_pending:
                touches.append((session.instance_id, session.client_id, conn.last_touch_ms))
                conn.touch_pending = False
        if touches:
            self.store.record_touches(touches)
        counts, self._counts = self._counts, Counter()
        if counts:
            self.store.add_message_counts(_message_counts(counts))

    def close_all(self) -> None:
        for conn in list(self.connections):
            conn.abort("the emulator is stopping")


def _message_counts(counts: Counter[CountKey]) -> Counter[MessageCount]:
    """Per-topic counts as the service's series: parent topic, SubTopic, P2P or SUB."""
    series: Counter[MessageCount] = Counter()
    for (instance_id, topic, trans_type, qos, at_ms), number in counts.items():
        levels = topic.split("/")
        msg_type = "P2P" if p2p_receiver(levels) is not None else "SUB"
        key = MessageCount(
            instance_id, levels[0], sub_topic_of(topic), trans_type, msg_type, qos, at_ms
        )
        series[key] += number
    return series


class Connection(asyncio.Protocol):
    """One TCP connection: bytes to packets, packets to the broker, keep-alive."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self.reader = PacketReader(MAX_PACKET_BYTES)
        self.session: Session | None = None
        self.admission: Admission | None = None
        self.socket = "/?:0"
        self.close_reason = "closed by the client"
        self.last_touch_ms = _now_ms()
        self.touch_pending = False
        self._transport: asyncio.Transport | None = None
        self._loop = asyncio.get_running_loop()
        self._last_activity = self._loop.time()
        self._timer: asyncio.TimerHandle | None = None
        self._keep_alive_limit = 0.0
        self._closing = False

    # --- asyncio callbacks --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple) and len(peer) >= 2:
            self.socket = f"/{peer[0]}:{peer[1]}"
        self.broker.connections.add(self)
        self._timer = self._loop.call_later(self.broker.options.connect_timeout_s, self._no_connect)

    def data_received(self, data: bytes) -> None:
        if self._closing:
            return
        self._last_activity = self._loop.time()
        try:
            packets = self.reader.feed(data)
        except UnsupportedProtocolLevel as exc:
            if self.session is None:
                logger.info("refused a connection from %s: %s (CONNACK 1)", self.socket, exc)
                self.refuse(ConnectReturnCode.UNACCEPTABLE_PROTOCOL_VERSION, str(exc))
            else:
                self.abort(f"malformed packet: {exc}")
            return
        except MalformedPacket as exc:
            self.abort(f"malformed packet: {exc}")
            return
        if self.session is not None:
            self.last_touch_ms = _now_ms()
            self.touch_pending = True
        for packet in packets:
            if self._closing:
                return
            try:
                self._handle(packet)
            except Exception:  # a bug or a broken database: lose this client, not the server
                logger.exception("failed on %s from %s", type(packet).__name__, self.socket)
                self.abort("internal error")

    def connection_lost(self, exc: Exception | None) -> None:
        self._closing = True
        if self._timer is not None:
            self._timer.cancel()
        if exc is not None and self.close_reason == "closed by the client":
            self.close_reason = f"connection lost: {exc}"
        try:
            self.broker.closed(self)
        except Exception:
            logger.exception("failed to record the end of %s", self.socket)

    # --- packets ------------------------------------------------------------------------------

    def _handle(self, packet: Packet) -> None:
        session = self.session
        if session is None:
            if isinstance(packet, Connect):
                self.broker.connect(self, packet)
            else:
                self.abort(f"{type(packet).__name__} before CONNECT")
            return
        if isinstance(packet, Publish):
            self.broker.publish(self, session, packet)
        elif isinstance(packet, PubAck):
            session.acknowledged(packet.packet_id)
        elif isinstance(packet, PingReq):
            self.write(PINGRESP)
        elif isinstance(packet, Subscribe):
            self.broker.subscribe(self, session, packet)
        elif isinstance(packet, Unsubscribe):
            self.broker.unsubscribe(self, session, packet)
        elif isinstance(packet, Disconnect):
            self._close("disconnected by the client")
        else:
            self.abort(f"unexpected {type(packet).__name__} from a client")

    # --- what the broker and sessions call ----------------------------------------------------

    def accept(self, session: Session, admission: Admission, keep_alive: int) -> None:
        self.session = session
        self.admission = admission
        self.last_touch_ms = _now_ms()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if keep_alive:
            self._keep_alive_limit = keep_alive * KEEP_ALIVE_FACTOR
            self._timer = self._loop.call_later(self._keep_alive_limit, self._check_alive)

    def refuse(self, code: ConnectReturnCode, reason: str | None = None) -> None:
        self.write(encode(ConnAck(False, code)))
        self._close(reason or f"refused with CONNACK {int(code)}")

    def kick(self) -> None:
        self._close("taken over by a new connection with the same ClientId")

    def write(self, data: bytes) -> None:
        if self._transport is not None and not self._closing:
            self._transport.write(data)

    def send_raw(self, data: bytes) -> bool:
        """Write an encoded QoS 0 PUBLISH; False (dropped) when the client is far behind."""
        transport = self._transport
        if transport is None or self._closing:
            return False
        if transport.get_write_buffer_size() > MAX_WRITE_BUFFER_BYTES:
            return False
        transport.write(data)
        return True

    def send_publish(
        self, topic: str, payload: bytes, qos: int, packet_id: int | None, dup: bool
    ) -> None:
        self.write(encode_publish(topic, payload, qos, packet_id, dup=dup))
        if not dup and self.session is not None:
            self.broker.count_delivery(self.session.instance_id, topic, qos)

    def abort(self, reason: str) -> None:
        """Close at once, discarding unsent data (malformed input, keep-alive, shutdown)."""
        if self._closing:
            return
        self._closing = True
        self.close_reason = reason
        if self.session is not None:
            logger.info("closing %s from %s: %s", self.session.client_id, self.socket, reason)
        else:
            logger.info("closing connection from %s: %s", self.socket, reason)
        if self._transport is not None:
            self._transport.abort()

    def _close(self, reason: str) -> None:
        """Close after sending what is already written (CONNACK of a refusal, DISCONNECT)."""
        if self._closing:
            return
        self._closing = True
        self.close_reason = reason
        if self._transport is not None:
            self._transport.close()

    # --- timers -------------------------------------------------------------------------------

    def _no_connect(self) -> None:
        self.abort(f"no CONNECT within {self.broker.options.connect_timeout_s:g}s")

    def _check_alive(self) -> None:
        idle = self._loop.time() - self._last_activity
        if idle >= self._keep_alive_limit:
            self.abort(f"silent for {idle:.1f}s, over 1.5x its keep-alive")
        else:
            self._timer = self._loop.call_later(self._keep_alive_limit - idle, self._check_alive)
