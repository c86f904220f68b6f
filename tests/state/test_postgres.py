"""PostgreSQL backend specifics: table creation races, breaking a live lock (DSNs: test_dsn.py)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from pydantic import SecretStr

from reconciler.errors import LockError, LockLostError, StateError
from reconciler.models import PostgresBackendConfig, StateResource
from reconciler.state import new_state
from reconciler.state.changes import StateChanges
from reconciler.state.locking import new_lock_info
from reconciler.state.postgres import PostgresBackend, advisory_key
from tests.fixtures import pgutil


def test_advisory_key_is_stable_and_fits_bigint() -> None:
    key = advisory_key("lock", "reconciler", "default")
    assert key == advisory_key("lock", "reconciler", "default")
    assert key != advisory_key("lock", "reconciler", "prod")
    assert -(2**63) <= key < 2**63


@pytest.fixture
def pg() -> Iterator[tuple[str, str]]:
    dsn = pgutil.pg_dsn()
    schema = pgutil.unique_schema()
    yield dsn, schema
    pgutil.drop_schema(dsn, schema)


def _config(dsn: str, schema: str, workspace: str = "default") -> PostgresBackendConfig:
    return PostgresBackendConfig(dsn=SecretStr(dsn), schema=schema, workspace=workspace)


def test_unreachable_server_error_never_shows_the_password() -> None:
    dsn = "postgresql://someone:Sup3rSecretPw@127.0.0.1:1/nowhere"
    with pytest.raises(StateError, match="cannot connect to PostgreSQL") as caught:
        PostgresBackend(_config(dsn, "s"))
    assert "Sup3rSecretPw" not in str(caught.value)
    assert "(host=127.0.0.1 port=1 dbname=nowhere user=someone)" in str(caught.value)


def test_connection_refused_is_one_line() -> None:
    with pytest.raises(StateError) as caught:
        PostgresBackend(_config("postgresql://127.0.0.1:1/test", "s"))
    message = str(caught.value)
    assert "Is the server running" in message  # psycopg's hint, joined onto the same line
    assert "\n" not in message
    assert "\t" not in message
    assert "  " not in message


def test_bad_dsn_error_never_shows_the_password() -> None:
    dsn = "postgresql://someone:Sup3rSecretPw@127.0.0.1:1/x?bogus_option=Sup3rSecretPw"
    with pytest.raises(StateError) as caught:
        PostgresBackend(_config(dsn, "s"))
    assert "Sup3rSecretPw" not in str(caught.value)


def test_racing_processes_create_the_tables_once(pg: tuple[str, str]) -> None:
    dsn, schema = pg
    errors: list[BaseException] = []
    opened: list[PostgresBackend] = []
    start = threading.Barrier(6)

    def open_one() -> None:
        start.wait()
        try:
            opened.append(PostgresBackend(_config(dsn, schema)))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert opened[0].write(new_state(), expected_serial=0).serial == 1
    for backend in opened:
        backend.close()


def test_workspaces_in_one_schema_are_independent(pg: tuple[str, str]) -> None:
    dsn, schema = pg
    with (
        PostgresBackend(_config(dsn, schema, "staging")) as staging,
        PostgresBackend(_config(dsn, schema, "prod")) as prod,
    ):
        staging.write(new_state(), expected_serial=0)
        assert prod.read() is None
        info = new_lock_info("apply")
        staging.lock(info)
        other = new_lock_info("apply")
        prod.lock(other)  # not blocked by staging's lock
        prod.unlock(other.id)
        staging.unlock(info.id)


def test_force_unlock_terminates_a_live_holders_session(pg: tuple[str, str]) -> None:
    dsn, schema = pg
    holder = PostgresBackend(_config(dsn, schema))
    operator = PostgresBackend(_config(dsn, schema))
    info = new_lock_info("apply")
    holder.lock(info)
    operator.force_unlock(info.id)
    assert operator.lock_holder() is None
    fresh = new_lock_info("apply")
    operator.lock(fresh)
    # the evicted holder learns its lock is gone instead of silently "releasing" the new one
    with pytest.raises(LockError, match="was lost"):
        holder.unlock(info.id)
    current = operator.lock_holder()
    assert current is not None
    assert current.id == fresh.id
    operator.unlock(fresh.id)
    holder.close()
    operator.close()


def test_corrupt_document_is_an_error(pg: tuple[str, str]) -> None:
    dsn, schema = pg
    with PostgresBackend(_config(dsn, schema)) as backend:
        backend.write(new_state(), expected_serial=0)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'UPDATE "{schema}".states SET document = \'{{"serial": 1}}\'')
        with pytest.raises(StateError, match="corrupt"):
            backend.read()


@pytest.fixture
def limited_role(pg: tuple[str, str]) -> Iterator[str]:
    """A login role that may use the state tables but create nothing, as CI runners often are."""
    dsn, schema = pg
    PostgresBackend(_config(dsn, schema)).close()
    role = f"rt_role_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN")
        conn.execute(f'GRANT USAGE ON SCHEMA "{schema}" TO {role}')
        conn.execute(
            f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "{schema}" TO {role}'
        )
    try:
        yield pgutil.as_user(dsn, role)
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'REVOKE ALL ON ALL TABLES IN SCHEMA "{schema}" FROM {role}')
            conn.execute(f'REVOKE ALL ON SCHEMA "{schema}" FROM {role}')
            conn.execute(f"DROP ROLE {role}")


def test_a_role_without_create_rights_uses_existing_tables(
    pg: tuple[str, str], limited_role: str
) -> None:
    _, schema = pg
    with PostgresBackend(_config(limited_role, schema)) as backend:
        assert backend.write(new_state(), expected_serial=0).serial == 1
        info = new_lock_info("apply")
        backend.lock(info)
        backend.unlock(info.id)


def test_force_unlock_without_the_right_to_terminate_says_so(
    pg: tuple[str, str], limited_role: str
) -> None:
    dsn, schema = pg
    with (
        PostgresBackend(_config(dsn, schema)) as holder,
        PostgresBackend(_config(limited_role, schema)) as operator,
    ):
        info = new_lock_info("apply")
        holder.lock(info)
        with pytest.raises(LockError, match="cannot terminate the PostgreSQL session"):
            operator.force_unlock(info.id)
        still = operator.lock_holder()
        assert still is not None
        assert still.id == info.id
        holder.unlock(info.id)


@pytest.mark.parametrize(
    ("edit", "said"),
    [
        # An older document restored by hand: the serial column is ahead of it.
        ("jsonb_set(document, '{serial}', '1')", "serial 1 but the row's serial column is 2"),
        ("jsonb_set(document, '{lineage}', '\"other\"')", "lineage 'other'"),
    ],
)
def test_a_document_disagreeing_with_its_row_is_refused_with_a_repair_that_works(
    pg: tuple[str, str], edit: str, said: str
) -> None:
    # Before: plan read the document and saw nothing wrong, and every apply made its cloud
    # change, then failed its compare-and-swap ("run the apply again"), forever.
    dsn, schema = pg
    resource = StateResource(region="cn-hangzhou", instance_id="post-cn-1", group_id="GID_kept")
    with PostgresBackend(_config(dsn, schema)) as backend:
        first = backend.write(new_state(), expected_serial=0)
        backend.write(first.with_resource(resource), expected_serial=first.serial)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'UPDATE "{schema}".states SET document = {edit}')
        with pytest.raises(StateError, match="is inconsistent") as caught:
            backend.read()
        message = str(caught.value)
        assert said in message
        assert "\n" not in message
        repair = message.partition("repair it with: ")[2]
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(repair.encode())
        repaired = backend.read()
        assert repaired is not None
        assert repaired.serial == 3  # above both, so a plan saved from either is stale
        assert repaired.resources == (resource,)
        again = backend.write(repaired, expected_serial=repaired.serial)
        assert again.serial == 4


def test_a_force_unlocked_holder_notices_before_its_next_step_and_writes_nothing(
    pg: tuple[str, str],
) -> None:
    dsn, schema = pg
    resource = StateResource(region="cn-hangzhou", instance_id="post-cn-1", group_id="GID_late")
    with (
        PostgresBackend(_config(dsn, schema)) as holder,
        PostgresBackend(_config(dsn, schema)) as operator,
    ):
        doc = holder.write(new_state(), expected_serial=0)
        info = new_lock_info("apply")
        holder.lock(info)
        holder.check_lock(info.id)  # held: nothing to say
        operator.force_unlock(info.id)
        with pytest.raises(LockLostError, match=f"the state lock {info.id} was lost"):
            holder.check_lock(info.id)
        # A write after the loss, while another run may hold the lock now, is refused.
        with pytest.raises(LockLostError):
            holder.write(doc.with_resource(resource), expected_serial=doc.serial)
        assert operator.read() == doc


def test_a_write_racing_a_force_unlock_fails_without_a_check_first(pg: tuple[str, str]) -> None:
    # The write itself goes through the lock's session: no window between a check and it.
    dsn, schema = pg
    resource = StateResource(region="cn-hangzhou", instance_id="post-cn-1", group_id="GID_late")
    with (
        PostgresBackend(_config(dsn, schema)) as holder,
        PostgresBackend(_config(dsn, schema)) as operator,
    ):
        doc = holder.write(new_state(), expected_serial=0)
        info = new_lock_info("apply")
        holder.lock(info)
        operator.force_unlock(info.id)
        with pytest.raises(LockLostError):
            holder.write(doc.with_resource(resource), expected_serial=doc.serial)
        assert operator.read() == doc
        with pytest.raises(LockLostError, match="was lost"):
            holder.unlock(info.id)


def test_an_append_adds_one_journal_row_and_leaves_the_document_alone(
    pg: tuple[str, str],
) -> None:
    dsn, schema = pg
    backend = PostgresBackend(_config(dsn, schema))
    doc = new_state()
    for n in range(200):
        doc = doc.with_resource(
            StateResource(region="cn-hangzhou", instance_id="post-cn-x", group_id=f"GID_n{n:03d}")
        )
    base = backend.write(doc, expected_serial=0)
    fresh = StateResource(region="cn-hangzhou", instance_id="post-cn-x", group_id="GID_new")
    serial = backend.append(StateChanges(base.lineage, put=(fresh,)), expected_serial=1)
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            f"SELECT serial, document->>'serial' FROM \"{schema}\".states"
        ).fetchone()
        entries = conn.execute(f'SELECT serial, entry FROM "{schema}".journal').fetchall()
    assert row == (2, "1")  # the row's serial moved; its document was not rewritten
    assert [entry_serial for entry_serial, _ in entries] == [serial] == [2]
    stored = backend.read()
    assert stored is not None and len(stored.resources) == 201
    # A whole write folds the journal in and clears it.
    backend.write(stored, expected_serial=2)
    with psycopg.connect(dsn, autocommit=True) as conn:
        left = conn.execute(f'SELECT count(*) FROM "{schema}".journal').fetchone()
    assert left == (0,)
    backend.close()


@pytest.mark.parametrize(
    ("tampering", "problem"),
    [
        (('"protect":false', '"protect":"yes"'), "put[0]: protect: Input should be a valid bool"),
        (('"protect":false', '"protect":true,"protect":false'), "key 'protect' is given twice"),
        (('"drop":[]', '"drop":[],"owner":"me"'), "owner: unknown field"),
    ],
)
def test_a_tampered_journal_row_is_refused_naming_it(
    pg: tuple[str, str], tampering: tuple[str, str], problem: str
) -> None:
    dsn, schema = pg
    backend = PostgresBackend(_config(dsn, schema))
    base = backend.write(new_state(), expected_serial=0)
    vault = StateResource(region="cn-hangzhou", instance_id="post-cn-x", group_id="GID_vault")
    backend.append(StateChanges(base.lineage, put=(vault,)), expected_serial=1)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'UPDATE "{schema}".journal SET entry = replace(entry, %s, %s)', tampering)
    with pytest.raises(StateError) as refused:
        backend.read()
    message = str(refused.value)
    assert message.startswith(
        f"journal entry 2 of workspace default in {schema}.journal is corrupt: "
    )
    assert problem in message
    backend.close()
