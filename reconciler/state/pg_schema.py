"""The PostgreSQL backend's tables and their schema version, upgraded in place.

Version 1 is the layout 0.1.0 created (``states`` and ``locks``, no version table); each later
version is one step of statements from the one before, and ``schema_version`` holds one row
naming the version the tables are at. A fresh schema runs every step, so a new install and an
upgraded one end up the same. Errors are psycopg's (the backend translates them), except a
schema newer than this code knows.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from reconciler.errors import StateError

SCHEMA_VERSION = 3

Connection = psycopg.Connection[tuple[Any, ...]]


def schema_version(conn: Connection, schema: str) -> int:
    """The version the tables in ``schema`` are at: 0 when there are none, 1 for 0.1.0's."""
    names = [sql.Identifier(schema, table).as_string(conn) for table in _TABLES]
    row = conn.execute(
        "SELECT to_regclass(%s) IS NOT NULL, to_regclass(%s) IS NOT NULL,"
        " to_regclass(%s) IS NOT NULL",
        names,
    ).fetchone()
    states, locks, versioned = row if row else (False, False, False)
    if versioned:
        found = conn.execute(
            sql.SQL("SELECT max(version) FROM {}").format(sql.Identifier(schema, "schema_version"))
        ).fetchone()
        # An empty version table is a step 1 -> 2 cut short; that step is idempotent.
        return int(found[0]) if found and found[0] is not None else 1
    return 1 if states and locks else 0


def schema_exists(conn: Connection, schema: str) -> bool:
    row = conn.execute(
        "SELECT EXISTS (SELECT FROM pg_catalog.pg_namespace WHERE nspname = %s)", (schema,)
    ).fetchone()
    return bool(row and row[0])


def refuse_newer(found: int, schema: str) -> None:
    if found > SCHEMA_VERSION:
        raise StateError(
            f"the state tables in schema {schema} are at schema version {found}, newer than "
            f"this reconciler knows ({SCHEMA_VERSION}): use a newer reconciler"
        )


def upgrade(conn: Connection, schema: str, *, lock_key: int) -> None:
    """Bring the tables in ``schema`` to SCHEMA_VERSION, creating them when there are none."""
    with conn.transaction():
        # Two processes racing on CREATE ... IF NOT EXISTS can still collide on the catalog's
        # unique index; a transaction-level advisory lock serialises them, and the version is
        # read again under it.
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key,))
        found = schema_version(conn, schema)
        refuse_newer(found, schema)
        if found == SCHEMA_VERSION:
            return
        # Only when missing: CREATE SCHEMA IF NOT EXISTS needs CREATE on the database even
        # when the schema exists, which a role given a schema of its own does not have.
        if not schema_exists(conn, schema):
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        for step in _steps(schema)[found:]:
            for statement in step:
                conn.execute(statement)
        conn.execute(
            sql.SQL(
                "INSERT INTO {} (version) VALUES (%s) ON CONFLICT (singleton)"
                " DO UPDATE SET version = EXCLUDED.version, upgraded_at = now()"
            ).format(sql.Identifier(schema, "schema_version")),
            (SCHEMA_VERSION,),
        )


_TABLES = ("states", "locks", "schema_version")
_JOURNAL = "journal"


def _steps(schema: str) -> list[list[sql.Composed]]:
    """Step ``n`` upgrades version ``n`` to ``n + 1``. Never change a released step: tables
    at its version exist; add a step instead."""
    states, locks, version = (sql.Identifier(schema, table) for table in _TABLES)
    return [
        [  # 0 -> 1: the tables as 0.1.0 created them (the schema is made by ``upgrade``)
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} ("
                " workspace text PRIMARY KEY,"
                " lineage text NOT NULL,"
                " serial bigint NOT NULL CHECK (serial > 0),"
                " document jsonb NOT NULL,"
                " updated_at timestamptz NOT NULL DEFAULT now())"
            ).format(states),
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} ("
                " workspace text PRIMARY KEY,"
                " lock_id text NOT NULL,"
                " info jsonb NOT NULL,"
                " session_pid integer NOT NULL,"
                " locked_at timestamptz NOT NULL DEFAULT now())"
            ).format(locks),
        ],
        [  # 1 -> 2: the tables say which version they are at
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} ("
                " singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),"
                " version integer NOT NULL,"
                " upgraded_at timestamptz NOT NULL DEFAULT now())"
            ).format(version),
        ],
        [  # 2 -> 3: writes of only what changed, one row each (``state/changes.py``); the
            # entry is kept as text, as written, so a tampered one is read as strictly as the
            # document (jsonb would fold a repeated key away)
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} ("
                " workspace text NOT NULL,"
                " serial bigint NOT NULL CHECK (serial > 0),"
                " entry text NOT NULL,"
                " PRIMARY KEY (workspace, serial))"
            ).format(sql.Identifier(schema, _JOURNAL)),
        ],
    ]
