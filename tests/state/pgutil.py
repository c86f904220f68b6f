"""Reaching the test PostgreSQL server: DSN, reachability, throwaway schemas."""

from __future__ import annotations

import os
import uuid
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

DEFAULT_DSN = "postgresql://127.0.0.1:5432/test"


def pg_dsn() -> str:
    """The test server's DSN; skips (or fails under RECONCILER_REQUIRE_POSTGRES) when it is
    unreachable."""
    dsn = os.environ.get("RECONCILER_TEST_PG_DSN", DEFAULT_DSN)
    try:
        psycopg.connect(dsn, connect_timeout=3).close()
    except psycopg.Error as exc:
        reason = f"PostgreSQL at RECONCILER_TEST_PG_DSN is unreachable: {type(exc).__name__}"
        if os.environ.get("RECONCILER_REQUIRE_POSTGRES"):
            pytest.fail(reason + " (and RECONCILER_REQUIRE_POSTGRES is set)")
        pytest.skip(reason)
    return dsn


def with_password(dsn: str, password: str) -> str:
    """``dsn`` carrying ``password`` unless it already has one (trust auth ignores it)."""
    parts = urlsplit(dsn)
    if parts.password or "://" not in dsn:
        return dsn
    user = parts.username or "postgres"
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, f"{user}:{password}@{host}", parts.path, parts.query, ""))


def password_of(dsn: str) -> str | None:
    return urlsplit(dsn).password if "://" in dsn else None


def unique_schema() -> str:
    return f"rt_{uuid.uuid4().hex[:16]}"


def drop_schema(dsn: str, schema: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def as_user(dsn: str, user: str) -> str:
    """``dsn`` logging in as ``user`` (no password: the test server trusts loopback)."""
    parts = urlsplit(dsn)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, f"{user}@{host}", parts.path, parts.query, ""))
