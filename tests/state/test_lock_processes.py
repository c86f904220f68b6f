"""Real processes competing for the lock on each backend, and holders killed with SIGKILL."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.errors import LockError
from reconciler.models import LocalBackendConfig, PostgresBackendConfig
from reconciler.state import open_backend
from reconciler.state.base import StateBackend
from reconciler.state.locking import new_lock_info
from tests.fixtures import pgutil
from tests.fixtures.runs import child_env

WORKER = Path(__file__).with_name("lock_worker.py")


class Worker:
    def __init__(self, config_json: str, base_dir: Path, timeout: float, go: Path | None) -> None:
        env = child_env(RECONCILER_WORKER_BACKEND=config_json)
        args = [sys.executable, str(WORKER), str(base_dir), str(timeout)]
        if go is not None:
            args.append(str(go))
        self.proc = subprocess.Popen(
            args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
        )

    def line(self) -> str:
        assert self.proc.stdout is not None
        text = self.proc.stdout.readline()
        assert text, f"worker exited early with {self.proc.wait()}"
        return text.rstrip("\n")

    def release(self) -> int:
        assert self.proc.stdin is not None
        self.proc.stdin.write("release\n")
        self.proc.stdin.flush()
        return self.proc.wait(timeout=60)

    def rest(self) -> str:
        assert self.proc.stdout is not None
        return self.proc.stdout.read()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=60)


class Setup:
    def __init__(self, kind: str, config_json: str, base_dir: Path, opener: StateBackend) -> None:
        self.kind = kind
        self.config_json = config_json
        self.base_dir = base_dir
        self.backend = opener
        self.workers: list[Worker] = []

    def worker(self, timeout: float = 0.0, go: Path | None = None) -> Worker:
        worker = Worker(self.config_json, self.base_dir, timeout, go)
        self.workers.append(worker)
        assert worker.line() == "READY"
        return worker


@pytest.fixture(params=["local", "postgres"])
def setup(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Setup]:
    schema = None
    config: LocalBackendConfig | PostgresBackendConfig
    if request.param == "local":
        config = LocalBackendConfig()
        config_json = config.model_dump_json()
    else:
        dsn = pgutil.pg_dsn()
        schema = pgutil.unique_schema()
        config = PostgresBackendConfig.model_validate({"dsn": dsn, "schema": schema})
        config_json = (
            PostgresBackendConfig.model_validate({"dsn": dsn, "schema": schema})
            .model_dump_json(by_alias=True)
            .replace('"**********"', f'"{dsn}"')
        )
    backend = open_backend(config, base_dir=tmp_path)
    made = Setup(request.param, config_json, tmp_path, backend)
    try:
        yield made
    finally:
        for worker in made.workers:
            worker.kill()
        backend.close()
        if schema is not None:
            pgutil.drop_schema(pgutil.pg_dsn(), schema)


def test_two_racing_processes_exactly_one_proceeds(setup: Setup, tmp_path: Path) -> None:
    go = tmp_path / "go"
    racers = [setup.worker(go=go), setup.worker(go=go)]
    go.touch()
    outcomes = [racer.line() for racer in racers]
    winners = [r for r, out in zip(racers, outcomes, strict=True) if out.startswith("ACQUIRED ")]
    losers = [out for out in outcomes if out.startswith("HELD ")]
    assert len(winners) == 1, outcomes
    assert len(losers) == 1, outcomes
    winner_id = next(out for out in outcomes if out.startswith("ACQUIRED ")).split()[1]
    assert f"lock {winner_id} held by " in losers[0]
    assert "(worker, " in losers[0]
    assert winners[0].release() == 0
    assert winners[0].rest().strip() == "RELEASED"


def test_waiting_process_proceeds_once_the_holder_releases(setup: Setup) -> None:
    holder = setup.worker()
    first = holder.line()
    assert first.startswith("ACQUIRED ")
    holder_id = first.split()[1]
    waiter = setup.worker(timeout=120)
    waiting = waiter.line()
    assert waiting.startswith(f"WAITING waiting for lock {holder_id} held by ")
    assert holder.release() == 0
    line = waiter.line()
    while line.startswith("WAITING "):
        line = waiter.line()
    assert line.startswith("ACQUIRED ")
    assert waiter.release() == 0


def test_kill_9_of_the_holder_frees_the_lock(setup: Setup) -> None:
    holder = setup.worker()
    acquired = holder.line()
    assert acquired.startswith("ACQUIRED ")
    dead_id = acquired.split()[1]
    with pytest.raises(LockError):
        setup.backend.lock(new_lock_info("apply"))
    holder.kill()
    # The server notices the dead session on its own; allow it time, do not time it.
    info = new_lock_info("apply")
    setup.backend.lock(info, timeout=60)
    current = setup.backend.lock_holder()
    assert current is not None
    assert current.id == info.id != dead_id
    setup.backend.unlock(info.id)


def test_force_unlock_of_a_live_holder_in_another_process(setup: Setup) -> None:
    holder = setup.worker()
    holder_id = holder.line().split()[1]
    if setup.kind == "local":
        with pytest.raises(LockError, match=rf"pid {holder.proc.pid}\) is still running"):
            setup.backend.force_unlock(holder_id)
        holder.kill()
        setup.backend.force_unlock(holder_id)  # now the info is a leftover: cleared
    else:
        setup.backend.force_unlock(holder_id)
        assert holder.release() == 4
        assert holder.rest().startswith("LOST ")
    assert setup.backend.lock_holder() is None
    info = new_lock_info("apply")
    setup.backend.lock(info)
    setup.backend.unlock(info.id)
