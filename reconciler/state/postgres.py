"""The PostgreSQL backend (psycopg 3): one row per workspace, a locks row and an advisory lock.

The tables carry a schema version and are created or upgraded on first use (``pg_schema``).

Why both a session advisory lock and a locks row: the advisory lock is what excludes (the server
drops it when the holder's session dies, so a crashed or ``kill -9``-ed holder frees it by
itself), the row is what names the holder. A row whose advisory lock is free is a crashed
holder's leftover and is ignored, then overwritten by the next locker. ``force_unlock`` finds
the session holding the advisory lock in ``pg_locks`` and terminates it.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
import psycopg.errors
from psycopg import sql
from psycopg.types.json import Jsonb
from pydantic import ValidationError

from reconciler.errors import LockError, StateConflictError, StateError
from reconciler.models import STATE_FORMAT_VERSION, PostgresBackendConfig, StateDocument
from reconciler.state import pg_schema
from reconciler.state.base import (
    LockInfo,
    StateBackend,
    check_swap,
    held_by,
    lock_lost,
    not_held,
)
from reconciler.state.changes import (
    FOLD_SHARE,
    JOURNAL_FOLD_BYTES,
    JournalEntry,
    StateChanges,
    applied,
    parse_entry,
)
from reconciler.state.document import StateFormatError, parse_state
from reconciler.state.dsn import describe_dsn, read_dsn, scrub

CONNECT_TIMEOUT_SECONDS = 10
# How long force_unlock waits for a terminated holder's session to be gone.
TERMINATE_WAIT_MS = 5000
# Why a lock this process held is gone.
LOST_WHY = "force-unlocked, or its PostgreSQL session ended"
# How long a blocked caller waits for a new holder's row before calling the holder unknown.
HOLDER_SETTLE_SECONDS = 1.0

Connection = psycopg.Connection[tuple[Any, ...]]


class PostgresBackend(StateBackend):
    breaks_live_locks = True

    def __init__(self, config: PostgresBackendConfig) -> None:
        self._dsn = config.dsn.get_secret_value()
        self.schema = config.db_schema
        self.workspace = config.workspace
        self._key = advisory_key("lock", self.schema, self.workspace)
        self._states = sql.Identifier(self.schema, "states")
        self._locks = sql.Identifier(self.schema, "locks")
        self._journal = sql.Identifier(self.schema, "journal")
        self._format_current = False
        self._mutex = threading.Lock()
        # lock id -> the dedicated session holding the advisory lock
        self._held: dict[str, Connection] = {}
        # Locks of this instance found broken: nothing more may be written.
        self._lost: set[str] = set()
        self._conn = self._connect()
        try:
            self._ensure_tables()
        except BaseException:
            self._conn.close()
            raise

    def describe(self) -> str:
        return f"postgres {describe_dsn(self._dsn)} schema={self.schema} workspace={self.workspace}"

    # --- connections and errors -------------------------------------------------------------

    def _connect(self) -> Connection:
        read = read_dsn(self._dsn)
        if read.problem is not None:
            # libpq's own parse errors quote the DSN: refuse it before libpq sees it.
            where = "" if read.public is None else f" {describe_dsn(self._dsn)}"
            raise StateError(
                f"cannot connect to PostgreSQL{where}: the DSN does not parse: {read.problem}"
            )
        try:
            return psycopg.connect(
                self._dsn,
                autocommit=True,
                connect_timeout=CONNECT_TIMEOUT_SECONDS,
                application_name="reconciler",
            )
        except psycopg.Error as exc:
            raise self._error("cannot connect to PostgreSQL", exc) from exc

    def _error(
        self,
        doing: str,
        exc: psycopg.Error,
        kind: type[StateError] = StateError,
        *,
        needs: Callable[[str, str], str] | None = None,
    ) -> StateError:
        """``needs(role, database)``: the grant that would have let ``doing`` succeed, named
        when the server answered "permission denied"."""
        # A server's message can name a host that is also the password, and spans lines
        # ("\n\tIs the server running..."); our errors are one line.
        detail = " ".join(scrub(str(exc), self._dsn).split())
        text = f"{doing} {describe_dsn(self._dsn)}: {detail}"
        if needs is not None and isinstance(exc, psycopg.errors.InsufficientPrivilege):
            # Best effort: a session that cannot even ask the catalogs keeps the bare error.
            with contextlib.suppress(psycopg.Error):
                text += f"; needs: {needs(*self._who())}"
        return kind(text)

    def _who(self) -> tuple[str, str]:
        """This session's role and database, for a grant's wording."""
        with self._mutex:
            row = self._conn.execute("SELECT current_user, current_database()").fetchone()
        return (str(row[0]), str(row[1])) if row else ("ROLE", "DATABASE")

    def _use_grant(self, role: str, database: str) -> str:
        return self._missing_grant(role, database, creating=False)

    def _create_grant(self, role: str, database: str) -> str:
        return self._missing_grant(role, database, creating=True)

    def _missing_grant(self, role: str, database: str, *, creating: bool) -> str:
        """The one grant this role lacks for the tables (``creating``: to create or upgrade
        them), from the catalogs, which every role may read."""
        with self._mutex:
            row = self._conn.execute(
                "SELECT n.oid IS NOT NULL, has_schema_privilege(n.oid, 'USAGE'),"
                " has_schema_privilege(n.oid, 'CREATE'), EXISTS (SELECT FROM pg_catalog.pg_class"
                " WHERE relnamespace = n.oid AND relname = 'states')"
                " FROM (SELECT %s::name) AS wanted (name)"
                " LEFT JOIN pg_catalog.pg_namespace n ON n.nspname = wanted.name",
                (self.schema,),
            ).fetchone()
        exists, usage, create, tables = row if row else (False, False, False, False)
        schema, role = _name(self.schema), _name(role)
        if not exists:
            return (
                f"GRANT CREATE ON DATABASE {_name(database)} TO {role} "
                f"(or an administrator's CREATE SCHEMA {schema} AUTHORIZATION {role})"
            )
        if (creating or not tables) and not create:
            rights = "CREATE" if usage else "USAGE, CREATE"
            return f"GRANT {rights} ON SCHEMA {schema} TO {role}"
        if not usage:
            return f"GRANT USAGE ON SCHEMA {schema} TO {role}"
        return f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {role}"

    def _ensure_tables(self) -> None:
        doing = f"cannot read the schema version of the state tables in schema {self.schema}"
        needs = self._use_grant
        try:
            with self._mutex:
                found = pg_schema.schema_version(self._conn, self.schema)
                pg_schema.refuse_newer(found, self.schema)
                if found == pg_schema.SCHEMA_VERSION:
                    return
                doing = (
                    f"cannot create the state tables in schema {self.schema}"
                    if found == 0
                    else f"cannot upgrade the state tables in schema {self.schema} from "
                    f"version {found} to {pg_schema.SCHEMA_VERSION}"
                )
                needs = self._create_grant
                pg_schema.upgrade(
                    self._conn, self.schema, lock_key=advisory_key("ddl", self.schema)
                )
        except psycopg.Error as exc:
            raise self._error(doing, exc, needs=needs) from exc

    def _query(
        self,
        statement: sql.Composed | str,
        params: tuple[Any, ...],
        doing: str,
        kind: type[StateError] = StateError,
        *,
        on_tables: bool = True,
        session: Connection | None = None,
    ) -> tuple[list[tuple[Any, ...]], int]:
        """Run one statement on the shared session (or ``session``); returns its rows and row
        count. ``on_tables``: a "permission denied" is about the state tables (the grant is
        named)."""
        try:
            with self._mutex:
                cursor = (session or self._conn).execute(statement, params)
                # Fetch under the mutex so another thread's statement cannot interleave.
                rows = cursor.fetchall() if cursor.description else []
                return rows, cursor.rowcount
        except psycopg.Error as exc:
            needs = self._use_grant if on_tables else None
            raise self._error(doing, exc, kind, needs=needs) from exc

    # --- the document -----------------------------------------------------------------------

    def read(self) -> StateDocument | None:
        # One statement, so the document and its journal are one snapshot.
        rows, _ = self._query(
            sql.SQL(
                "SELECT s.lineage, s.serial, s.document::text, array(SELECT j.serial || ' '"
                " || j.entry FROM {journal} j WHERE j.workspace = s.workspace ORDER BY j.serial)"
                " FROM {states} s WHERE s.workspace = %s"
            ).format(journal=self._journal, states=self._states),
            (self.workspace,),
            "cannot read the state",
        )
        if not rows:
            return None
        lineage, serial, text, entries = rows[0]
        where = f"state of workspace {self.workspace} in {self.schema}.states"
        doc = applied(parse_state(text, where=where), self._entries(entries))
        if (doc.lineage, doc.serial) != (lineage, serial):
            raise self._disagreement(where, doc, lineage, serial)
        return doc

    def _entries(self, rows: list[str]) -> list[tuple[str, JournalEntry]]:
        """Each journal row (``SERIAL ENTRY``) parsed, with where it is."""
        entries = []
        for row in rows:
            serial, _, text = row.partition(" ")
            where = f"journal entry {serial} of workspace {self.workspace} in {self.schema}.journal"
            entry = parse_entry(text, where=where)
            if str(entry.serial) != serial:
                raise StateFormatError(
                    f"{where} is corrupt: it says serial {entry.serial}, its row {serial}"
                )
            entries.append((where, entry))
        return entries

    def _disagreement(
        self, where: str, doc: StateDocument, lineage: str, serial: int
    ) -> StateFormatError:
        """The row's columns (what the compare-and-swap checks) and its document (what plans
        read) must agree, or every write fails its swap after the cloud has changed. The fix
        moves the document to the columns' lineage and a serial above both, so a plan saved
        from either version is stale."""
        said = []
        if doc.lineage != lineage:
            said.append(f"lineage {doc.lineage!r} but the row's lineage column is {lineage!r}")
        if doc.serial != serial:
            said.append(f"serial {doc.serial} but the row's serial column is {serial}")
        return StateFormatError(
            f"{where} is inconsistent: the document says {' and '.join(said)} (edited by hand?); "
            f"check the document, then repair it with: {self.repair_sql()}"
        )

    def repair_sql(self) -> str:
        """SQL aligning the document's lineage and serial with its row's columns."""
        statement = sql.SQL(
            "UPDATE {states} SET serial = {bumped}, document = jsonb_set(jsonb_set(document,"
            " '{{lineage}}', to_jsonb(lineage)), '{{serial}}', to_jsonb({bumped}))"
            " WHERE workspace = {workspace};"
        ).format(
            states=self._states,
            bumped=sql.SQL("greatest(serial, (document->>'serial')::bigint) + 1"),
            workspace=sql.Literal(self.workspace),
        )
        with self._mutex:
            return statement.as_string(self._conn)

    def write(self, doc: StateDocument, *, expected_serial: int) -> StateDocument:
        new = doc.model_copy(update={"serial": expected_serial + 1})
        document = Jsonb(new.model_dump(mode="json"))
        if expected_serial == 0:
            statement = sql.SQL(
                "INSERT INTO {} (workspace, lineage, serial, document, updated_at)"
                " VALUES (%s, %s, %s, %s, now()) ON CONFLICT (workspace) DO NOTHING"
            ).format(self._states)
            params: tuple[Any, ...] = (self.workspace, new.lineage, new.serial, document)
        else:
            # A document of a newer format is never overwritten: the read below refuses it.
            statement = sql.SQL(
                "UPDATE {} SET serial = %s, document = %s, updated_at = now()"
                " WHERE workspace = %s AND serial = %s AND lineage = %s"
                " AND coalesce(document->>'format_version', '1') IN ('1', %s)"
            ).format(self._states)
            params = (
                new.serial,
                document,
                self.workspace,
                expected_serial,
                new.lineage,
                str(STATE_FORMAT_VERSION),
            )
        _, count = self._write_under_lock(statement, params)
        if count != 1:
            where = f"workspace {self.workspace} of {self.schema}.states"
            check_swap(self.read(), doc, expected_serial, where=where)
            raise StateConflictError(f"state in {where} changed while it was being written")
        # The journal is folded into the document now. Rows at or below its serial are
        # skipped by readers, so a crash before this delete leaves nothing applied twice.
        self._write_under_lock(
            sql.SQL("DELETE FROM {} WHERE workspace = %s AND serial <= %s").format(self._journal),
            (self.workspace, new.serial),
        )
        return new

    def append(self, changes: StateChanges, *, expected_serial: int) -> int:
        """One journal row, and the row's serial bumped, in one statement (one transaction):
        the cost of the change, not of the state."""
        if not self._current_format():
            # A document of an older format: its first write upgrades it whole.
            return super().append(changes, expected_serial=expected_serial)
        entry = JournalEntry.of(changes, expected_serial + 1)
        statement = sql.SQL(
            "WITH bumped AS (UPDATE {states} SET serial = serial + 1, updated_at = now()"
            " WHERE workspace = %s AND serial = %s AND lineage = %s RETURNING serial)"
            " INSERT INTO {journal} (workspace, serial, entry) SELECT %s, serial, %s FROM bumped"
        ).format(states=self._states, journal=self._journal)
        params = (
            self.workspace,
            expected_serial,
            changes.lineage,
            self.workspace,
            entry.model_dump_json(),
        )
        _, count = self._write_under_lock(statement, params)
        if count == 1:
            return entry.serial
        return super().append(changes, expected_serial=expected_serial)  # says which conflict

    def _current_format(self) -> bool:
        """Whether the stored document is of the current format; asked once per instance,
        since asking reads the whole document (a format 1 document only comes back through a
        write, which moves the serial an append compares)."""
        if self._format_current:
            return True
        rows, _ = self._query(
            sql.SQL("SELECT document->>'format_version' FROM {} WHERE workspace = %s").format(
                self._states
            ),
            (self.workspace,),
            "cannot read the state",
        )
        self._format_current = bool(rows) and rows[0][0] == str(STATE_FORMAT_VERSION)
        return self._format_current

    def fold_due(self, *, ending: bool = False) -> bool:
        # Stored (compressed) sizes on both sides: the document's text length would read
        # all of it.
        rows, _ = self._query(
            sql.SQL(
                "SELECT (SELECT coalesce(sum(pg_column_size(entry)), 0) FROM {journal}"
                " WHERE workspace = %s), pg_column_size(document) FROM {states}"
                " WHERE workspace = %s"
            ).format(journal=self._journal, states=self._states),
            (self.workspace, self.workspace),
            "cannot read the state",
        )
        if not rows:
            return False
        journal, document = int(rows[0][0]), int(rows[0][1])
        return journal >= JOURNAL_FOLD_BYTES or (ending and journal * FOLD_SHARE >= document)

    def _write_under_lock(
        self, statement: sql.Composed, params: tuple[Any, ...]
    ) -> tuple[list[tuple[Any, ...]], int]:
        """Write through the lock's own session while a lock is held: if the lock was broken
        (its session terminated) the write fails with it, leaving no moment between a check
        and the write for another run to take the lock in."""
        with self._mutex:
            if self._lost:
                raise lock_lost(next(iter(self._lost)), LOST_WHY)
            held = next(iter(self._held.items()), None)
        if held is None:
            return self._query(statement, params, "cannot write the state")
        lock_id, session = held
        try:
            return self._query(statement, params, "cannot write the state", session=session)
        except StateError as exc:
            if not session.broken:
                raise
            self._mark_lost(lock_id)
            raise lock_lost(lock_id, LOST_WHY) from exc

    # --- the lock ---------------------------------------------------------------------------

    def check_lock(self, lock_id: str) -> None:
        with self._mutex:
            session = self._held.get(lock_id)
            lost = lock_id in self._lost
        if session is None:
            raise lock_lost(lock_id, LOST_WHY if lost else "this process does not hold it")
        try:
            # A session holds its advisory lock until it ends: alive means still held.
            session.execute("SELECT 1")
        except psycopg.Error as exc:
            self._mark_lost(lock_id)
            raise lock_lost(lock_id, LOST_WHY) from exc

    def _mark_lost(self, lock_id: str) -> None:
        with self._mutex:
            session = self._held.pop(lock_id, None)
            self._lost.add(lock_id)
        if session is not None:
            session.close()

    def _try_lock(self, info: LockInfo) -> None:
        conn = self._connect()
        try:
            got = conn.execute("SELECT pg_try_advisory_lock(%s)", (self._key,)).fetchone()
            if not (got and got[0]):
                conn.close()
                raise held_by(self.lock_holder())
            # Any row already there belongs to a holder whose session died: overwrite it.
            conn.execute(
                sql.SQL(
                    "INSERT INTO {} (workspace, lock_id, info, session_pid, locked_at)"
                    " VALUES (%s, %s, %s, pg_backend_pid(), now())"
                    " ON CONFLICT (workspace) DO UPDATE SET lock_id = EXCLUDED.lock_id,"
                    " info = EXCLUDED.info, session_pid = EXCLUDED.session_pid, locked_at = now()"
                ).format(self._locks),
                (self.workspace, info.id, Jsonb(info.model_dump(mode="json"))),
            )
        except psycopg.Error as exc:
            conn.close()
            raise self._error(
                "cannot take the state lock", exc, LockError, needs=self._use_grant
            ) from exc
        with self._mutex:
            self._held[info.id] = conn

    def unlock(self, lock_id: str) -> None:
        with self._mutex:
            conn = self._held.pop(lock_id, None)
            lost = lock_id in self._lost
        if lost:
            raise lock_lost(lock_id, LOST_WHY)
        if conn is None:
            raise not_held(lock_id, self.lock_holder())
        try:
            conn.execute(
                sql.SQL("DELETE FROM {} WHERE workspace = %s AND lock_id = %s").format(self._locks),
                (self.workspace, lock_id),
            )
            conn.execute("SELECT pg_advisory_unlock(%s)", (self._key,))
        except psycopg.Error as exc:
            raise lock_lost(lock_id, LOST_WHY) from exc
        finally:
            conn.close()

    def _break_lock(self, lock_id: str) -> None:
        rows, _ = self._query(
            sql.SQL("SELECT lock_id FROM {} WHERE workspace = %s").format(self._locks),
            (self.workspace,),
            "cannot read the lock",
        )
        current = rows[0][0] if rows else None
        if current != lock_id:
            now = f"the current lock is {current}" if current else "no lock is recorded"
            raise LockError(f"cannot force-unlock {lock_id}: {now} (workspace {self.workspace})")
        for pid in self._holder_pids():
            # False when the session was already on its way out; checked again below.
            self._query(
                "SELECT pg_terminate_backend(%s, %s)",
                (pid, TERMINATE_WAIT_MS),
                f"cannot terminate the PostgreSQL session (pid {pid}) holding lock {lock_id}",
                LockError,
                on_tables=False,
            )
        survivors = self._holder_pids()
        if survivors:
            raise LockError(
                f"the PostgreSQL session (pid {survivors[0]}) holding lock {lock_id} did not "
                f"end within {TERMINATE_WAIT_MS // 1000}s"
            )
        self._query(
            sql.SQL("DELETE FROM {} WHERE workspace = %s AND lock_id = %s").format(self._locks),
            (self.workspace, lock_id),
            "cannot remove the lock row",
        )

    def _holder_pids(self) -> list[int]:
        classid, objid = _split_key(self._key)
        rows, _ = self._query(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            " AND classid = %s::bigint::oid AND objid = %s::bigint::oid AND objsubid = 1",
            (classid, objid),
            "cannot look up the lock holder",
        )
        return [int(row[0]) for row in rows]

    def lock_holder(self) -> LockInfo | None:
        # A new holder writes its row just after taking the advisory lock, so a row that is
        # missing or names another session (a crashed holder's) is re-read for a moment.
        deadline = time.monotonic() + HOLDER_SETTLE_SECONDS
        while True:
            pids = self._holder_pids()
            if not pids:
                return None  # unlocked; a row left now is a crashed holder's
            rows, _ = self._query(
                sql.SQL("SELECT info, session_pid FROM {} WHERE workspace = %s").format(
                    self._locks
                ),
                (self.workspace,),
                "cannot read the lock",
            )
            if rows and rows[0][1] in pids:
                try:
                    return LockInfo.model_validate(rows[0][0])
                except ValidationError:
                    return None  # written by another tool version: the holder is unknown
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.01)

    def close(self) -> None:
        super().close()
        self._conn.close()


def advisory_key(*parts: str) -> int:
    """A stable signed 64-bit advisory lock key for ``parts``."""
    digest = hashlib.sha256("\0".join(("reconciler", *parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _name(identifier: str) -> str:
    """``identifier`` as SQL would need it written: bare when it may be, else quoted."""
    if re.fullmatch(r"[a-z_][a-z0-9_$]*", identifier):
        return identifier
    return '"' + identifier.replace('"', '""') + '"'


def _split_key(key: int) -> tuple[int, int]:
    # pg_locks shows a bigint advisory key as classid (high 32 bits) and objid (low 32 bits).
    unsigned = key & 0xFFFFFFFFFFFFFFFF
    return unsigned >> 32, unsigned & 0xFFFFFFFF
