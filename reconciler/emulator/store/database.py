"""The emulator's SQLite database: one connection guarded by one lock.

SQLite serialises writers anyway, so one ``RLock`` makes the store safe to share between the
server's request threads and the MQTT listener. ``path=None`` keeps everything in memory; a
file path makes the data survive restarts. Each aggregate (``accounts``, ``instances``,
``groups``, ``devices``, ``sessions``, ``credentials``, ``custom_auth``, ``history``, ``roles``,
``issued``) is a
subclass that declares its tables in ``SCHEMA`` and, when an older database lacks something,
adds it in ``_upgrade``.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar, Self


def now_ms() -> int:
    return int(time.time() * 1000)


class Database:
    SCHEMA: ClassVar[str] = ""

    def __init__(self, path: str | None = None) -> None:
        self.path = path
        self._lock = threading.RLock()
        # Transactions committed through this connection (see ``data_stamp``).
        self._commits = 0
        self._db = sqlite3.connect(
            path or ":memory:", check_same_thread=False, isolation_level=None
        )
        if path:
            # WAL plus NORMAL sync: durable across restarts, no fsync per request.
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
        for aggregate in reversed(type(self).__mro__):
            schema = vars(aggregate).get("SCHEMA")
            if schema:
                self._db.executescript(schema)
        self._upgrade()

    def _upgrade(self) -> None:
        """Bring a database an earlier version wrote up to date (aggregates extend this)."""

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
            self._commits += 1

    def data_stamp(self) -> tuple[int, int]:
        """A value that differs whenever the data may have changed since it was taken: this
        store's commits, and SQLite's ``data_version``, which counts the commits of every other
        connection to the same file (another emulator process, ``emulator reset``)."""
        with self._lock:
            (version,) = self._db.execute("PRAGMA data_version").fetchone()
            return self._commits, version

    def _query(self, sql: str, args: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return list(self._db.execute(sql, tuple(args)).fetchall())

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @staticmethod
    def _require_instance(db: sqlite3.Connection, instance_id: str) -> None:
        found = db.execute("SELECT 1 FROM instances WHERE instance_id = ?", (instance_id,))
        if found.fetchone() is None:
            raise ValueError(f"unknown instance {instance_id!r}")
