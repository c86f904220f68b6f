"""Live MQTT sessions: the MQTT listener's writes (connects, disconnects, subscriptions, last
touches, online counts) over the device rows the query actions read."""

from __future__ import annotations

from collections.abc import Iterable

from reconciler.emulator.store.database import Database
from reconciler.emulator.store.devices import Subscription, drop_subscriptions, group_of_client


class LiveSessions(Database):
    SCHEMA = """
-- Clients the MQTT listener has had connected (their rows in clients are its to update).
CREATE TABLE IF NOT EXISTS mqtt_clients (
    instance_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    group_id TEXT NOT NULL,
    PRIMARY KEY (instance_id, client_id)
);
"""

    def client_online(self, instance_id: str, client_id: str) -> bool:
        """Whether this ClientId is online on this instance (a live session or a fixture)."""
        return bool(
            self._query(
                "SELECT 1 FROM clients WHERE instance_id = ? AND client_id = ? AND online = 1",
                (instance_id, client_id),
            )
        )

    def record_connect(
        self,
        instance_id: str,
        client_id: str,
        *,
        socket: str,
        at_ms: int,
        clean_session: bool,
        group_id: str | None = None,
    ) -> None:
        """A session went online; a clean session starts without the previous subscriptions.
        ``group_id`` is the GID the listener admitted it to ("" for a custom-auth ClientId
        naming none, which no GID query then finds); None reads it from the ClientId."""
        if group_id is None:
            group_id = group_of_client(client_id)
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO clients VALUES (?, ?, ?, 1, ?, ?)",
                (instance_id, client_id, group_id, at_ms, socket),
            )
            db.execute(
                "INSERT OR IGNORE INTO mqtt_clients VALUES (?, ?, ?)",
                (instance_id, client_id, group_id),
            )
            if clean_session:
                drop_subscriptions(db, instance_id, client_id)

    def record_disconnect(
        self, instance_id: str, client_id: str, *, at_ms: int, keep_subscriptions: bool
    ) -> None:
        """A session went offline; a persistent one keeps its subscriptions."""
        with self.transaction() as db:
            db.execute(
                "UPDATE clients SET online = 0, last_touch = ?"
                " WHERE instance_id = ? AND client_id = ?",
                (at_ms, instance_id, client_id),
            )
            if not keep_subscriptions:
                drop_subscriptions(db, instance_id, client_id)

    def record_subscriptions(
        self,
        instance_id: str,
        client_id: str,
        added: Iterable[Subscription] = (),
        removed: Iterable[tuple[str, str]] = (),
    ) -> None:
        """Add (or change the QoS of) subscriptions; remove (parent_topic, sub_topic) ones."""
        with self.transaction() as db:
            db.executemany(
                "DELETE FROM subscriptions WHERE instance_id = ? AND client_id = ?"
                " AND parent_topic = ? AND sub_topic = ?",
                [(instance_id, client_id, parent, sub) for parent, sub in removed],
            )
            db.executemany(
                "INSERT OR REPLACE INTO subscriptions VALUES (?, ?, ?, ?, ?)",
                [(instance_id, client_id, s.parent_topic, s.sub_topic, s.qos) for s in added],
            )

    def record_touches(self, touches: Iterable[tuple[str, str, int]]) -> None:
        """``(instance_id, client_id, at_ms)``: when each live client was last heard from."""
        with self.transaction() as db:
            db.executemany(
                "UPDATE clients SET last_touch = MAX(last_touch, ?)"
                " WHERE instance_id = ? AND client_id = ?",
                [(at, instance_id, client_id) for instance_id, client_id, at in touches],
            )

    def record_online_counts(self, at_ms: int) -> None:
        """One online-history point at ``at_ms`` for every GID the listener has had clients of,
        counting every online client of the GID (fixture devices included)."""
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO online_history"
                " SELECT g.instance_id, g.group_id, ?, COUNT(c.client_id)"
                " FROM (SELECT DISTINCT instance_id, group_id FROM mqtt_clients) g"
                " LEFT JOIN clients c ON c.instance_id = g.instance_id"
                " AND c.group_id = g.group_id AND c.online = 1"
                " GROUP BY g.instance_id, g.group_id",
                (at_ms,),
            )

    def reset_live_clients(self) -> None:
        """Mark offline, without subscriptions, the clients a previous listener left online
        (its sessions died with its process)."""
        with self.transaction() as db:
            db.execute(
                "UPDATE clients SET online = 0 WHERE online = 1 AND EXISTS (SELECT 1"
                " FROM mqtt_clients m WHERE m.instance_id = clients.instance_id"
                " AND m.client_id = clients.client_id)"
            )
            db.execute(
                "DELETE FROM subscriptions WHERE EXISTS (SELECT 1 FROM mqtt_clients m"
                " WHERE m.instance_id = subscriptions.instance_id"
                " AND m.client_id = subscriptions.client_id)"
            )
