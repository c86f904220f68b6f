"""The main apply path on the PostgreSQL backend: apply, re-apply, saved plan, workspaces."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import make_conninfo
from pydantic import SecretStr

from reconciler.models import PostgresBackendConfig
from reconciler.state.postgres import PostgresBackend
from tests.fixtures import pgutil
from tests.fixtures.apply_kit import state_group_ids, write_desired
from tests.fixtures.emulator import TEST_INSTANCE_ID, RunningEmulator
from tests.fixtures.emulator_store import group_ids
from tests.fixtures.runs import child_env, run_cli

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
    assert "GID_charlie" not in set(group_ids(emulator.store, TEST_INSTANCE_ID))


# One call a second, one at a time: the apply is still running when it is force-unlocked.
SLOW = ("--rate", "1/s", "--parallelism", "1")


def _done_section(report: str) -> set[str]:
    """The GIDs the report lists under "Done (...):"."""
    names: set[str] = set()
    inside = False
    for line in report.splitlines():
        if line.startswith("Done ("):
            inside = True
        elif inside and line.startswith("  "):
            names.add(line.split()[1].partition("/")[2])
        else:
            inside = False
    return names


def test_a_force_unlocked_apply_stops_at_once_and_reports_what_it_did(
    workdir: Path,
    emulator: RunningEmulator,
    pg_schema: tuple[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Before: the holder went on creating every GID while a second apply could run, and only
    # said "lock was lost" at the end, without its done/failed report.
    dsn, schema = pg_schema
    wanted = {f"GID_slow{index:02d}" for index in range(30)}
    write_desired(*sorted(wanted), backend=pg_backend_yaml(schema, "ci"))
    holder = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "apply", "desired.yaml", "--auto-approve", *SLOW],
        cwd=workdir,
        env=child_env(),
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert holder.stdout is not None
    seen = []
    for line in holder.stdout:  # wait for its first finished call
        seen.append(line)
        if "GID_slow" in line and line.startswith("+"):
            break
    with read_state(dsn, schema, "ci") as backend:
        lock = backend.lock_holder()
    assert lock is not None
    force_unlock = ("force-unlock", lock.id, "--force", "-c", "desired.yaml")
    unlock = subprocess.run(
        [sys.executable, "-m", "reconciler", *force_unlock],
        cwd=workdir,
        env=child_env(),
        text=True,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert unlock.returncode == 0, unlock.stderr
    rest, err = holder.communicate(timeout=120)
    out = "".join(seen) + rest

    assert holder.returncode == 1
    assert "Apply failed: " in out
    created = set(group_ids(emulator.store, TEST_INSTANCE_ID)) & wanted
    assert _done_section(out) == created  # every call it made is in its report...
    assert "Not attempted:" in out  # ...and it started no more
    assert len(created) < len(wanted)
    lost = [line for line in err.splitlines() if "lock" in line and "lost" in line]
    assert lost == [
        f"Error: the state lock {lock.id} was lost (force-unlocked, or its PostgreSQL session "
        "ended) and the apply stopped: "
        f"{len(created)} done, 0 failed, {len(wanted) - len(created)} not attempted"
    ]

    again = run_cli(capsys, "apply", "desired.yaml", "--auto-approve")
    assert again.code == 0, again.err
    assert set(group_ids(emulator.store, TEST_INSTANCE_ID)) >= wanted


def test_a_row_whose_document_disagrees_with_its_columns_stops_apply_before_any_call(
    workdir: Path,
    emulator: RunningEmulator,
    pg_schema: tuple[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Before: plan saw nothing, and every apply created the GID, then failed its
    # compare-and-swap ("state changed while it was being written"): a wedge.
    dsn, schema = pg_schema
    write_desired("GID_alpha", backend=pg_backend_yaml(schema, "ci"))
    assert run_cli(capsys, "apply", "desired.yaml", "--auto-approve").code == 0
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            f"UPDATE \"{schema}\".states SET document = jsonb_set(document, '{{serial}}', '0')"
        )
    write_desired("GID_alpha", "GID_bravo", backend=pg_backend_yaml(schema, "ci"))

    refused = run_cli(capsys, "apply", "desired.yaml", "--auto-approve")

    assert refused.code == 1
    assert "is inconsistent: the document says serial 0 but the row's serial column is 1" in (
        refused.err
    )
    assert "repair it with: UPDATE" in refused.err
    assert "GID_bravo" not in set(group_ids(emulator.store, TEST_INSTANCE_ID))


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
