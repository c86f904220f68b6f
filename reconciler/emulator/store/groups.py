"""GIDs: the rows the management APIs create, list and delete. Naming rules and error codes
live in each API's actions; this keeps rows and answers indexed look-ups."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.emulator.store.database import Database, now_ms

# A GID's tags, (key, value) in the order they were given at creation.
Tags = tuple[tuple[str, str], ...]
_COLUMNS = "instance_id, group_id, topic, create_time, update_time, tags"
# Listings kept (``Groups.group_columns``); all are dropped when one more would pass this.
_LISTINGS_KEPT = 512


@dataclass(frozen=True)
class GroupRecord:
    instance_id: str
    group_id: str
    topic: str | None
    create_time: int
    update_time: int
    tags: Tags = ()


@dataclass(frozen=True)
class GroupColumns:
    """What a listing answers of its GIDs, a column per field, the same row at the same index
    in each: a listing of thousands is encoded a column at a time (``protocol.Records``),
    without a ``GroupRecord`` per row."""

    instance_ids: Sequence[str]
    group_ids: Sequence[str]
    create_times: Sequence[int]
    update_times: Sequence[int]
    tags: Sequence[Tags]

    def __len__(self) -> int:
        return len(self.group_ids)

    def rows(self, indexes: Sequence[int]) -> GroupColumns:
        """Only the rows at ``indexes``, in their order."""
        return GroupColumns(
            [self.instance_ids[i] for i in indexes],
            [self.group_ids[i] for i in indexes],
            [self.create_times[i] for i in indexes],
            [self.update_times[i] for i in indexes],
            [self.tags[i] for i in indexes],
        )


def _tags(text: str | None) -> Tags:
    return tuple((str(key), str(value)) for key, value in json.loads(text)) if text else ()


def _record(row: tuple[Any, ...]) -> GroupRecord:
    instance_id, group_id, topic, create_time, update_time, tags = row
    return GroupRecord(instance_id, group_id, topic, create_time, update_time, _tags(tags))


class Groups(Database):
    # tags: the JSON list of [key, value] pairs (NULL: none), set at creation only, as the
    # service allows.
    SCHEMA = """
CREATE TABLE IF NOT EXISTS groups (
    instance_id TEXT NOT NULL,
    group_id TEXT NOT NULL,
    topic TEXT,
    create_time INTEGER NOT NULL,
    update_time INTEGER NOT NULL,
    tags TEXT,
    PRIMARY KEY (instance_id, group_id)
);
CREATE INDEX IF NOT EXISTS groups_by_name ON groups (group_id);
"""

    def __init__(self, path: str | None = None) -> None:
        # Each listing's columns by the instances listed, with the ``data_stamp`` read before
        # them: a plan lists every instance again, most of them unchanged since, and reading
        # 1,000 rows back was a third of the emulator's work for a listing.
        self._listings: dict[tuple[str, ...], tuple[tuple[int, int], GroupColumns]] = {}
        super().__init__(path)

    def _upgrade(self) -> None:
        """A database written before GIDs had tags gets the column (no GID has any)."""
        super()._upgrade()
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(groups)")}
        if "tags" not in columns:
            self._db.execute("ALTER TABLE groups ADD COLUMN tags TEXT")

    def add_group(
        self,
        instance_id: str,
        group_id: str,
        *,
        topic: str | None = None,
        create_time: int | None = None,
        update_time: int | None = None,
        tags: Tags = (),
    ) -> bool:
        """Insert the GID for seeding; False (and no change) when it is already there."""
        with self.transaction() as db:
            self._require_instance(db, instance_id)
            return self.insert_group(
                db,
                instance_id,
                group_id,
                topic,
                create_time=create_time,
                update_time=update_time,
                tags=tags,
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
        tags: Tags = (),
    ) -> bool:
        created = create_time if create_time is not None else now_ms()
        cursor = db.execute(
            f"INSERT OR IGNORE INTO groups ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",  # noqa: S608
            (
                instance_id,
                group_id,
                topic,
                created,
                update_time if update_time else created,
                json.dumps([list(pair) for pair in tags], ensure_ascii=False) if tags else None,
            ),
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
            f"SELECT {_COLUMNS} FROM groups WHERE instance_id = ? AND group_id = ?",  # noqa: S608
            (instance_id, group_id),
        )
        return _record(rows[0]) if rows else None

    def groups(self, instance_ids: Sequence[str]) -> list[GroupRecord]:
        """Every GID of these instances, ordered by instance then name."""
        if not instance_ids:
            return []
        marks = ",".join("?" for _ in instance_ids)
        rows = self._query(
            f"SELECT {_COLUMNS} FROM groups"  # noqa: S608
            f" WHERE instance_id IN ({marks}) ORDER BY instance_id, group_id",
            instance_ids,
        )
        return [_record(row) for row in rows]

    def group_columns(self, instance_ids: Sequence[str]) -> GroupColumns:
        """What ``groups`` gives of the listed fields (no topic), as columns; read again only
        when the data may have changed since they were last read (``data_stamp``)."""
        key = tuple(instance_ids)
        # Taken before the read: a write landing meanwhile leaves the kept columns with an
        # older stamp than any later call's, so they are never served after it.
        stamp = self.data_stamp()
        kept = self._listings.get(key)
        if kept is not None and kept[0] == stamp:
            return kept[1]
        columns = self._read_group_columns(key)
        with self._lock:
            if len(self._listings) >= _LISTINGS_KEPT:
                self._listings.clear()
            self._listings[key] = (stamp, columns)
        return columns

    def _read_group_columns(self, instance_ids: Sequence[str]) -> GroupColumns:
        owners: Sequence[str]
        if len(instance_ids) == 1:
            # One instance's id is known: not read back for each of its GIDs.
            rows = self._query(
                "SELECT group_id, create_time, update_time, tags FROM groups"
                " WHERE instance_id = ? ORDER BY group_id",
                instance_ids,
            )
            if not rows:
                return GroupColumns((), (), (), (), ())
            names, created, updated, tag_texts = zip(*rows, strict=True)
            owners = (instance_ids[0],) * len(rows)
        else:
            marks = ",".join("?" for _ in instance_ids)
            rows = self._query(
                "SELECT instance_id, group_id, create_time, update_time, tags"  # noqa: S608
                f" FROM groups WHERE instance_id IN ({marks}) ORDER BY instance_id, group_id",
                instance_ids,
            )
            if not rows:
                return GroupColumns((), (), (), (), ())
            owners, names, created, updated, tag_texts = zip(*rows, strict=True)
        # Most GIDs have no tags: one empty tuple (a singleton) then stands for every row's.
        # Tuples only: kept columns are shared by every answer until the data changes.
        tags = tuple(map(_tags, tag_texts)) if any(tag_texts) else ((),) * len(rows)
        return GroupColumns(owners, names, created, updated, tags)

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
