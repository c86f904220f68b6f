"""The main apply path on the PostgreSQL backend: apply, re-apply, saved plan, workspaces."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from psycopg.conninfo import make_conninfo
from pydantic import SecretStr

from reconciler.models import PostgresBackendConfig
from reconciler.state.postgres import PostgresBackend
from tests.apply.helpers import state_group_ids, write_desired
from tests.fixtures.emulator import TEST_INSTANCE_ID, RunningEmulator
from tests.fixtures.runs import run_cli
from tests.state import pgutil

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_schema(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str]]:
    dsn = pgutil.pg_dsn()
    schema = pgutil.unique_schema()
    monkeypatch.setenv("APPLY_TEST_PG_DSN", dsn)
    try:
        yield dsn, schema
    finally:
        pgutil.drop_schema(dsn, schema)


def pg_backend_yaml(schema: str, workspace: str) -> str:
    return (
        "backend:\n  postgres:\n    dsn: ${APPLY_TEST_PG_DSN}\n"
        f"    schema: {schema}\n    workspace: {workspace}\n"
    )


def read_state(dsn: str, schema: str, workspace: str) -> PostgresBackend:
    return PostgresBackend(
        PostgresBackendConfig(dsn=SecretStr(dsn), schema=schema, workspace=workspace)
    )


def test_apply_on_postgres_converges_and_refuses_a_plan_of_another_workspace(
    workdir: Path,
    emulator: RunningEmulator,
    pg_schema: tuple[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    dsn, schema = pg_schema
    emulator.store.add_group(TEST_INSTANCE_ID, "GID_handmade")
    write_desired("GID_alpha", "GID_handmade", backend=pg_backend_yaml(schema, "ci"))

    first = run_cli(capsys, "apply", "desired.yaml", "--auto-approve")
    assert first.code == 0, first.err
    assert "Apply complete: 1 created, 1 adopted." in first.out
    with read_state(dsn, schema, "ci") as backend:
        assert state_group_ids(backend.read()) == {"GID_alpha", "GID_handmade"}
        assert backend.lock_holder() is None
    second = run_cli(capsys, "apply", "desired.yaml", "--auto-approve")
    assert second.out.strip().endswith("No changes.")

    # A reviewed plan applies on its own workspace...
    write_desired("GID_alpha", "GID_handmade", "GID_bravo", backend=pg_backend_yaml(schema, "ci"))
    assert run_cli(capsys, "plan", "desired.yaml", "-o", "plan.json").code == 0
    applied = run_cli(capsys, "apply", "plan.json")
    assert applied.code == 0, applied.err
    with read_state(dsn, schema, "ci") as backend:
        assert state_group_ids(backend.read()) == {"GID_alpha", "GID_handmade", "GID_bravo"}

    # ...but not when the file now points at another workspace.
    write_desired("GID_alpha", "GID_charlie", backend=pg_backend_yaml(schema, "ci"))
    assert run_cli(capsys, "plan", "desired.yaml", "-o", "plan.json").code == 0
    write_desired("GID_alpha", "GID_charlie", backend=pg_backend_yaml(schema, "prod"))
    refused = run_cli(capsys, "apply", "plan.json")
    assert refused.code == 1
    assert "the plan was made for workspace 'ci'" in refused.err
    assert "GID_charlie" not in set(emulator.store.group_ids(TEST_INSTANCE_ID))


def test_a_saved_plan_records_where_its_state_is_without_the_password(
    workdir: Path,
    emulator: RunningEmulator,
    pg_schema: tuple[str, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dsn, schema = pg_schema
    # Trust authentication ignores the password: it is here only to be kept out of the plan.
    monkeypatch.setenv("APPLY_TEST_PG_DSN", make_conninfo(dsn, password="hunter2-in-the-dsn"))
    write_desired("GID_alpha", backend=pg_backend_yaml(schema, "ci"))
    assert run_cli(capsys, "apply", "desired.yaml", "--auto-approve").code == 0
    write_desired("GID_alpha", "GID_bravo", backend=pg_backend_yaml(schema, "ci"))
    assert run_cli(capsys, "plan", "desired.yaml", "-o", "plan.json").code == 0
    text = Path("plan.json").read_text(encoding="utf-8")
    assert "hunter2" not in text
    recorded = json.loads(text)["state_backend"]
    assert recorded.startswith("postgres (") and f"schema={schema} workspace=ci" in recorded

    write_desired("GID_alpha", "GID_bravo", backend=pg_backend_yaml(schema, "empty"))
    refused = run_cli(capsys, "apply", "plan.json")
    assert refused.code == 1
    assert f"the plan was made on the state at {recorded}" in refused.err
    assert "hunter2" not in refused.err + refused.out
