"""Devices: clients of a GID on an instance, online or not, and their subscriptions, as a fixture
seeds them or the MQTT listener (``sessions``) records them; the query actions count them."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

from reconciler.emulator.store.database import Database, now_ms
from reconciler.models import client_id_problem, group_of_client_id

DEFAULT_SOCKET = "/10.0.0.1:1234"


@dataclass(frozen=True)
class Subscription:
    parent_topic: str
    sub_topic: str = ""
    qos: int = 0


@dataclass(frozen=True)
class ClientRecord:
    instance_id: str
    client_id: str
    group_id: str
    online: bool
    last_touch: int
    socket: str
    subscriptions: tuple[Subscription, ...]


def group_of_client(client_id: str) -> str:
    """The GID of a client id; ValueError (a seeding mistake) when it is not one."""
    problem = client_id_problem(client_id)
    if problem is not None:
        raise ValueError(problem)
    return group_of_client_id(client_id)


def drop_subscriptions(db: sqlite3.Connection, instance_id: str, client_id: str) -> None:
    db.execute(
        "DELETE FROM subscriptions WHERE instance_id = ? AND client_id = ?",
        (instance_id, client_id),
    )


class Devices(Database):
    SCHEMA = """
CREATE TABLE IF NOT EXISTS clients (
    instance_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    group_id TEXT NOT NULL,
    online INTEGER NOT NULL,
    last_touch INTEGER NOT NULL,
    socket TEXT NOT NULL,
    PRIMARY KEY (instance_id, client_id)
);
CREATE INDEX IF NOT EXISTS clients_by_group ON clients (instance_id, group_id);
CREATE TABLE IF NOT EXISTS subscriptions (
    instance_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    parent_topic TEXT NOT NULL,
    sub_topic TEXT NOT NULL,
    qos INTEGER NOT NULL,
    PRIMARY KEY (instance_id, client_id, parent_topic, sub_topic)
);
CREATE INDEX IF NOT EXISTS subscriptions_by_topic ON subscriptions (instance_id, parent_topic);
"""

    def add_client(
        self,
        client_id: str,
        *,
        instance_id: str,
        online: bool = True,
        last_touch: int | None = None,
        socket: str = DEFAULT_SOCKET,
        subscriptions: Iterable[Subscription | tuple[str, str, int]] = (),
        record_history: bool = True,
    ) -> ClientRecord:
        """Register (or replace) a device of ``instance_id``. Also records the GID's online count
        at ``last_touch`` so that QueryHistoryOnline answers from the registry."""
        group_id = group_of_client(client_id)
        touched = last_touch if last_touch is not None else now_ms()
        subs = tuple(s if isinstance(s, Subscription) else Subscription(*s) for s in subscriptions)
        with self.transaction() as db:
            self._require_instance(db, instance_id)
            db.execute(
                "INSERT OR REPLACE INTO clients VALUES (?, ?, ?, ?, ?, ?)",
                (instance_id, client_id, group_id, int(online), touched, socket),
            )
            drop_subscriptions(db, instance_id, client_id)
            db.executemany(
                "INSERT OR REPLACE INTO subscriptions VALUES (?, ?, ?, ?, ?)",
                [(instance_id, client_id, s.parent_topic, s.sub_topic, s.qos) for s in subs],
            )
            if record_history:
                count = db.execute(
                    "SELECT COUNT(*) FROM clients WHERE instance_id = ? AND group_id = ?"
                    " AND online = 1",
                    (instance_id, group_id),
                ).fetchone()[0]
                db.execute(
                    "INSERT OR REPLACE INTO online_history VALUES (?, ?, ?, ?)",
                    (instance_id, group_id, touched, count),
                )
        return ClientRecord(instance_id, client_id, group_id, online, touched, socket, subs)

    def client(self, instance_id: str, client_id: str) -> ClientRecord | None:
        with self._lock:
            row = self._db.execute(
                "SELECT instance_id, client_id, group_id, online, last_touch, socket FROM clients"
                " WHERE instance_id = ? AND client_id = ?",
                (instance_id, client_id),
            ).fetchone()
            if row is None:
                return None
            subs = self._db.execute(
                "SELECT parent_topic, sub_topic, qos FROM subscriptions"
                " WHERE instance_id = ? AND client_id = ? ORDER BY 1, 2",
                (instance_id, client_id),
            ).fetchall()
        subscriptions = tuple(Subscription(*sub) for sub in subs)
        return ClientRecord(row[0], row[1], row[2], bool(row[3]), row[4], row[5], subscriptions)

    def online_count_by_group(self, instance_id: str, group_id: str) -> int:
        rows = self._query(
            "SELECT COUNT(*) FROM clients WHERE instance_id = ? AND group_id = ? AND online = 1",
            (instance_id, group_id),
        )
        return int(rows[0][0])

    def online_count_by_topic(self, instance_id: str, parent_topic: str, sub_topic: str) -> int:
        """Online clients on the parent topic (any sub-topic when ``sub_topic`` is "")."""
        sql = (
            "SELECT COUNT(DISTINCT c.client_id) FROM subscriptions s JOIN clients c"
            " ON c.instance_id = s.instance_id AND c.client_id = s.client_id"
            " WHERE s.instance_id = ? AND s.parent_topic = ? AND c.online = 1"
        )
        args: list[object] = [instance_id, parent_topic]
        if sub_topic:
            sql += " AND s.sub_topic = ?"
            args.append(sub_topic)
        return int(self._query(sql, args)[0][0])
