from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import psycopg.sql
import pytest
from pydantic import SecretStr

from reconciler.models import LocalBackendConfig, PostgresBackendConfig
from reconciler.state import open_backend
from reconciler.state.base import StateBackend
from tests.state import pgutil


@dataclass
class BackendKit:
    """Opens backend instances that all share one fresh state (and lock)."""

    kind: str
    config: LocalBackendConfig | PostgresBackendConfig
    base_dir: Path
    secret: str | None = None
    opened: list[StateBackend] = field(default_factory=list)

    def open(self) -> StateBackend:
        backend = open_backend(self.config, base_dir=self.base_dir)
        self.opened.append(backend)
        return backend

    def abandon(self, backend: StateBackend, lock_id: str) -> None:
        """Drop a held lock the way a killed process does: no unlock, the info left behind.
        (The real kill -9 is in test_lock_processes.py.)"""
        handle = backend._held.pop(lock_id)  # type: ignore[attr-defined]
        if isinstance(handle, int):
            os.close(handle)  # local: the flock goes with the descriptor
        else:
            handle.close()  # postgres: the advisory lock goes with the session

    def plant(self, document: dict[str, Any]) -> None:
        """Store ``document`` as it is, the way a hand edit (or an attacker) would: the local
        file's text, or the PostgreSQL row with its lineage and serial columns taken from it."""
        if isinstance(self.config, LocalBackendConfig):
            path = self.base_dir / self.config.path
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(document, indent=2), encoding="utf-8")
            return
        self.open().close()  # the tables exist
        self.sql(
            "INSERT INTO {}.states (workspace, lineage, serial, document)"
            " VALUES (%s, %s, %s, %s::jsonb) ON CONFLICT (workspace) DO UPDATE SET"
            " lineage = EXCLUDED.lineage, serial = EXCLUDED.serial, document = EXCLUDED.document",
            (
                self.config.workspace,
                document["lineage"],
                document["serial"],
                json.dumps(document),
            ),
        )

    def sql(self, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Run ``statement`` (``{}`` is the schema) on the PostgreSQL kit's server."""
        assert isinstance(self.config, PostgresBackendConfig)
        query = psycopg.sql.SQL(statement).format(psycopg.sql.Identifier(self.config.db_schema))
        with psycopg.connect(self.config.dsn.get_secret_value(), autocommit=True) as conn:
            cursor = conn.execute(query, params)
            return cursor.fetchall() if cursor.description else []

    def close_all(self) -> None:
        for backend in self.opened:
            backend.close()


@pytest.fixture(params=["local", "postgres"])
def kit(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BackendKit]:
    if request.param == "local":
        made = BackendKit("local", LocalBackendConfig(), tmp_path)
        yield made
        made.close_all()
        return
    dsn = pgutil.pg_dsn()
    secret_dsn = pgutil.with_password(dsn, "pw-" + os.urandom(6).hex())
    schema = pgutil.unique_schema()
    config = PostgresBackendConfig(dsn=SecretStr(secret_dsn), schema=schema, workspace="ci")
    made = BackendKit("postgres", config, tmp_path, secret=pgutil.password_of(secret_dsn))
    try:
        yield made
    finally:
        made.close_all()
        pgutil.drop_schema(dsn, schema)


@pytest.fixture
def backend(kit: BackendKit) -> StateBackend:
    return kit.open()


Opener = Callable[[], StateBackend]
