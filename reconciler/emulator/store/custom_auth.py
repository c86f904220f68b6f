"""Custom authentication: each instance's identities, topic permissions and connect blacklist.

Rows are keyed as the service's Delete actions key them: an identity by (type, username, client
id; ``""`` for a USER identity), a permission by (identity type, identity, topic), a blacklist
entry by its client id. Pages are read in key order after the last key of the page before
(``after``), so every query is one range of the primary key, however large the instance.
Business rules (validation, capacity, error codes) live in the actions; this keeps rows.
Whoever must act at once on a new blacklist entry (the MQTT listener closes that client's live
connection) registers with ``watch_blacklist``; the actions ``announce_blacklisted`` after their
transaction commits.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import astuple, dataclass
from typing import Any

from reconciler.emulator.store.database import Database

# SQL text is built only from the ``_Table`` constants below (S608 is silenced for that);
# every value is a bound parameter.

# The key of a row as a page's bookmark: the values of the table's key columns after the
# instance.
PageKey = tuple[str, ...]


@dataclass(frozen=True)
class IdentityRecord:
    instance_id: str
    identity_type: str  # USER | CLIENT
    username: str
    client_id: str  # "" for a USER identity
    secret: str
    sign_mode: str  # ORIGIN | SIGNED

    @property
    def key(self) -> PageKey:
        return (self.identity_type, self.username, self.client_id)


@dataclass(frozen=True)
class PermissionRecord:
    instance_id: str
    identity_type: str  # USER | CLIENT
    identity: str  # a username (USER) or a client id (CLIENT)
    topic: str  # a topic filter: MQTT wildcards allowed
    effect: str  # ALLOW | DENY
    permit_action: str  # PUB | SUB | PUB_SUB

    @property
    def key(self) -> PageKey:
        return (self.identity_type, self.identity, self.topic)


@dataclass(frozen=True)
class _Table:
    name: str
    keys: tuple[str, ...]  # after instance_id
    values: tuple[str, ...]

    @property
    def columns(self) -> str:
        return ", ".join(("instance_id", *self.keys, *self.values))


_IDENTITIES = _Table(
    "auth_identities", ("identity_type", "username", "client_id"), ("secret", "sign_mode")
)
_PERMISSIONS = _Table(
    "auth_permissions", ("identity_type", "identity", "topic"), ("effect", "permit_action")
)
_BLACKLIST = _Table("auth_blacklist", ("client_id",), ())


# Told (instance id, client id) when a client id is blacklisted; runs on the writer's thread.
BlacklistWatcher = Callable[[str, str], None]


class CustomAuth(Database):
    SCHEMA = """
CREATE TABLE IF NOT EXISTS auth_identities (
    instance_id TEXT NOT NULL,
    identity_type TEXT NOT NULL,
    username TEXT NOT NULL,
    client_id TEXT NOT NULL,  -- '' for a USER identity
    secret TEXT NOT NULL,
    sign_mode TEXT NOT NULL,
    PRIMARY KEY (instance_id, identity_type, username, client_id)
);
-- The MQTT listener finds a CONNECT's instance by its username.
CREATE INDEX IF NOT EXISTS auth_identities_by_username ON auth_identities (username, instance_id);
CREATE TABLE IF NOT EXISTS auth_permissions (
    instance_id TEXT NOT NULL,
    identity_type TEXT NOT NULL,
    identity TEXT NOT NULL,
    topic TEXT NOT NULL,
    effect TEXT NOT NULL,
    permit_action TEXT NOT NULL,
    PRIMARY KEY (instance_id, identity_type, identity, topic)
);
CREATE TABLE IF NOT EXISTS auth_blacklist (
    instance_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    PRIMARY KEY (instance_id, client_id)
);
"""

    def __init__(self, path: str | None = None) -> None:
        self._blacklist_watchers: list[BlacklistWatcher] = []
        super().__init__(path)

    def watch_blacklist(self, watcher: BlacklistWatcher) -> Callable[[], None]:
        """Call ``watcher`` with each client id blacklisted from now on; returns the function
        that stops it."""
        with self._lock:
            self._blacklist_watchers.append(watcher)

        def stop() -> None:
            with self._lock:
                if watcher in self._blacklist_watchers:
                    self._blacklist_watchers.remove(watcher)

        return stop

    def announce_blacklisted(self, instance_id: str, client_id: str) -> None:
        with self._lock:
            watchers = list(self._blacklist_watchers)
        for watcher in watchers:
            watcher(instance_id, client_id)

    # --- seeding (the fixture) --------------------------------------------------------------

    def add_identity(self, record: IdentityRecord) -> None:
        """Insert or replace an identity (seeding)."""
        with self.transaction() as db:
            self._require_instance(db, record.instance_id)
            _insert(db, _IDENTITIES, astuple(record), replace=True)

    def add_permission(self, record: PermissionRecord) -> None:
        """Insert or replace a permission (seeding)."""
        with self.transaction() as db:
            self._require_instance(db, record.instance_id)
            _insert(db, _PERMISSIONS, astuple(record), replace=True)

    def add_blacklisted(self, instance_id: str, client_id: str) -> None:
        """Blacklist a client id (seeding)."""
        with self.transaction() as db:
            self._require_instance(db, instance_id)
            _insert(db, _BLACKLIST, (instance_id, client_id), replace=True)
        self.announce_blacklisted(instance_id, client_id)

    # --- the actions' writes, inside their transaction -------------------------------------

    @staticmethod
    def insert_identity(db: sqlite3.Connection, record: IdentityRecord) -> bool:
        """False (and no change) when the key exists."""
        return _insert(db, _IDENTITIES, astuple(record), replace=False)

    @staticmethod
    def update_identity(db: sqlite3.Connection, record: IdentityRecord) -> bool:
        """False when the key does not exist."""
        return _update(db, _IDENTITIES, astuple(record))

    @staticmethod
    def delete_identity(db: sqlite3.Connection, instance_id: str, key: PageKey) -> bool:
        return _delete(db, _IDENTITIES, (instance_id, *key))

    @staticmethod
    def insert_permission(db: sqlite3.Connection, record: PermissionRecord) -> bool:
        return _insert(db, _PERMISSIONS, astuple(record), replace=False)

    @staticmethod
    def update_permission(db: sqlite3.Connection, record: PermissionRecord) -> bool:
        return _update(db, _PERMISSIONS, astuple(record))

    @staticmethod
    def delete_permission(db: sqlite3.Connection, instance_id: str, key: PageKey) -> bool:
        return _delete(db, _PERMISSIONS, (instance_id, *key))

    @staticmethod
    def insert_blacklisted(db: sqlite3.Connection, instance_id: str, client_id: str) -> bool:
        return _insert(db, _BLACKLIST, (instance_id, client_id), replace=False)

    @staticmethod
    def delete_blacklisted(db: sqlite3.Connection, instance_id: str, client_id: str) -> bool:
        return _delete(db, _BLACKLIST, (instance_id, client_id))

    @staticmethod
    def identity_count(db: sqlite3.Connection, instance_id: str) -> int:
        return _count(db, _IDENTITIES, instance_id)

    @staticmethod
    def rule_count(db: sqlite3.Connection, instance_id: str) -> int:
        """Permissions and blacklist entries together: they share one capacity."""
        return _count(db, _PERMISSIONS, instance_id) + _count(db, _BLACKLIST, instance_id)

    # --- pages (the Query actions) ----------------------------------------------------------

    def identities_page(
        self,
        instance_id: str,
        *,
        after: PageKey | None,
        size: int,
        filters: Mapping[str, str],
    ) -> list[IdentityRecord]:
        """Up to ``size`` identities after ``after`` in key order; ``filters`` maps key
        columns to the values they must have."""
        rows = self._page(_IDENTITIES, instance_id, after, size, filters)
        return [IdentityRecord(*row) for row in rows]

    def permissions_page(
        self,
        instance_id: str,
        *,
        after: PageKey | None,
        size: int,
        filters: Mapping[str, str],
    ) -> list[PermissionRecord]:
        rows = self._page(_PERMISSIONS, instance_id, after, size, filters)
        return [PermissionRecord(*row) for row in rows]

    def blacklist_page(
        self,
        instance_id: str,
        *,
        after: PageKey | None,
        size: int,
        filters: Mapping[str, str],
    ) -> list[str]:
        rows = self._page(_BLACKLIST, instance_id, after, size, filters)
        return [str(row[1]) for row in rows]

    def _page(
        self,
        table: _Table,
        instance_id: str,
        after: PageKey | None,
        size: int,
        filters: Mapping[str, str],
    ) -> list[tuple[Any, ...]]:
        unknown = set(filters) - set(table.keys)
        if unknown:
            raise ValueError(f"{table.name} cannot be filtered by {sorted(unknown)}")
        where = ["instance_id = ?"]
        args: list[object] = [instance_id]
        for column, value in filters.items():
            where.append(f"{column} = ?")
            args.append(value)
        order = ", ".join(table.keys)
        if after is not None:
            if len(after) != len(table.keys):
                raise ValueError(f"a bookmark of {table.name} has {len(table.keys)} values")
            marks = ", ".join("?" for _ in after)
            where.append(f"({order}) > ({marks})")
            args.extend(after)
        args.append(size)
        return self._query(
            f"SELECT {table.columns} FROM {table.name} WHERE {' AND '.join(where)}"  # noqa: S608
            f" ORDER BY {order} LIMIT ?",
            args,
        )

    # --- the MQTT listener's look-ups -------------------------------------------------------

    def instances_with_username(self, username: str) -> list[str]:
        """The instances holding an identity of this username, by id."""
        rows = self._query(
            "SELECT DISTINCT instance_id FROM auth_identities WHERE username = ?"
            " ORDER BY instance_id",
            (username,),
        )
        return [str(row[0]) for row in rows]

    def login_identity(
        self, instance_id: str, username: str, client_id: str
    ) -> IdentityRecord | None:
        """The identity a CONNECT with this username and client id logs in as: the CLIENT
        identity of both, else the USER identity of the username, else None."""
        for key in (("CLIENT", username, client_id), ("USER", username, "")):
            rows = self._query(
                f"SELECT {_IDENTITIES.columns} FROM auth_identities WHERE instance_id = ?"  # noqa: S608
                " AND identity_type = ? AND username = ? AND client_id = ?",
                (instance_id, *key),
            )
            if rows:
                return IdentityRecord(*rows[0])
        return None

    def permissions_for(
        self, instance_id: str, identities: Sequence[tuple[str, str]]
    ) -> list[PermissionRecord]:
        """Every permission of the given (identity type, identity) pairs."""
        found: list[PermissionRecord] = []
        for identity_type, identity in identities:
            rows = self._query(
                f"SELECT {_PERMISSIONS.columns} FROM auth_permissions WHERE instance_id = ?"  # noqa: S608
                " AND identity_type = ? AND identity = ?",
                (instance_id, identity_type, identity),
            )
            found.extend(PermissionRecord(*row) for row in rows)
        return found

    def is_blacklisted(self, instance_id: str, client_id: str) -> bool:
        return bool(
            self._query(
                "SELECT 1 FROM auth_blacklist WHERE instance_id = ? AND client_id = ?",
                (instance_id, client_id),
            )
        )


def _insert(
    db: sqlite3.Connection, table: _Table, values: Sequence[object], *, replace: bool
) -> bool:
    verb = "INSERT OR REPLACE" if replace else "INSERT OR IGNORE"
    marks = ", ".join("?" for _ in values)
    cursor = db.execute(f"{verb} INTO {table.name} ({table.columns}) VALUES ({marks})", values)
    return cursor.rowcount == 1


def _update(db: sqlite3.Connection, table: _Table, values: Sequence[object]) -> bool:
    key_count = 1 + len(table.keys)
    assignments = ", ".join(f"{column} = ?" for column in table.values)
    matches = " AND ".join(f"{column} = ?" for column in ("instance_id", *table.keys))
    cursor = db.execute(
        f"UPDATE {table.name} SET {assignments} WHERE {matches}",  # noqa: S608
        (*values[key_count:], *values[:key_count]),
    )
    return cursor.rowcount == 1


def _delete(db: sqlite3.Connection, table: _Table, key: Sequence[object]) -> bool:
    matches = " AND ".join(f"{column} = ?" for column in ("instance_id", *table.keys))
    statement = f"DELETE FROM {table.name} WHERE {matches}"  # noqa: S608
    return db.execute(statement, key).rowcount == 1


def _count(db: sqlite3.Connection, table: _Table, instance_id: str) -> int:
    statement = f"SELECT count(*) FROM {table.name} WHERE instance_id = ?"  # noqa: S608
    (count,) = db.execute(statement, (instance_id,)).fetchone()
    return int(count)
