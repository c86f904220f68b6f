"""The access kinds' state on both backends (local file, PostgreSQL): applied identities keep a
salted digest of their secret, permissions and blacklist entries their values; an update
amends one resource (attribute and digest merged in, the rest kept); read back by a fresh
backend, the state plans no changes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import SecretStr

from reconciler.models import (
    BackendConfig,
    LocalBackendConfig,
    PostgresBackendConfig,
    StateDocument,
    StateResource,
    named,
    write_only_matches,
)
from reconciler.state import open_backend
from tests.fixtures import pgutil
from tests.fixtures.access import listed_access, with_telemetry, write_access
from tests.fixtures.emulator import TEST_INSTANCE_ID, RunningEmulator
from tests.fixtures.runs import run_cli

FIRST_SECRET = "sensor-secret-first-9Kq"
ROTATED_SECRET = "sensor-secret-rotated-4Zw"
RULES = """
identities:
  - {username: sensors, secret: "${SENSORS_SECRET}", sign_mode: MODE}
permissions:
  - {user: sensors, topic: telemetry/#, effect: allow, action: pub}
  - {user: sensors, topic: telemetry/+/config, effect: deny, action: sub}
blacklist: [stolen-0042]
"""
IDENTITY = "identity:user:sensors"
GRANT = "permission:user:sensors/telemetry/#"
DENIAL = "permission:user:sensors/telemetry/+/config"
BANNED = "blacklist:stolen-0042"


@dataclass(frozen=True)
class StateAt:
    """Where the desired file keeps its state: its ``backend:`` block and the same backend's
    configuration, to read the state back independently of the CLI."""

    block: str
    config: BackendConfig

    def read(self) -> StateDocument:
        with open_backend(self.config, base_dir=Path.cwd()) as backend:
            document = backend.read()
        assert document is not None
        return document


@pytest.fixture(params=["local", pytest.param("postgres", marks=pytest.mark.postgres)])
def state_at(
    request: pytest.FixtureRequest, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[StateAt]:
    if request.param == "local":
        path = "state/access.json"
        yield StateAt(f"backend:\n  local:\n    path: {path}\n", LocalBackendConfig(path=path))
        return
    dsn = pgutil.pg_dsn()
    schema = pgutil.unique_schema()
    monkeypatch.setenv("ACCESS_TEST_PG_DSN", dsn)
    block = (
        "backend:\n  postgres:\n    dsn: ${ACCESS_TEST_PG_DSN}\n"
        f"    schema: {schema}\n    workspace: access\n"
    )
    try:
        yield StateAt(
            block, PostgresBackendConfig(dsn=SecretStr(dsn), schema=schema, workspace="access")
        )
    finally:
        pgutil.drop_schema(dsn, schema)


def by_key(document: StateDocument) -> dict[str, StateResource]:
    return {resource.group_id: resource for resource in document.resources}


def run(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    result = run_cli(capsys, *args)
    assert result.code == 0, result.out + result.err
    return result.out + result.err


def test_access_state_round_trips_and_amends_on_both_backends(
    state_at: StateAt,
    emulator: RunningEmulator,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with_telemetry(emulator)
    monkeypatch.setenv("SENSORS_SECRET", FIRST_SECRET)
    write_access(RULES.replace("MODE", "signed"), backend=state_at.block)
    assert "Apply complete: 4 created." in run(capsys, "apply", "desired.yaml", "--auto-approve")

    first = by_key(state_at.read())
    assert set(first) == {IDENTITY, GRANT, DENIAL, BANNED}
    assert {resource.kind for resource in first.values()} == {
        "identity",
        "permission",
        "blacklist",
    }
    identity = first[IDENTITY]
    assert named(identity.attributes) == {"sign_mode": "signed"}
    assert write_only_matches(FIRST_SECRET, named(identity.digests)["secret"])
    assert named(first[GRANT].attributes) == {"effect": "allow", "permit_action": "pub"}
    assert named(first[DENIAL].attributes) == {"effect": "deny", "permit_action": "sub"}
    assert "No changes." in run(capsys, "plan", "desired.yaml")

    # One identity updated: sign mode and secret in one call, amended in the state.
    monkeypatch.setenv("SENSORS_SECRET", ROTATED_SECRET)
    write_access(RULES.replace("MODE", "origin"), backend=state_at.block)
    shown = run(capsys, "apply", "desired.yaml", "--auto-approve")
    assert "Apply complete: 1 updated." in shown
    assert FIRST_SECRET not in shown and ROTATED_SECRET not in shown

    second = by_key(state_at.read())
    amended = second[IDENTITY]
    assert named(amended.attributes) == {"sign_mode": "origin"}
    assert write_only_matches(ROTATED_SECRET, named(amended.digests)["secret"])
    assert not write_only_matches(FIRST_SECRET, named(amended.digests)["secret"])
    assert (amended.origin, amended.api) == (identity.origin, "onsmqtt")
    # Nothing else moved.
    assert {key: second[key] for key in (GRANT, DENIAL, BANNED)} == {
        key: first[key] for key in (GRANT, DENIAL, BANNED)
    }
    (listed,) = listed_access(emulator).identities
    assert listed.sign_mode == "origin"
    record = emulator.store.login_identity(TEST_INSTANCE_ID, "sensors", "any-client")
    assert record is not None and (record.secret, record.sign_mode) == (ROTATED_SECRET, "ORIGIN")

    again = run_cli(capsys, "plan", "desired.yaml", "--detailed-exitcode")
    assert again.code == 0, again.out + again.err
    assert "No changes." in again.out
