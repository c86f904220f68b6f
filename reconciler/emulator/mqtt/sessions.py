"""Sessions as the service keeps them: one per (instance, ClientId), outliving a connection
when it is persistent (clean_session=0), with its subscriptions and its QoS 1 messages.

Owned by the listener's event loop thread; nothing here is shared with other threads.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from reconciler.emulator.mqtt.topics import matches, parent_of

MAX_SUBSCRIPTIONS = 30  # per client, as the service allows
MAX_INFLIGHT = 64  # QoS 1 messages sent and not yet acknowledged, per session
MAX_QUEUED = 10_000  # QoS 1 messages waiting (offline, or behind the in-flight window)


class Link(Protocol):
    """The connection a session is attached to, as the session needs it."""

    socket: str

    def kick(self) -> None: ...

    def send_publish(
        self, topic: str, payload: bytes, qos: int, packet_id: int | None, dup: bool
    ) -> None: ...

    def send_raw(self, data: bytes) -> bool: ...


@dataclass(frozen=True, slots=True)
class QueuedMessage:
    topic: str
    payload: bytes


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
    link: Link | None = None
    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    inflight: dict[int, QueuedMessage] = field(default_factory=dict)
    queue: deque[QueuedMessage] = field(default_factory=deque)
    dropped: int = 0  # QoS 1 messages lost to a full queue
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
        if len(self.queue) >= MAX_QUEUED:
            self.queue.popleft()
            self.dropped += 1
        self.queue.append(message)
        return False

    def acknowledged(self, packet_id: int) -> int:
        """A PUBACK: free its slot and send what waits; returns how many were sent."""
        self.inflight.pop(packet_id, None)
        return self.drain()

    def drain(self) -> int:
        sent = 0
        while self.link is not None and self.queue and len(self.inflight) < MAX_INFLIGHT:
            message = self.queue.popleft()
            packet_id = self.next_packet_id()
            self.inflight[packet_id] = message
            self.link.send_publish(message.topic, message.payload, 1, packet_id, False)
            sent += 1
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
