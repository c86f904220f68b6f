"""GIDs: the rows the management APIs create, list and delete. Naming rules and error codes
live in each API's actions; this keeps rows and answers indexed look-ups."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from reconciler.emulator.store.database import Database, now_ms


@dataclass(frozen=True)
class GroupRecord:
    instance_id: str
    group_id: str
    topic: str | None
    create_time: int
    update_time: int


class Groups(Database):
    SCHEMA = """
CREATE TABLE IF NOT EXISTS groups (
    instance_id TEXT NOT NULL,
    group_id TEXT NOT NULL,
    topic TEXT,
    create_time INTEGER NOT NULL,
    update_time INTEGER NOT NULL,
    PRIMARY KEY (instance_id, group_id)
);
CREATE INDEX IF NOT EXISTS groups_by_name ON groups (group_id);
"""

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
