"""A state writer SIGKILLed at arbitrary instants never leaves a lost or corrupt state."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.models import BackendConfig, LocalBackendConfig, PostgresBackendConfig
from reconciler.state import open_backend
from tests.fixtures import pgutil
from tests.fixtures.runs import child_env

WORKER = Path(__file__).with_name("write_worker.py")


def test_killed_writer_leaves_the_last_durable_state(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    env = child_env()
    rng = random.Random(20260101)
    last_seen = 0
    for _ in range(8):
        proc = subprocess.Popen(
            [sys.executable, str(WORKER), str(path)], stdout=subprocess.PIPE, text=True, env=env
        )
        assert proc.stdout is not None
        # Kill after a random number of acknowledged writes, mid-way through the next ones.
        for _ in range(rng.randint(1, 40)):
            line = proc.stdout.readline()
            assert line.startswith("WROTE "), line
            last_seen = int(line.split()[1])
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        backend = open_backend(LocalBackendConfig(path=str(path)), base_dir=tmp_path)
        doc = backend.read()
        assert doc is not None
        # Everything acknowledged survived; at most the writes after it landed too.
        assert doc.serial >= last_seen
        assert len(doc.resources) == doc.serial - 1
        backup = open_backend(
            LocalBackendConfig(path=str(path) + ".backup"), base_dir=tmp_path
        ).read()
        assert backup is not None
        assert backup.serial in (doc.serial - 1, doc.serial)
        last_seen = doc.serial


@pytest.mark.parametrize("backend", ["local", "postgres"])
def test_killed_while_appending_or_folding_the_journal_loses_nothing(
    tmp_path: Path, backend: str
) -> None:
    if backend == "local":
        target = [str(tmp_path / "state.json")]
        config: BackendConfig = LocalBackendConfig(path=str(tmp_path / "state.json"))
    else:
        dsn, schema = pgutil.pg_dsn(), pgutil.unique_schema()
        target = [dsn, schema]
        config = PostgresBackendConfig.model_validate({"dsn": dsn, "schema": schema})
    try:
        _kill_journal_writers(tmp_path, target, config)
    finally:
        if backend == "postgres":
            pgutil.drop_schema(*target)


def _kill_journal_writers(tmp_path: Path, target: list[str], config: BackendConfig) -> None:
    env = child_env()
    rng = random.Random(20261207)
    last_serial = last_count = 0
    for _ in range(8):
        proc = subprocess.Popen(
            [sys.executable, str(WORKER), *target, "journal"],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert proc.stdout is not None
        for _ in range(rng.randint(1, 40)):
            line = proc.stdout.readline()
            assert line.startswith("WROTE "), line
            last_serial, last_count = (int(part) for part in line.split()[1:])
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        with open_backend(config, base_dir=tmp_path) as reader:
            doc = reader.read()
        assert doc is not None
        # Everything acknowledged survived, once; at most the writes after it landed too.
        assert doc.serial >= last_serial
        names = [r.group_id for r in doc.resources]
        assert len(names) >= last_count
        assert names == [f"GID_n{i:06d}" for i in range(len(names))]
        last_serial, last_count = doc.serial, len(names)
