"""State format 2 records each resource's kind. A state written by reconciler 0.1.0 (format 1,
no kinds: the files in ``tests/fixtures/v0_1_0`` are what it wrote) reads as GIDs and is
upgraded in place by the first write, also when writers race; a newer format is refused."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from pydantic import SecretStr

from reconciler.errors import StateConflictError, StateError
from reconciler.models import (
    STATE_FORMAT_VERSION,
    LocalBackendConfig,
    PostgresBackendConfig,
    StateDocument,
    StateResource,
)
from reconciler.state import open_backend
from reconciler.state.base import StateBackend
from reconciler.state.changes import StateChanges
from tests.fixtures import pgutil
from tests.fixtures.backends import BackendKit

FIXTURES = Path(__file__).parents[1] / "fixtures" / "v0_1_0"
# The schema name pg_dump wrote into the fixture; each test loads it into a schema of its own.
FIXTURE_SCHEMA = "fixture_r010"
GIDS_OF_0_1_0 = ["GID_billing", "GID_orders", "GID_telemetry"]


def _document_of_0_1_0() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURES / "state.json").read_text(encoding="utf-8"))
    return loaded


def _stored_document(kit: BackendKit) -> dict[str, Any]:
    """The document as stored, not as this reconciler reads it."""
    if isinstance(kit.config, LocalBackendConfig):
        text = (kit.base_dir / kit.config.path).read_text(encoding="utf-8")
        stored: dict[str, Any] = json.loads(text)
        return stored
    rows = kit.sql("SELECT document FROM {}.states WHERE workspace = %s", (kit.config.workspace,))
    document: dict[str, Any] = rows[0][0]
    return document


def test_the_fixture_is_format_1_without_kinds() -> None:
    document = _document_of_0_1_0()
    assert document["format_version"] == 1
    assert all("kind" not in resource for resource in document["resources"])


def test_a_0_1_0_state_reads_as_gids_and_the_read_changes_nothing(kit: BackendKit) -> None:
    kit.plant(_document_of_0_1_0())
    before = _stored_document(kit)
    state = kit.open().read()
    assert state is not None
    assert state.format_version == STATE_FORMAT_VERSION == 2
    assert [(r.kind, r.group_id) for r in state.resources] == [
        ("gid", gid) for gid in GIDS_OF_0_1_0
    ]
    orders = state.resources[1]
    assert (orders.topic, orders.protect, orders.origin) == ("orders", True, "created")
    assert _stored_document(kit) == before


def test_the_first_write_upgrades_a_0_1_0_state_in_place(kit: BackendKit) -> None:
    original = _document_of_0_1_0()
    kit.plant(original)
    backend = kit.open()
    state = backend.read()
    assert state is not None
    written = backend.write(state, expected_serial=state.serial)
    stored = _stored_document(kit)
    assert stored["format_version"] == 2
    assert stored["lineage"] == original["lineage"]
    assert stored["serial"] == original["serial"] + 1 == written.serial
    for old, new in zip(original["resources"], stored["resources"], strict=True):
        assert new["kind"] == "gid"
        assert {name: new[name] for name in old} == old
    again = kit.open().read()
    assert again == written


def test_the_first_append_upgrades_a_0_1_0_state_in_place_whole(kit: BackendKit) -> None:
    original = _document_of_0_1_0()
    kit.plant(original)
    backend = kit.open()
    state = backend.read()
    assert state is not None
    added = StateResource(region="cn-hangzhou", instance_id="post-cn-x", group_id="GID_added")
    serial = backend.append(StateChanges(state.lineage, put=(added,)), expected_serial=state.serial)
    stored = _stored_document(kit)
    assert stored["format_version"] == 2
    assert stored["serial"] == original["serial"] + 1 == serial
    assert "GID_added" in [r["group_id"] for r in stored["resources"]]
    again = kit.open().read()
    assert again is not None and again.serial == serial


def test_racing_writers_upgrade_a_0_1_0_state_once(kit: BackendKit) -> None:
    kit.plant(_document_of_0_1_0())
    writers = [kit.open() for _ in range(4)]
    base = writers[0].read()
    assert base is not None
    start = threading.Barrier(len(writers))
    won: list[str] = []
    lost: list[StateConflictError] = []

    def write(index: int, backend: StateBackend) -> None:
        mine = StateResource(
            region="cn-hangzhou", instance_id="post-cn-quickstart1", group_id=f"GID_w{index}"
        )
        doc = base.with_resource(mine)
        start.wait()
        try:
            backend.write(doc, expected_serial=base.serial)
            won.append(mine.group_id)
        except StateConflictError as exc:
            lost.append(exc)

    threads = [
        threading.Thread(target=write, args=(i, backend)) for i, backend in enumerate(writers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1 and len(lost) == len(writers) - 1
    stored = _stored_document(kit)
    assert stored["format_version"] == 2
    assert [r["group_id"] for r in stored["resources"]] == sorted([*GIDS_OF_0_1_0, *won])
    assert {r["kind"] for r in stored["resources"]} == {"gid"}


def test_a_newer_format_is_refused_and_never_overwritten(kit: BackendKit) -> None:
    document = _document_of_0_1_0() | {"format_version": 3}
    kit.plant(document)
    backend = kit.open()
    with pytest.raises(StateError) as caught:
        backend.read()
    message = str(caught.value)
    assert "format version 3" in message and "newer reconciler" in message
    assert "\n" not in message
    stale = _document_of_0_1_0() | {"format_version": 2, "resources": []}
    with pytest.raises(StateError, match="format version 3"):
        backend.write(StateDocument.model_validate(stale), expected_serial=document["serial"])
    assert _stored_document(kit)["format_version"] == 3


def test_format_2_requires_each_resources_kind(kit: BackendKit) -> None:
    document = _document_of_0_1_0() | {"format_version": 2}
    kit.plant(document)
    with pytest.raises(StateError) as caught:
        kit.open().read()
    assert str(caught.value).endswith(
        "is corrupt: resources[0] (post-cn-quickstart1/GID_billing): kind: Field required"
    )


def test_an_unknown_kind_is_refused_naming_the_resource(kit: BackendKit) -> None:
    document = _document_of_0_1_0() | {"format_version": 2}
    document["resources"] = [{"kind": "gid", **r} for r in document["resources"]]
    document["resources"][2]["kind"] = "acl"
    kit.plant(document)
    with pytest.raises(StateError) as caught:
        kit.open().read()
    message = str(caught.value)
    assert "resources[2] (post-cn-quickstart1/GID_telemetry): kind:" in message
    assert '"acl"' in message


# --- PostgreSQL tables as 0.1.0 made and filled them ---------------------------------------


@pytest.fixture
def tables_of_0_1_0() -> Iterator[PostgresBackendConfig]:
    """0.1.0's own tables and row (its pg_dump) in a schema of their own."""
    dsn = pgutil.pg_dsn()
    schema = pgutil.unique_schema()
    dump = (FIXTURES / "postgres.sql").read_text(encoding="utf-8")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(dump.replace(FIXTURE_SCHEMA, schema).encode())
    try:
        yield PostgresBackendConfig(dsn=SecretStr(dsn), schema=schema, workspace="ci")
    finally:
        pgutil.drop_schema(dsn, schema)


def _row(config: PostgresBackendConfig) -> tuple[Any, ...]:
    with psycopg.connect(config.dsn.get_secret_value()) as conn:
        row = conn.execute(
            f'SELECT lineage, serial, document FROM "{config.db_schema}".states'
        ).fetchone()
    assert row is not None
    return tuple(row)


def test_postgres_tables_of_0_1_0_are_upgraded_by_the_first_write(
    tables_of_0_1_0: PostgresBackendConfig, tmp_path: Path
) -> None:
    lineage, serial, before = _row(tables_of_0_1_0)
    assert before["format_version"] == 1
    with open_backend(tables_of_0_1_0, base_dir=tmp_path) as backend:
        state = backend.read()
        assert state is not None
        assert [r.kind for r in state.resources] == ["gid"] * 3
        assert _row(tables_of_0_1_0)[2] == before  # reading upgrades nothing
        backend.write(state, expected_serial=serial)
    new_lineage, new_serial, after = _row(tables_of_0_1_0)
    assert (new_lineage, new_serial) == (lineage, serial + 1)
    assert after["format_version"] == 2
    assert [(r["kind"], r["group_id"]) for r in after["resources"]] == [
        ("gid", gid) for gid in GIDS_OF_0_1_0
    ]
    assert [r["protect"] for r in after["resources"]] == [False, True, False]
