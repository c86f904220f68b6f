"""Atomic replacement from the side of someone who can write into the state's directory:
a symlink planted where a temporary file will be made must never be followed, and a crash's
leftovers must not pile up."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from reconciler.atomicfile import LEFTOVER_AGE_SECONDS, write_atomic
from reconciler.models import LocalBackendConfig
from reconciler.plan.model import Plan
from reconciler.plan.planfile import save_plan
from reconciler.state import new_state, open_backend
from reconciler.state.local import LocalBackend
from reconciler.state.locking import new_lock_info

# Every fixed name a temporary file beside state.json ever had.
PLANTED_NAMES = (".state.json.tmp", ".state.json.lock.info.tmp", "state.json.backup.tmp")


def _open(base: Path) -> LocalBackend:
    backend = open_backend(LocalBackendConfig(path="state/state.json"), base_dir=base)
    assert isinstance(backend, LocalBackend)
    return backend


def _plant(directory: Path, victim: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name in PLANTED_NAMES:
        (directory / name).symlink_to(victim)


def test_state_lock_info_and_backup_writes_never_follow_a_planted_symlink(
    tmp_path: Path,
) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    backend = _open(tmp_path)
    _plant(backend.path.parent, victim)

    doc = backend.write(new_state(), expected_serial=0)
    backend.write(doc, expected_serial=doc.serial)  # the second write keeps a backup
    info = new_lock_info("apply")
    backend.lock(info)
    backend.unlock(info.id)

    assert victim.read_text() == "precious\n"
    assert backend.read() is not None
    assert not backend.backup_path.is_symlink()


def test_saved_plan_write_never_follows_a_planted_symlink(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    (tmp_path / ".plan.json.tmp").symlink_to(victim)
    save_plan(
        Plan(tool_version="test", created_at="now", desired_digest="0"), tmp_path / "plan.json"
    )
    assert victim.read_text() == "precious\n"


def _leftover(directory: Path, name: str, *, age: float) -> Path:
    path = directory / name
    path.write_text("half a write")
    then = time.time() - age
    os.utime(path, (then, then))
    return path


def test_old_leftovers_of_our_own_temporary_names_are_cleaned(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    old = _leftover(tmp_path, ".state.json.k2j4x9_q.tmp", age=LEFTOVER_AGE_SECONDS + 60)
    # A writer still at work (young), and files that only look alike, are left alone.
    young = _leftover(tmp_path, ".state.json.a8d7f6s5.tmp", age=1)
    unrelated = _leftover(tmp_path, ".state.json.notours.tmp.keep", age=LEFTOVER_AGE_SECONDS * 2)
    other = _leftover(tmp_path, ".other.json.k2j4x9_q.tmp", age=LEFTOVER_AGE_SECONDS * 2)

    write_atomic(target, "{}\n")

    assert target.read_text() == "{}\n"
    assert not old.exists()
    assert young.exists() and unrelated.exists() and other.exists()


def test_an_old_leftover_that_is_a_symlink_is_removed_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    link = tmp_path / ".state.json.zzzzzzzz.tmp"
    link.symlink_to(victim)
    then = time.time() - LEFTOVER_AGE_SECONDS * 2
    os.utime(link, (then, then), follow_symlinks=False)
    write_atomic(tmp_path / "state.json", "{}\n")
    assert victim.read_text() == "precious\n"


def test_a_failed_write_leaves_no_temporary_file(tmp_path: Path) -> None:
    def explode() -> None:
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_atomic(tmp_path / "state.json", "{}\n", before_replace=explode)
    assert list(tmp_path.iterdir()) == []
