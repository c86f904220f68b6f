"""Instances and their topics. Each instance has an owner (an account's AccessKeyId), and an
account sees only its own instances (``owned_instance``, ``owned_instances``) and what is in
them; an instance seeded without an owner (a store with one account, tests) is every account's.

Each instance has an edition, which decides what it supports (custom authentication: only
``professional`` and ``platinum``), and a custom-auth capacity (its connection-count spec):
identities may not exceed it, nor permissions and blacklist entries together.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from reconciler.emulator.store.database import Database

Edition = Literal["basic", "standard", "professional", "platinum"]
EDITIONS: tuple[Edition, ...] = ("basic", "standard", "professional", "platinum")
DEFAULT_EDITION: Edition = "professional"
CUSTOM_AUTH_EDITIONS: frozenset[Edition] = frozenset({"professional", "platinum"})
DEFAULT_CUSTOM_AUTH_CAPACITY = 1000


@dataclass(frozen=True)
class InstanceRecord:
    instance_id: str
    region: str
    independent_naming: bool
    owner: str | None = None
    edition: Edition = DEFAULT_EDITION
    custom_auth_capacity: int = DEFAULT_CUSTOM_AUTH_CAPACITY

    @property
    def has_custom_auth(self) -> bool:
        return self.edition in CUSTOM_AUTH_EDITIONS


class Instances(Database):
    SCHEMA = """
CREATE TABLE IF NOT EXISTS instances (
    instance_id TEXT PRIMARY KEY,
    region TEXT NOT NULL,
    independent_naming INTEGER NOT NULL,
    owner TEXT,  -- the owning account's AccessKeyId; NULL: every account's
    edition TEXT NOT NULL DEFAULT 'professional',
    custom_auth_capacity INTEGER NOT NULL DEFAULT 1000
);
CREATE TABLE IF NOT EXISTS topics (
    instance_id TEXT NOT NULL,
    topic TEXT NOT NULL,
    PRIMARY KEY (instance_id, topic)
);
"""

    def _upgrade(self) -> None:
        """A database written before instances had owners, editions or capacities gets the
        columns (unowned, the default edition and capacity)."""
        super()._upgrade()
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(instances)")}
        if "owner" not in columns:
            self._db.execute("ALTER TABLE instances ADD COLUMN owner TEXT")
        if "edition" not in columns:
            self._db.execute(
                "ALTER TABLE instances ADD COLUMN edition TEXT NOT NULL"
                f" DEFAULT '{DEFAULT_EDITION}'"
            )
        if "custom_auth_capacity" not in columns:
            self._db.execute(
                "ALTER TABLE instances ADD COLUMN custom_auth_capacity INTEGER NOT NULL"
                f" DEFAULT {DEFAULT_CUSTOM_AUTH_CAPACITY}"
            )

    def add_instance(
        self,
        instance_id: str,
        *,
        region: str = "cn-hangzhou",
        independent_naming: bool = True,
        topics: Iterable[str] = (),
        owner: str | None = None,
        edition: Edition = DEFAULT_EDITION,
        custom_auth_capacity: int = DEFAULT_CUSTOM_AUTH_CAPACITY,
    ) -> InstanceRecord:
        """Create the instance if missing (an existing one keeps region, naming, edition and
        capacity); add topics.

        ``owner`` (an AccessKeyId) gives an unowned instance to that account; an instance
        another account owns is a ValueError.
        """
        if not instance_id:
            raise ValueError("an instance needs an id")
        if edition not in EDITIONS:
            raise ValueError(f"edition {edition!r} is not one of {', '.join(EDITIONS)}")
        if custom_auth_capacity < 0:
            raise ValueError("custom_auth_capacity must not be negative")
        with self.transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO instances (instance_id, region, independent_naming, owner,"
                " edition, custom_auth_capacity) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    instance_id,
                    region,
                    int(independent_naming),
                    owner,
                    edition,
                    custom_auth_capacity,
                ),
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

    def has_topic(self, instance_id: str, topic: str) -> bool:
        return bool(
            self._query(
                "SELECT 1 FROM topics WHERE instance_id = ? AND topic = ?", (instance_id, topic)
            )
        )


_INSTANCE_COLUMNS = (
    "SELECT instance_id, region, independent_naming, owner, edition, custom_auth_capacity"
    " FROM instances"
)
# What one account may see: its own instances and the unowned ones.
_VISIBLE_TO = "(owner = ? OR owner IS NULL)"


def _instance(row: tuple[Any, ...]) -> InstanceRecord:
    return InstanceRecord(row[0], row[1], bool(row[2]), row[3], row[4], int(row[5]))
