from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from reconciler.models import LocalBackendConfig, PostgresBackendConfig
from reconciler.state.base import StateBackend
from tests.fixtures import pgutil
from tests.fixtures.backends import BackendKit


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
