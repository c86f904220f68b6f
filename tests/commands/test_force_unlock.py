"""``reconciler force-unlock LOCK_ID [--force]`` on the local and PostgreSQL backends."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from reconciler.commands import force_unlock as force_unlock_module
from reconciler.errors import LockError, LockLostError
from reconciler.models import LocalBackendConfig, PostgresBackendConfig
from reconciler.state import open_backend
from reconciler.state.locking import new_lock_info
from tests.commands.statecli import POSTGRES_BACKEND, invoke, local_state, spawn, write_desired
from tests.fixtures import pgutil
from tests.fixtures.runs import run_cli


def _crashed_lock(state_workdir: Path) -> str:
    """A lock whose holder died: the flock is gone, its info file is left behind."""
    with local_state(state_workdir) as backend:
        info = new_lock_info("apply")
        backend.lock(info)
        os.close(backend._held.pop(info.id))  # type: ignore[attr-defined]
    return info.id


def test_force_flag_clears_a_crashed_holders_lock(state_workdir: Path) -> None:
    lock_id = _crashed_lock(state_workdir)
    info_file = state_workdir / "state" / "state.json.lock.info"
    assert info_file.exists()
    result = invoke(["force-unlock", lock_id, "--force"])
    assert result.exit_code == 0, result.output
    assert (
        result.output
        == f"Lock {lock_id} on local {state_workdir / 'state' / 'state.json'} has been released.\n"
    )
    assert not info_file.exists()


def test_without_a_terminal_or_force_it_refuses(state_workdir: Path) -> None:
    lock_id = _crashed_lock(state_workdir)
    proc = spawn(["force-unlock", lock_id], cwd=state_workdir, stdin=subprocess.DEVNULL)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert out == ""
    assert err == (
        f"Error: refusing to force-unlock {lock_id} without confirmation: there is no terminal "
        "to ask on; re-run with --force if its holder is really gone\n"
    )
    assert (state_workdir / "state" / "state.json.lock.info").exists()


def test_on_a_terminal_it_asks_and_only_yes_confirms(
    state_workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(force_unlock_module, "stdin_is_terminal", lambda: True)
    with local_state(state_workdir) as holder:
        info = new_lock_info("apply")
        holder.lock(info)
        declined = invoke(["force-unlock", info.id], input="y\n")
        assert isinstance(declined.exception, LockError)
        assert "cancelled; nothing changed" in str(declined.exception)
        assert f"Lock {info.id} is held by {info.who} since {info.created}" in declined.output
        assert "Only 'yes' will be accepted" in declined.output
        still = holder.lock_holder()
        assert still is not None
        assert still.id == info.id
        holder.unlock(info.id)
    lock_id = _crashed_lock(state_workdir)
    confirmed = invoke(["force-unlock", lock_id], input="yes\n")
    assert confirmed.exit_code == 0, confirmed.output
    assert "may be a crashed run's" in confirmed.output
    assert f"Lock {lock_id} on local" in confirmed.output


def test_a_wrong_lock_id_is_refused(state_workdir: Path) -> None:
    with local_state(state_workdir) as holder:
        info = new_lock_info("apply")
        holder.lock(info)
        result = invoke(["force-unlock", "00000000-0000-4000-8000-000000000000", "--force"])
        assert isinstance(result.exception, LockError)
        assert f"the current lock is {info.id}" in str(result.exception)
        holder.unlock(info.id)


@pytest.fixture
def pg_workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, str]]:
    dsn = pgutil.pg_dsn()
    schema = pgutil.unique_schema()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RECONCILER_CMD_TEST_DSN", dsn)
    write_desired(tmp_path, POSTGRES_BACKEND.format(schema=schema))
    yield tmp_path, schema
    pgutil.drop_schema(dsn, schema)


def test_postgres_force_unlock_breaks_a_live_holder(pg_workdir: tuple[Path, str]) -> None:
    _, schema = pg_workdir
    config = PostgresBackendConfig(dsn=SecretStr(pgutil.pg_dsn()), schema=schema)
    with open_backend(config, base_dir=Path.cwd()) as holder:
        info = new_lock_info("apply")
        holder.lock(info)
        result = invoke(["force-unlock", info.id, "--force"])
        assert result.exit_code == 0, result.output
        assert f"Lock {info.id} on postgres " in result.output
        assert holder.lock_holder() is None
        with pytest.raises(LockError, match="was lost"):
            holder.unlock(info.id)


def test_postgres_force_unlock_of_a_live_holder_without_a_terminal_refuses_naming_it(
    pg_workdir: tuple[Path, str],
) -> None:
    workdir, schema = pg_workdir
    config = PostgresBackendConfig(dsn=SecretStr(pgutil.pg_dsn()), schema=schema)
    with open_backend(config, base_dir=workdir) as holder:
        info = new_lock_info("apply")
        holder.lock(info)
        proc = spawn(["force-unlock", info.id], cwd=workdir, stdin=subprocess.DEVNULL)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 1
        assert err == (
            f"Error: refusing to force-unlock {info.id} without confirmation: its holder "
            f"{info.who} (pid {info.pid}) is still running and there is no terminal to ask on; "
            "re-run with --force to stop it\n"
        )
        holder.check_lock(info.id)  # still held
        holder.unlock(info.id)


def test_postgres_force_unlock_of_a_live_holder_warns_and_asks(
    pg_workdir: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    workdir, schema = pg_workdir
    monkeypatch.setattr(force_unlock_module, "stdin_is_terminal", lambda: True)
    config = PostgresBackendConfig(dsn=SecretStr(pgutil.pg_dsn()), schema=schema)
    with open_backend(config, base_dir=workdir) as holder:
        info = new_lock_info("apply")
        holder.lock(info)
        declined = invoke(["force-unlock", info.id], input="no\n")
        assert isinstance(declined.exception, LockError)
        assert (
            f"Its holder {info.who} (pid {info.pid}) is still running: force-unlocking stops "
            "it before its next call or state write." in declined.output
        )
        holder.check_lock(info.id)
        confirmed = invoke(["force-unlock", info.id], input="yes\n")
        assert confirmed.exit_code == 0, confirmed.output
        with pytest.raises(LockLostError):
            holder.check_lock(info.id)


def test_postgres_force_unlock_force_of_a_live_holder_warns_on_stderr(
    pg_workdir: tuple[Path, str],
) -> None:
    workdir, schema = pg_workdir
    config = PostgresBackendConfig(dsn=SecretStr(pgutil.pg_dsn()), schema=schema)
    with open_backend(config, base_dir=workdir) as holder:
        info = new_lock_info("apply")
        holder.lock(info)
        proc = spawn(["force-unlock", info.id, "--force"], cwd=workdir)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        assert err == (
            f"Warning: the holder of lock {info.id}, {info.who} (pid {info.pid}), is still "
            "running: it stops before its next call or state write.\n"
        )
        assert out.startswith(f"Lock {info.id} on postgres ")


def _suggested_command(err: str) -> list[str]:
    """The force-unlock command a lock error suggests, split as a shell would."""
    match = re.search(r"if its holder is gone: (reconciler force-unlock .*)$", err.strip())
    assert match is not None, err
    return shlex.split(match[1])


def test_the_lock_error_suggests_a_command_that_reaches_the_same_local_state(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    desired = Path("my team") / "gids.yaml"
    desired.parent.mkdir()
    desired.write_text(
        "version: 1\nbackend:\n  local:\n    path: team-state/state.json\n"
        "instances:\n  - id: post-cn-test0001\n    groups: [GID_orders]\n",
        encoding="utf-8",
    )
    backend = open_backend(LocalBackendConfig(path="team-state/state.json"), base_dir=workdir)
    with backend as holder:
        info = new_lock_info("apply")
        holder.lock(info)
        refused = run_cli(capsys, "plan", str(desired))
        assert refused.code == 1
        command = _suggested_command(refused.err)
        assert command == ["reconciler", "force-unlock", info.id, "-c", str(desired)]
        # Run as shown, it finds this very lock (and, its holder being alive, refuses).
        answer = run_cli(capsys, *command[1:], "--force")
        assert answer.code == 1
        assert f"cannot force-unlock {info.id}: its holder" in answer.err
        assert "still running" in answer.err
        holder.unlock(info.id)


def test_the_suggested_command_releases_a_postgres_lock_of_a_split_desired_state(
    pg_workdir: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    workdir, schema = pg_workdir
    Path("reconciler.yaml").rename("backend.yaml")
    Path("more.yaml").write_text("version: 1\ninstances: []\n", encoding="utf-8")
    config = PostgresBackendConfig(dsn=SecretStr(pgutil.pg_dsn()), schema=schema)
    with open_backend(config, base_dir=workdir) as holder:
        info = new_lock_info("apply")
        holder.lock(info)
        refused = run_cli(capsys, "state", "rm", "post-cn-test0001/GID_orders",
                          "-c", "backend.yaml", "-c", "more.yaml")  # fmt: skip
        assert refused.code == 1
        command = _suggested_command(refused.err)
        assert command[3:] == ["-c", "backend.yaml", "-c", "more.yaml"]
        released = run_cli(capsys, *command[1:], "--force")
        assert released.code == 0, released.err
        assert holder.lock_holder() is None
