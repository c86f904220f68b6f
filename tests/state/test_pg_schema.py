"""Schema versions of the PostgreSQL tables: 0.1.0's are upgraded in place, newer refused."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from pydantic import SecretStr

from reconciler.errors import StateError
from reconciler.models import PostgresBackendConfig, StateDocument, StateResource
from reconciler.state import new_state
from reconciler.state.locking import new_lock_info
from reconciler.state.pg_schema import SCHEMA_VERSION
from reconciler.state.postgres import PostgresBackend
from tests.fixtures import pgutil

# The DDL reconciler 0.1.0 ran, verbatim: these tables exist in the field.
DDL_0_1_0 = [
    'CREATE SCHEMA IF NOT EXISTS "{schema}"',
    'CREATE TABLE IF NOT EXISTS "{schema}"."states" ('
    " workspace text PRIMARY KEY,"
    " lineage text NOT NULL,"
    " serial bigint NOT NULL CHECK (serial > 0),"
    " document jsonb NOT NULL,"
    " updated_at timestamptz NOT NULL DEFAULT now())",
    'CREATE TABLE IF NOT EXISTS "{schema}"."locks" ('
    " workspace text PRIMARY KEY,"
    " lock_id text NOT NULL,"
    " info jsonb NOT NULL,"
    " session_pid integer NOT NULL,"
    " locked_at timestamptz NOT NULL DEFAULT now())",
]

DOCUMENT = StateDocument(
    lineage=str(uuid.uuid4()),
    serial=7,
    resources=(
        StateResource(
            region="cn-hangzhou",
            instance_id="post-cn-test0001",
            group_id="GID_orders",
            topic="orders",
            protect=True,
            recorded_at="2026-01-02T03:04:05Z",
        ),
    ),
)


@pytest.fixture
def pg() -> Iterator[tuple[str, str]]:
    dsn = pgutil.pg_dsn()
    schema = pgutil.unique_schema()
    yield dsn, schema
    pgutil.drop_schema(dsn, schema)


def _config(dsn: str, schema: str) -> PostgresBackendConfig:
    return PostgresBackendConfig(dsn=SecretStr(dsn), schema=schema, workspace="ci")


def _tables_of_0_1_0(dsn: str, schema: str) -> None:
    """0.1.0's tables holding a state written by it."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        for statement in DDL_0_1_0:
            conn.execute(statement.format(schema=schema))
        conn.execute(
            f'INSERT INTO "{schema}".states (workspace, lineage, serial, document, updated_at)'
            " VALUES ('ci', %s, %s, %s::jsonb, '2026-01-02T03:04:05Z')",
            (DOCUMENT.lineage, DOCUMENT.serial, json.dumps(_as_format_1(DOCUMENT))),
        )


def _as_format_1(document: StateDocument) -> dict[str, object]:
    """``document`` as 0.1.0 stored it: format 1, no kinds."""
    stored = document.model_dump(mode="json")
    stored["format_version"] = 1
    for resource in stored["resources"]:
        del resource["kind"]
    return stored


def _version_rows(dsn: str, schema: str) -> list[tuple[object, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(f'SELECT version FROM "{schema}".schema_version').fetchall()


def test_new_tables_record_the_current_version(pg: tuple[str, str]) -> None:
    dsn, schema = pg
    PostgresBackend(_config(dsn, schema)).close()
    assert _version_rows(dsn, schema) == [(SCHEMA_VERSION,)]


def test_tables_made_by_0_1_0_are_upgraded_in_place_keeping_their_data(
    pg: tuple[str, str],
) -> None:
    dsn, schema = pg
    _tables_of_0_1_0(dsn, schema)
    with PostgresBackend(_config(dsn, schema)) as backend:
        assert backend.read() == DOCUMENT
        written = backend.write(DOCUMENT, expected_serial=DOCUMENT.serial)
        assert written.serial == DOCUMENT.serial + 1
    assert _version_rows(dsn, schema) == [(SCHEMA_VERSION,)]
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            f'SELECT workspace, lineage, document FROM "{schema}".states'
        ).fetchall()
    assert [(workspace, lineage) for workspace, lineage, _ in rows] == [("ci", DOCUMENT.lineage)]
    assert StateDocument.model_validate(rows[0][2]) == written
    # opened again, nothing is upgraded twice
    PostgresBackend(_config(dsn, schema)).close()
    assert _version_rows(dsn, schema) == [(SCHEMA_VERSION,)]


def test_racing_processes_upgrade_0_1_0_tables_once(pg: tuple[str, str]) -> None:
    dsn, schema = pg
    _tables_of_0_1_0(dsn, schema)
    errors: list[BaseException] = []
    opened: list[PostgresBackend] = []
    start = threading.Barrier(4)

    def open_one() -> None:
        start.wait()
        try:
            opened.append(PostgresBackend(_config(dsn, schema)))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for backend in opened:
        backend.close()
    assert errors == []
    assert _version_rows(dsn, schema) == [(SCHEMA_VERSION,)]


def test_a_newer_schema_is_refused_in_one_line(pg: tuple[str, str]) -> None:
    dsn, schema = pg
    PostgresBackend(_config(dsn, schema)).close()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'UPDATE "{schema}".schema_version SET version = %s', (SCHEMA_VERSION + 1,))
    with pytest.raises(StateError) as caught:
        PostgresBackend(_config(dsn, schema))
    assert str(caught.value) == (
        f"the state tables in schema {schema} are at schema version {SCHEMA_VERSION + 1}, "
        f"newer than this reconciler knows ({SCHEMA_VERSION}): use a newer reconciler"
    )
    assert _version_rows(dsn, schema) == [(SCHEMA_VERSION + 1,)]


def test_a_role_that_may_not_create_tables_cannot_upgrade_and_says_so(
    pg: tuple[str, str],
) -> None:
    dsn, schema = pg
    _tables_of_0_1_0(dsn, schema)
    role = f"rt_role_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN")
        conn.execute(f'GRANT USAGE ON SCHEMA "{schema}" TO {role}')
        conn.execute(
            f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "{schema}" TO {role}'
        )
    try:
        with pytest.raises(StateError) as caught:
            PostgresBackend(_config(pgutil.as_user(dsn, role), schema))
        message = str(caught.value)
        assert message.startswith(
            f"cannot upgrade the state tables in schema {schema} from version 1 to "
            f"{SCHEMA_VERSION} "
        )
        assert "permission denied" in message
        with psycopg.connect(dsn) as conn:
            kept = conn.execute(f'SELECT document FROM "{schema}".states').fetchall()
        assert kept[0][0] == _as_format_1(DOCUMENT)  # as 0.1.0 wrote it
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'REVOKE ALL ON ALL TABLES IN SCHEMA "{schema}" FROM {role}')
            conn.execute(f'REVOKE ALL ON SCHEMA "{schema}" FROM {role}')
            conn.execute(f"DROP ROLE {role}")


# --- least privilege: a role given only what it needs ---------------------------------------


@pytest.fixture
def role(pg: tuple[str, str]) -> Iterator[str]:
    """A fresh login role with no rights at all; dropped (with what it owns) afterwards."""
    dsn, _ = pg
    name = f"rt_role_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {name} LOGIN")
    try:
        yield name
    finally:
        pgutil.drop_schema(dsn, pg[1])
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"DROP OWNED BY {name}")
            conn.execute(f"DROP ROLE {name}")


def _as(dsn: str, role: str, schema: str) -> PostgresBackend:
    return PostgresBackend(_config(pgutil.as_user(dsn, role), schema))


def _database(dsn: str) -> str:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT current_database()").fetchone()
    assert row is not None
    return str(row[0])


def test_a_role_with_create_on_a_premade_schema_only_creates_the_tables_and_works(
    pg: tuple[str, str], role: str
) -> None:
    # Before: CREATE SCHEMA IF NOT EXISTS ran always, and failed "permission denied for
    # database" although the schema was there.
    dsn, schema = pg
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
        conn.execute(f'GRANT USAGE, CREATE ON SCHEMA "{schema}" TO {role}')
    with _as(dsn, role, schema) as backend:
        assert backend.write(new_state(), expected_serial=0).serial == 1
        info = new_lock_info("apply")
        backend.lock(info)
        backend.unlock(info.id)
    assert _version_rows(dsn, schema) == [(SCHEMA_VERSION,)]


def test_a_role_without_rights_on_the_premade_schema_is_told_the_grant(
    pg: tuple[str, str], role: str
) -> None:
    dsn, schema = pg
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    with pytest.raises(StateError) as caught:
        _as(dsn, role, schema)
    message = str(caught.value)
    assert "permission denied" in message
    assert message.endswith(f"; needs: GRANT USAGE, CREATE ON SCHEMA {schema} TO {role}")
    assert "\n" not in message


def test_a_role_that_may_not_create_the_missing_schema_is_told_the_grant(
    pg: tuple[str, str], role: str
) -> None:
    dsn, schema = pg
    with pytest.raises(StateError) as caught:
        _as(dsn, role, schema)
    message = str(caught.value)
    database = _database(dsn)
    assert message.startswith(f"cannot create the state tables in schema {schema} ")
    assert message.endswith(
        f"; needs: GRANT CREATE ON DATABASE {database} TO {role} "
        f"(or an administrator's CREATE SCHEMA {schema} AUTHORIZATION {role})"
    )


def test_a_role_that_may_not_use_existing_tables_is_told_the_grant(
    pg: tuple[str, str], role: str
) -> None:
    dsn, schema = pg
    PostgresBackend(_config(dsn, schema)).close()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'GRANT USAGE ON SCHEMA "{schema}" TO {role}')
        conn.execute(f'GRANT SELECT ON ALL TABLES IN SCHEMA "{schema}" TO {role}')
    with _as(dsn, role, schema) as backend, pytest.raises(StateError) as caught:
        backend.write(new_state(), expected_serial=0)
    assert str(caught.value).endswith(
        f"; needs: GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {role}"
    )
