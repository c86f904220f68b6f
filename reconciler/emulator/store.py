"""The emulator's world in SQLite: accounts, instances, topics, GIDs, devices and their history.

One connection guarded by one lock (SQLite serialises writers anyway), so the store is safe to
share between the server's request threads. ``path=None`` keeps everything in memory; a file
path makes the data survive restarts. Business rules (naming, regions, error codes) live in
``actions``; the store only keeps rows and answers indexed lookups, raising ValueError for
seeding mistakes (an unknown instance, a malformed client id).

An account is an AccessKey (one key per account here). Each instance has an owner, and an
account sees only its own instances (``owned_instance``, ``owned_instances``) and what is in
them; an instance seeded without an owner (a store with one account, tests) is every account's.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import astuple, dataclass
from typing import Any

from reconciler.models import client_id_problem, group_of_client_id

DEFAULT_SOCKET = "/10.0.0.1:1234"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    access_key_id TEXT PRIMARY KEY,
    access_key_secret TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sts_tokens (
    token TEXT NOT NULL,
    access_key_id TEXT NOT NULL,
    expires_ms INTEGER,
    PRIMARY KEY (access_key_id, token)
);
CREATE TABLE IF NOT EXISTS instances (
    instance_id TEXT PRIMARY KEY,
    region TEXT NOT NULL,
    independent_naming INTEGER NOT NULL,
    owner TEXT  -- the owning account's AccessKeyId; NULL: every account's
);
CREATE TABLE IF NOT EXISTS topics (
    instance_id TEXT NOT NULL,
    topic TEXT NOT NULL,
    PRIMARY KEY (instance_id, topic)
);
CREATE TABLE IF NOT EXISTS groups (
    instance_id TEXT NOT NULL,
    group_id TEXT NOT NULL,
    topic TEXT,
    create_time INTEGER NOT NULL,
    update_time INTEGER NOT NULL,
    PRIMARY KEY (instance_id, group_id)
);
CREATE INDEX IF NOT EXISTS groups_by_name ON groups (group_id);
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
CREATE TABLE IF NOT EXISTS online_history (
    instance_id TEXT NOT NULL,
    group_id TEXT NOT NULL,
    at_ms INTEGER NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (instance_id, group_id, at_ms)
);
CREATE TABLE IF NOT EXISTS message_history (
    instance_id TEXT NOT NULL,
    parent_topic TEXT NOT NULL,
    sub_topic TEXT NOT NULL,
    trans_type TEXT NOT NULL,
    msg_type TEXT NOT NULL,
    qos INTEGER NOT NULL,
    at_ms INTEGER NOT NULL,
    tps REAL NOT NULL,
    total INTEGER NOT NULL,
    -- One sample per series and moment, so re-applying a fixture does not double the traffic.
    PRIMARY KEY (instance_id, parent_topic, trans_type, at_ms, sub_topic, msg_type, qos)
);
-- DeviceCredential mode: one credential per device (instance and ClientId), found by its key id.
CREATE TABLE IF NOT EXISTS device_credentials (
    instance_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    access_key_id TEXT NOT NULL UNIQUE,
    access_key_secret TEXT NOT NULL,
    create_time INTEGER NOT NULL,
    update_time INTEGER NOT NULL,
    PRIMARY KEY (instance_id, client_id)
);
-- Clients the MQTT listener has had connected (their rows in clients are its to update).
CREATE TABLE IF NOT EXISTS mqtt_clients (
    instance_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    group_id TEXT NOT NULL,
    PRIMARY KEY (instance_id, client_id)
);
"""


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class InstanceRecord:
    instance_id: str
    region: str
    independent_naming: bool
    owner: str | None = None


@dataclass(frozen=True)
class GroupRecord:
    instance_id: str
    group_id: str
    topic: str | None
    create_time: int
    update_time: int


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


@dataclass(frozen=True)
class DeviceCredentialRecord:
    instance_id: str
    client_id: str
    access_key_id: str
    access_key_secret: str
    create_time: int
    update_time: int


@dataclass(frozen=True)
class MessageCount:
    """Messages published (PUB) or delivered (SUB) on one series during the minute ``at_ms``."""

    instance_id: str
    parent_topic: str
    sub_topic: str
    trans_type: str
    msg_type: str
    qos: int
    at_ms: int


@dataclass(frozen=True)
class StatsPoint:
    x: int
    y: float


def _group_of_client(client_id: str) -> str:
    """The GID of a client id; ValueError (a seeding mistake) when it is not one."""
    problem = client_id_problem(client_id)
    if problem is not None:
        raise ValueError(problem)
    return group_of_client_id(client_id)


class EmulatorStore:
    def __init__(self, path: str | None = None) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._db = sqlite3.connect(
            path or ":memory:", check_same_thread=False, isolation_level=None
        )
        if path:
            # WAL plus NORMAL sync: durable across restarts, no fsync per request.
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._add_owner_column()

    # --- plumbing -------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Hold the store lock and one SQLite transaction; rolled back on any exception."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _add_owner_column(self) -> None:
        """A database written before instances had owners gets the column (all unowned)."""
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(instances)")}
        if "owner" not in columns:
            self._db.execute("ALTER TABLE instances ADD COLUMN owner TEXT")

    def _query(self, sql: str, args: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return list(self._db.execute(sql, tuple(args)).fetchall())

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> EmulatorStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- accounts -------------------------------------------------------------------------

    def add_account(
        self,
        access_key_id: str,
        access_key_secret: str,
        *,
        sts_tokens: Iterable[str | tuple[str, int | None]] = (),
    ) -> None:
        """Accept this AccessKey (replacing its secret); a token is a str or (token, expires_ms)."""
        if not access_key_id or not access_key_secret:
            raise ValueError("an account needs a non-empty access key id and secret")
        with self.transaction() as db:
            db.execute(
                "INSERT INTO accounts VALUES (?, ?) ON CONFLICT (access_key_id)"
                " DO UPDATE SET access_key_secret = excluded.access_key_secret",
                (access_key_id, access_key_secret),
            )
            for entry in sts_tokens:
                token, expires = (entry, None) if isinstance(entry, str) else entry
                db.execute(
                    "INSERT OR REPLACE INTO sts_tokens VALUES (?, ?, ?)",
                    (token, access_key_id, expires),
                )

    def account_secret(self, access_key_id: str) -> str | None:
        rows = self._query(
            "SELECT access_key_secret FROM accounts WHERE access_key_id = ?", (access_key_id,)
        )
        return str(rows[0][0]) if rows else None

    def account_ids(self) -> list[str]:
        return [str(row[0]) for row in self._query("SELECT access_key_id FROM accounts ORDER BY 1")]

    def sts_tokens(self, access_key_id: str) -> dict[str, int | None]:
        """The account's STS tokens and their expiry (ms epoch, None = never)."""
        rows = self._query(
            "SELECT token, expires_ms FROM sts_tokens WHERE access_key_id = ?", (access_key_id,)
        )
        return {token: exp for token, exp in rows}

    # --- instances and topics -------------------------------------------------------------

    def add_instance(
        self,
        instance_id: str,
        *,
        region: str = "cn-hangzhou",
        independent_naming: bool = True,
        topics: Iterable[str] = (),
        owner: str | None = None,
    ) -> InstanceRecord:
        """Create the instance if missing (an existing one keeps region and naming); add topics.

        ``owner`` (an AccessKeyId) gives an unowned instance to that account; an instance
        another account owns is a ValueError.
        """
        if not instance_id:
            raise ValueError("an instance needs an id")
        with self.transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO instances VALUES (?, ?, ?, ?)",
                (instance_id, region, int(independent_naming), owner),
            )
            if owner is not None:
                (held_by,) = db.execute(
                    "SELECT owner FROM instances WHERE instance_id = ?", (instance_id,)
                ).fetchone()
                if held_by not in (None, owner):
                    raise ValueError(f"instance {instance_id!r} belongs to another account")
                db.execute(
                    "UPDATE instances SET owner = ? WHERE instance_id = ?", (owner, instance_id)
                )
            for topic in topics:
                db.execute("INSERT OR IGNORE INTO topics VALUES (?, ?)", (instance_id, topic))
        record = self.instance(instance_id)
        assert record is not None
        return record

    def instance(self, instance_id: str) -> InstanceRecord | None:
        """The instance whoever owns it (seeding, the MQTT listener's own bookkeeping)."""
        rows = self._query(f"{_INSTANCE_COLUMNS} WHERE instance_id = ?", (instance_id,))
        return _instance(rows[0]) if rows else None

    def instances(self) -> list[InstanceRecord]:
        """Every instance of every account."""
        return [_instance(row) for row in self._query(f"{_INSTANCE_COLUMNS} ORDER BY 1")]

    def owned_instance(self, account: str, instance_id: str) -> InstanceRecord | None:
        """The instance when ``account`` may see it, else None: another account's instance
        is as missing as one that does not exist."""
        rows = self._query(
            f"{_INSTANCE_COLUMNS} WHERE instance_id = ? AND {_VISIBLE_TO}", (instance_id, account)
        )
        return _instance(rows[0]) if rows else None

    def owned_instances(self, account: str) -> list[InstanceRecord]:
        """The instances ``account`` may see."""
        rows = self._query(f"{_INSTANCE_COLUMNS} WHERE {_VISIBLE_TO} ORDER BY 1", (account,))
        return [_instance(row) for row in rows]

    def add_topic(self, instance_id: str, topic: str) -> None:
        if not topic:
            raise ValueError("a topic needs a name")
        with self.transaction() as db:
            self._require_instance(db, instance_id)
            db.execute("INSERT OR IGNORE INTO topics VALUES (?, ?)", (instance_id, topic))

    def topics(self, instance_id: str) -> list[str]:
        rows = self._query(
            "SELECT topic FROM topics WHERE instance_id = ? ORDER BY 1", (instance_id,)
        )
        return [str(row[0]) for row in rows]

    def has_topic(self, instance_id: str, topic: str) -> bool:
        return bool(
            self._query(
                "SELECT 1 FROM topics WHERE instance_id = ? AND topic = ?", (instance_id, topic)
            )
        )

    # --- groups ---------------------------------------------------------------------------

    def add_group(
        self,
        instance_id: str,
        group_id: str,
        *,
        topic: str | None = None,
        create_time: int | None = None,
        update_time: int | None = None,
    ) -> bool:
        """Insert the GID for seeding; False (and no change) when it is already there."""
        with self.transaction() as db:
            self._require_instance(db, instance_id)
            return self.insert_group(
                db, instance_id, group_id, topic, create_time=create_time, update_time=update_time
            )

    @staticmethod
    def insert_group(
        db: sqlite3.Connection,
        instance_id: str,
        group_id: str,
        topic: str | None,
        *,
        create_time: int | None = None,
        update_time: int | None = None,
    ) -> bool:
        created = create_time if create_time is not None else now_ms()
        cursor = db.execute(
            "INSERT OR IGNORE INTO groups VALUES (?, ?, ?, ?, ?)",
            (instance_id, group_id, topic, created, update_time if update_time else created),
        )
        return cursor.rowcount == 1

    @staticmethod
    def delete_group(db: sqlite3.Connection, instance_id: str, group_id: str) -> bool:
        cursor = db.execute(
            "DELETE FROM groups WHERE instance_id = ? AND group_id = ?", (instance_id, group_id)
        )
        return cursor.rowcount == 1

    def remove_group(self, instance_id: str, group_id: str) -> bool:
        with self.transaction() as db:
            return self.delete_group(db, instance_id, group_id)

    def group(self, instance_id: str, group_id: str) -> GroupRecord | None:
        rows = self._query(
            "SELECT instance_id, group_id, topic, create_time, update_time FROM groups"
            " WHERE instance_id = ? AND group_id = ?",
            (instance_id, group_id),
        )
        return GroupRecord(*rows[0]) if rows else None

    def groups(self, instance_ids: Sequence[str]) -> list[GroupRecord]:
        """Every GID of these instances, ordered by instance then name."""
        if not instance_ids:
            return []
        marks = ",".join("?" for _ in instance_ids)
        rows = self._query(
            "SELECT instance_id, group_id, topic, create_time, update_time FROM groups"  # noqa: S608
            f" WHERE instance_id IN ({marks}) ORDER BY instance_id, group_id",
            instance_ids,
        )
        return [GroupRecord(*row) for row in rows]

    def group_ids(self, instance_id: str) -> list[str]:
        return [group.group_id for group in self.groups([instance_id])]

    @staticmethod
    def shared_namespace_holder(
        db: sqlite3.Connection, instance_id: str, group_id: str
    ) -> str | None:
        """Another shared-namespace instance of the same owner that holds ``group_id`` (names
        are unique across every such instance of the account), or None."""
        row = db.execute(
            "SELECT g.instance_id FROM groups g JOIN instances i ON i.instance_id = g.instance_id"
            " JOIN instances mine ON mine.instance_id = ?"
            " WHERE g.group_id = ? AND i.independent_naming = 0 AND g.instance_id != ?"
            " AND i.owner IS mine.owner ORDER BY 1 LIMIT 1",
            (instance_id, group_id, instance_id),
        ).fetchone()
        return None if row is None else str(row[0])

    def instances_holding(self, group_id: str) -> list[str]:
        rows = self._query(
            "SELECT instance_id FROM groups WHERE group_id = ? ORDER BY 1", (group_id,)
        )
        return [str(row[0]) for row in rows]

    # --- devices --------------------------------------------------------------------------

    def add_client(
        self,
        client_id: str,
        *,
        instance_id: str | None = None,
        online: bool = True,
        last_touch: int | None = None,
        socket: str = DEFAULT_SOCKET,
        subscriptions: Iterable[Subscription | tuple[str, str, int]] = (),
        record_history: bool = True,
    ) -> ClientRecord:
        """Register (or replace) a device. Without ``instance_id`` the one instance holding the
        client's GID is used. Also records the GID's online count at ``last_touch`` so that
        QueryHistoryOnline answers from the registry."""
        group_id = _group_of_client(client_id)
        touched = last_touch if last_touch is not None else now_ms()
        subs = tuple(s if isinstance(s, Subscription) else Subscription(*s) for s in subscriptions)
        with self.transaction() as db:
            if instance_id is None:
                holders = self.instances_holding(group_id)
                if len(holders) != 1:
                    raise ValueError(
                        f"cannot tell the instance of client {client_id!r}: its group is in"
                        f" {len(holders)} instances; pass instance_id"
                    )
                instance_id = holders[0]
            self._require_instance(db, instance_id)
            db.execute(
                "INSERT OR REPLACE INTO clients VALUES (?, ?, ?, ?, ?, ?)",
                (instance_id, client_id, group_id, int(online), touched, socket),
            )
            self._drop_subscriptions(db, instance_id, client_id)
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

    # --- live MQTT sessions (written by the MQTT listener, read by the query actions) -----

    def client_online(self, instance_id: str, client_id: str) -> bool:
        """Whether this ClientId is online on this instance (a live session or a fixture)."""
        return bool(
            self._query(
                "SELECT 1 FROM clients WHERE instance_id = ? AND client_id = ? AND online = 1",
                (instance_id, client_id),
            )
        )

    def record_connect(
        self, instance_id: str, client_id: str, *, socket: str, at_ms: int, clean_session: bool
    ) -> None:
        """A session went online; a clean session starts without the previous subscriptions."""
        group_id = _group_of_client(client_id)
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
                self._drop_subscriptions(db, instance_id, client_id)

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
                self._drop_subscriptions(db, instance_id, client_id)

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

    def add_message_counts(self, counts: Mapping[MessageCount, int]) -> None:
        """Add live message counts to their minutes (the rate is the minute's total / 60)."""
        with self.transaction() as db:
            db.executemany(
                "INSERT INTO message_history VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT DO UPDATE SET total = total + excluded.total,"
                " tps = (total + excluded.total) / 60.0",
                # A MessageCount's fields are the table's key columns, in their order.
                [(*astuple(key), number / 60.0, number) for key, number in counts.items()],
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

    # --- device credentials (DeviceCredential mode) ----------------------------------------

    def put_device_credential(
        self, instance_id: str, client_id: str, access_key_id: str, access_key_secret: str
    ) -> DeviceCredentialRecord:
        """Issue the device's credential, replacing any earlier one (a device holds one)."""
        at = now_ms()
        with self.transaction() as db:
            self._require_instance(db, instance_id)
            db.execute(
                "INSERT OR REPLACE INTO device_credentials VALUES (?, ?, ?, ?, ?, ?)",
                (instance_id, client_id, access_key_id, access_key_secret, at, at),
            )
        return DeviceCredentialRecord(
            instance_id, client_id, access_key_id, access_key_secret, at, at
        )

    def device_credential(self, instance_id: str, client_id: str) -> DeviceCredentialRecord | None:
        rows = self._query(
            "SELECT instance_id, client_id, access_key_id, access_key_secret, create_time,"
            " update_time FROM device_credentials WHERE instance_id = ? AND client_id = ?",
            (instance_id, client_id),
        )
        return DeviceCredentialRecord(*rows[0]) if rows else None

    def replace_device_secret(
        self, instance_id: str, client_id: str, access_key_secret: str
    ) -> DeviceCredentialRecord | None:
        """Give the device's credential a new secret (same key id); None when it has none."""
        with self.transaction() as db:
            db.execute(
                "UPDATE device_credentials SET access_key_secret = ?, update_time = ?"
                " WHERE instance_id = ? AND client_id = ?",
                (access_key_secret, now_ms(), instance_id, client_id),
            )
            return self.device_credential(instance_id, client_id)

    def remove_device_credential(self, instance_id: str, client_id: str) -> bool:
        with self.transaction() as db:
            cursor = db.execute(
                "DELETE FROM device_credentials WHERE instance_id = ? AND client_id = ?",
                (instance_id, client_id),
            )
            return cursor.rowcount == 1

    def device_credential_secret(
        self, access_key_id: str, instance_id: str, client_id: str
    ) -> str | None:
        """The secret of this key id when it is the credential of this device on this
        instance (the MQTT listener's DeviceCredential look-up)."""
        rows = self._query(
            "SELECT access_key_secret FROM device_credentials"
            " WHERE access_key_id = ? AND instance_id = ? AND client_id = ?",
            (access_key_id, instance_id, client_id),
        )
        return str(rows[0][0]) if rows else None

    # --- history --------------------------------------------------------------------------

    def add_online_sample(self, instance_id: str, group_id: str, at_ms: int, count: int) -> None:
        self.add_online_samples(instance_id, group_id, [(at_ms, count)])

    def add_online_samples(
        self, instance_id: str, group_id: str, samples: Iterable[tuple[int, int]]
    ) -> None:
        """Many ``(at_ms, count)`` samples in one transaction (days of minutes are thousands)."""
        with self.transaction() as db:
            self._require_instance(db, instance_id)
            db.executemany(
                "INSERT OR REPLACE INTO online_history VALUES (?, ?, ?, ?)",
                [(instance_id, group_id, at_ms, count) for at_ms, count in samples],
            )

    def add_message_sample(
        self,
        instance_id: str,
        parent_topic: str,
        at_ms: int,
        *,
        trans_type: str,
        tps: float,
        total: int,
        msg_type: str = "SUB",
        qos: int = 0,
        sub_topic: str = "",
    ) -> None:
        """One measurement of messages sent (PUB) or delivered (SUB) on a topic at ``at_ms``."""
        self.add_message_samples(
            instance_id,
            parent_topic,
            [(at_ms, tps, total)],
            trans_type=trans_type,
            msg_type=msg_type,
            qos=qos,
            sub_topic=sub_topic,
        )

    def add_message_samples(
        self,
        instance_id: str,
        parent_topic: str,
        samples: Iterable[tuple[int, float, int]],
        *,
        trans_type: str,
        msg_type: str = "SUB",
        qos: int = 0,
        sub_topic: str = "",
    ) -> None:
        """Many ``(at_ms, tps, total)`` measurements of one series in one transaction."""
        if (
            trans_type not in ("PUB", "SUB")
            or msg_type not in ("P2P", "SUB")
            or qos not in (0, 1, 2)
        ):
            raise ValueError("trans_type is PUB|SUB, msg_type P2P|SUB, qos 0|1|2")
        with self.transaction() as db:
            self._require_instance(db, instance_id)
            db.executemany(
                "INSERT OR REPLACE INTO message_history VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        instance_id,
                        parent_topic,
                        sub_topic,
                        trans_type,
                        msg_type,
                        qos,
                        at,
                        tps,
                        total,
                    )
                    for at, tps, total in samples
                ],
            )

    def online_history(
        self, instance_id: str, group_id: str, begin_ms: int, end_ms: int
    ) -> list[StatsPoint]:
        rows = self._query(
            "SELECT at_ms, count FROM online_history WHERE instance_id = ? AND group_id = ?"
            " AND at_ms BETWEEN ? AND ? ORDER BY at_ms",
            (instance_id, group_id, begin_ms, end_ms),
        )
        return [StatsPoint(x, float(y)) for x, y in rows]

    def message_trend(
        self,
        instance_id: str,
        parent_topic: str,
        begin_ms: int,
        end_ms: int,
        *,
        trans_type: str,
        summed: bool,
        sub_topic: str | None = None,
        msg_type: str | None = None,
        qos: int | None = None,
    ) -> list[StatsPoint]:
        """Per time point, the rate (``summed=False``) or total of every matching series."""
        column = "total" if summed else "tps"
        sql = (
            f"SELECT at_ms, SUM({column}) FROM message_history"  # noqa: S608
            " WHERE instance_id = ? AND parent_topic = ? AND trans_type = ?"
            " AND at_ms BETWEEN ? AND ?"
        )
        args: list[object] = [instance_id, parent_topic, trans_type, begin_ms, end_ms]
        for name, value in (("sub_topic", sub_topic), ("msg_type", msg_type), ("qos", qos)):
            if value is not None:
                sql += f" AND {name} = ?"
                args.append(value)
        rows = self._query(sql + " GROUP BY at_ms ORDER BY at_ms", args)
        return [StatsPoint(x, float(y)) for x, y in rows]

    @staticmethod
    def _drop_subscriptions(db: sqlite3.Connection, instance_id: str, client_id: str) -> None:
        db.execute(
            "DELETE FROM subscriptions WHERE instance_id = ? AND client_id = ?",
            (instance_id, client_id),
        )

    @staticmethod
    def _require_instance(db: sqlite3.Connection, instance_id: str) -> None:
        found = db.execute("SELECT 1 FROM instances WHERE instance_id = ?", (instance_id,))
        if found.fetchone() is None:
            raise ValueError(f"unknown instance {instance_id!r}")


_INSTANCE_COLUMNS = "SELECT instance_id, region, independent_naming, owner FROM instances"
# What one account may see: its own instances and the unowned ones.
_VISIBLE_TO = "(owner = ? OR owner IS NULL)"


def _instance(row: tuple[Any, ...]) -> InstanceRecord:
    return InstanceRecord(row[0], row[1], bool(row[2]), row[3])
