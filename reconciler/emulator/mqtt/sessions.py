"""Sessions as the service keeps them: one per (instance, ClientId), outliving a connection
when it is persistent (clean_session=0), with its subscriptions and its QoS 1 messages.

The QoS 1 messages waiting (offline, or behind the in-flight window) are bounded per session,
by count and by bytes, and across all sessions by bytes (``QueueLimits``); over a bound the
oldest go first (across sessions: the oldest of all), as a broker drops them, with one log line
when a session starts losing messages and one saying how many it lost once its queue is empty.

Owned by the listener's event loop thread; nothing here is shared with other threads.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from reconciler.emulator.mqtt.topics import matches, parent_of

logger = logging.getLogger(__name__.rpartition(".")[0])

MAX_SUBSCRIPTIONS = 30  # per client, as the service allows
MAX_INFLIGHT = 64  # QoS 1 messages sent and not yet acknowledged, per session
MAX_QUEUED = 10_000  # QoS 1 messages waiting (offline, or behind the in-flight window)
# Bytes of waiting QoS 1 messages (payload and topic): 256 messages of the largest size per
# session, and what a development machine spares for the emulator in all.
DEFAULT_SESSION_QUEUE_BYTES = 16 * 2**20
DEFAULT_TOTAL_QUEUE_BYTES = 128 * 2**20


class Link(Protocol):
    """The connection a session is attached to, as the session needs it."""

    socket: str

    def kick(self) -> None: ...

    def abort(self, reason: str) -> None: ...

    def send_publish(
        self, topic: str, payload: bytes, qos: int, packet_id: int | None, dup: bool
    ) -> None: ...

    def send_raw(self, data: bytes) -> bool: ...


@dataclass(frozen=True, slots=True)
class QueuedMessage:
    topic: str
    payload: bytes

    @property
    def size(self) -> int:
        """What the message weighs in a queue: its payload and its topic."""
        return len(self.payload) + len(self.topic.encode())


@dataclass(frozen=True)
class QueueLimits:
    session_bytes: int = DEFAULT_SESSION_QUEUE_BYTES
    total_bytes: int = DEFAULT_TOTAL_QUEUE_BYTES
    session_messages: int = MAX_QUEUED

    def __post_init__(self) -> None:
        if min(self.session_bytes, self.total_bytes, self.session_messages) < 1:
            raise ValueError("queue limits must be positive")


class QueueBudget:
    """The bytes waiting in every session's queue, against ``limits.total_bytes``."""

    def __init__(self, limits: QueueLimits | None = None) -> None:
        self.limits = limits or QueueLimits()
        self.used = 0
        self._serial = 0  # the arrival order of queued messages, across sessions
        self._holders: dict[Session, None] = {}  # sessions with something queued

    def admit(self, session: Session, size: int) -> int:
        """Make room for ``size`` more bytes, dropping the oldest messages of all; the
        message's arrival number."""
        reason = f"all queues together are over {self.limits.total_bytes} bytes"
        while self.used + size > self.limits.total_bytes and self._holders:
            oldest = min(self._holders, key=lambda held: held.queue[0][0])
            oldest.drop_oldest(reason)
        self._serial += 1
        self._holders[session] = None
        self.used += size
        return self._serial

    def released(self, session: Session, size: int) -> None:
        self.used -= size
        if not session.queue:
            self._holders.pop(session, None)


@dataclass(frozen=True, slots=True)
class Subscription:
    topic_filter: str
    levels: tuple[str, ...]
    qos: int


@dataclass(eq=False)
class Session:
    instance_id: str
    client_id: str
    persistent: bool
    budget: QueueBudget
    link: Link | None = None
    # The custom-auth (IdentityType, Identity) pairs of its last admission, whose permissions
    # decide what it may receive; None: another mode, which no permission limits.
    identities: tuple[tuple[str, str], ...] | None = None
    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    inflight: dict[int, QueuedMessage] = field(default_factory=dict)
    # (arrival number, message), oldest first
    queue: deque[tuple[int, QueuedMessage]] = field(default_factory=deque)
    queued_bytes: int = 0
    # QoS 1 messages lost to a bound since the queue was last empty, and their bytes
    dropped: int = 0
    dropped_bytes: int = 0
    _last_packet_id: int = 0

    def next_packet_id(self) -> int:
        packet_id = self._last_packet_id
        while True:
            packet_id = packet_id % 0xFFFF + 1
            if packet_id not in self.inflight:
                self._last_packet_id = packet_id
                return packet_id

    def deliver_qos1(self, message: QueuedMessage) -> bool:
        """Send now when online with room in flight, else queue; True when it was sent."""
        if self.link is not None and len(self.inflight) < MAX_INFLIGHT and not self.queue:
            packet_id = self.next_packet_id()
            self.inflight[packet_id] = message
            self.link.send_publish(message.topic, message.payload, 1, packet_id, False)
            return True
        self._enqueue(message)
        return False

    def _enqueue(self, message: QueuedMessage) -> None:
        limits, size = self.budget.limits, message.size
        if size > min(limits.session_bytes, limits.total_bytes):
            self._lost(message.topic, size, f"a message of {size} bytes is over its bound")
            return
        while len(self.queue) >= limits.session_messages:
            self.drop_oldest(f"its queue holds {limits.session_messages} messages")
        while self.queued_bytes + size > limits.session_bytes:
            self.drop_oldest(f"its queue is over {limits.session_bytes} bytes")
        serial = self.budget.admit(self, size)
        self.queue.append((serial, message))
        self.queued_bytes += size

    def _dequeue(self) -> QueuedMessage:
        _, message = self.queue.popleft()
        self.queued_bytes -= message.size
        self.budget.released(self, message.size)
        return message

    def drop_oldest(self, reason: str) -> None:
        message = self._dequeue()
        self._lost(message.topic, message.size, reason)

    def _lost(self, topic: str, size: int, reason: str) -> None:
        if not self.dropped:
            logger.warning(
                "%s on %s: %s: dropping its oldest queued messages (first: %s, %d bytes)",
                self.client_id,
                self.instance_id,
                reason,
                topic,
                size,
            )
        self.dropped += 1
        self.dropped_bytes += size

    def _say_losses(self) -> None:
        """Once the queue is empty: how many messages the bounds cost since it last was."""
        if self.dropped:
            logger.warning(
                "%s on %s: %d queued messages (%d bytes) were dropped, the oldest first",
                self.client_id,
                self.instance_id,
                self.dropped,
                self.dropped_bytes,
            )
            self.dropped = self.dropped_bytes = 0

    def discard_queue(self) -> None:
        """The session ended: its queue goes, and its bytes return to the budget."""
        while self.queue:
            self._dequeue()
        self._say_losses()

    def acknowledged(self, packet_id: int) -> int:
        """A PUBACK: free its slot and send what waits; returns how many were sent."""
        self.inflight.pop(packet_id, None)
        return self.drain()

    def drain(self) -> int:
        sent = 0
        while self.link is not None and self.queue and len(self.inflight) < MAX_INFLIGHT:
            message = self._dequeue()
            packet_id = self.next_packet_id()
            self.inflight[packet_id] = message
            self.link.send_publish(message.topic, message.payload, 1, packet_id, False)
            sent += 1
        if not self.queue:
            self._say_losses()
        return sent

    def resume(self) -> int:
        """After a reconnect: resend what was in flight (DUP), then what waits."""
        assert self.link is not None
        for packet_id, message in self.inflight.items():
            self.link.send_publish(message.topic, message.payload, 1, packet_id, True)
        return len(self.inflight) + self.drain()


class SessionRegistry:
    """Every session, and per (instance, parent topic) the sessions subscribed under it."""

    def __init__(self) -> None:
        self._sessions: dict[tuple[str, str], Session] = {}
        self._by_parent: dict[tuple[str, str], dict[Session, None]] = {}

    def __iter__(self) -> Iterator[Session]:
        return iter(list(self._sessions.values()))

    def get(self, instance_id: str, client_id: str) -> Session | None:
        return self._sessions.get((instance_id, client_id))

    def add(self, session: Session) -> None:
        self._sessions[(session.instance_id, session.client_id)] = session

    def remove(self, session: Session) -> None:
        key = (session.instance_id, session.client_id)
        if self._sessions.get(key) is session:
            del self._sessions[key]
        session.discard_queue()
        for topic_filter in list(session.subscriptions):
            self.unsubscribe(session, topic_filter)

    def subscribe(self, session: Session, topic_filter: str, qos: int) -> None:
        session.subscriptions[topic_filter] = Subscription(
            topic_filter, tuple(topic_filter.split("/")), qos
        )
        key = (session.instance_id, parent_of(topic_filter))
        self._by_parent.setdefault(key, {})[session] = None

    def unsubscribe(self, session: Session, topic_filter: str) -> bool:
        if session.subscriptions.pop(topic_filter, None) is None:
            return False
        parent = parent_of(topic_filter)
        if not any(parent_of(f) == parent for f in session.subscriptions):
            key = (session.instance_id, parent)
            holders = self._by_parent.get(key, {})
            holders.pop(session, None)
            if not holders:
                self._by_parent.pop(key, None)
        return True

    def subscribers(self, instance_id: str, levels: list[str]) -> Iterator[tuple[Session, int]]:
        """Each session with a filter matching the topic, at its highest granted QoS."""
        holders = self._by_parent.get((instance_id, levels[0]))
        if not holders:
            return
        for session in list(holders):  # delivering may end a session
            best = -1
            for sub in session.subscriptions.values():
                if sub.qos > best and sub.levels[0] == levels[0] and matches(sub.levels, levels):
                    best = sub.qos
            if best >= 0:
                yield session, best
