"""Local backend specifics: atomic files, modes, backups, corrupt files, stale lock info."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from reconciler.errors import LockHeldError, StateError
from reconciler.models import LocalBackendConfig, StateResource
from reconciler.state import new_state, open_backend
from reconciler.state.local import LocalBackend
from reconciler.state.locking import new_lock_info


def _open(base: Path, path: str = ".reconciler/state.json") -> LocalBackend:
    backend = open_backend(LocalBackendConfig(path=path), base_dir=base)
    assert isinstance(backend, LocalBackend)
    return backend


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_relative_path_is_taken_from_base_dir_and_absolute_is_kept(tmp_path: Path) -> None:
    assert _open(tmp_path).path == tmp_path / ".reconciler" / "state.json"
    absolute = tmp_path / "elsewhere" / "s.json"
    assert _open(tmp_path / "ignored", str(absolute)).path == absolute


def test_files_are_private_to_the_owner(tmp_path: Path) -> None:
    backend = _open(tmp_path)
    doc = backend.write(new_state(), expected_serial=0)
    backend.write(doc, expected_serial=1)
    info = new_lock_info("apply")
    backend.lock(info)
    assert _mode(backend.path.parent) == 0o700
    for path in (backend.path, backend.backup_path, backend.lock_path, backend.info_path):
        assert _mode(path) == 0o600, path
    backend.unlock(info.id)


def test_previous_version_is_kept_as_backup(tmp_path: Path) -> None:
    backend = _open(tmp_path)
    first = backend.write(new_state(), expected_serial=0)
    assert not backend.backup_path.exists()
    resource = StateResource(region="cn-hangzhou", instance_id="i-1", group_id="GID_one")
    second = backend.write(first.with_resource(resource), expected_serial=1)
    assert json.loads(backend.backup_path.read_text())["serial"] == first.serial
    assert json.loads(backend.path.read_text())["serial"] == second.serial


def test_no_temporary_files_are_left_behind(tmp_path: Path) -> None:
    backend = _open(tmp_path)
    doc = backend.write(new_state(), expected_serial=0)
    backend.write(doc, expected_serial=1)
    names = sorted(p.name for p in backend.path.parent.iterdir())
    assert names == ["state.json", "state.json.backup"]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("", "not valid JSON"),
        ('{"lineage": "x", "serial": 1', "not valid JSON"),
        ('{"serial": 1}', "lineage: Field required"),
        ('{"lineage": "x", "serial": -1}', "serial"),
    ],
)
def test_corrupt_state_file_is_an_error_naming_the_file(
    tmp_path: Path, content: str, problem: str
) -> None:
    backend = _open(tmp_path)
    backend.path.parent.mkdir(parents=True)
    backend.path.write_text(content)
    with pytest.raises(StateError, match="is corrupt") as caught:
        backend.read()
    assert str(backend.path) in str(caught.value)
    assert problem in str(caught.value)
    with pytest.raises(StateError):  # and it is never overwritten as if it were empty
        backend.write(new_state(), expected_serial=0)
    assert backend.path.read_text() == content


def test_a_key_given_twice_in_one_object_is_refused_naming_the_resource(tmp_path: Path) -> None:
    # Only the local file can hold one: PostgreSQL's jsonb keeps one copy of each key.
    backend = _open(tmp_path)
    backend.path.parent.mkdir(parents=True)
    backend.path.write_text(
        '{"lineage": "x", "serial": 1, "resources": [{"region": "cn-hangzhou", '
        '"instance_id": "i-1", "group_id": "GID_one", "protect": true, "protect": false}]}'
    )
    with pytest.raises(StateError) as caught:
        backend.read()
    assert str(caught.value) == (
        f"state file {backend.path} is corrupt: resources[0] (i-1/GID_one): "
        "key 'protect' is given twice in one object"
    )


def test_corrupt_state_error_points_at_the_backup(tmp_path: Path) -> None:
    backend = _open(tmp_path)
    doc = backend.write(new_state(), expected_serial=0)
    backend.write(doc, expected_serial=1)
    backend.path.write_text("{garbage")
    with pytest.raises(StateError, match=r"previous version is in .*state\.json\.backup"):
        backend.read()


def test_unreadable_state_path_is_an_error(tmp_path: Path) -> None:
    backend = _open(tmp_path)
    backend.path.mkdir(parents=True)  # a directory where the file should be
    with pytest.raises(StateError, match="cannot read state file"):
        backend.read()


def test_stale_lock_info_is_ignored_and_overwritten(tmp_path: Path) -> None:
    backend = _open(tmp_path)
    backend.path.parent.mkdir(parents=True)
    stale = new_lock_info("apply")
    backend.info_path.write_text(stale.model_dump_json())
    assert backend.lock_holder() is None
    fresh = new_lock_info("plan")
    backend.lock(fresh)
    holder = _open(tmp_path).lock_holder()
    assert holder is not None
    assert holder.id == fresh.id
    backend.unlock(fresh.id)
    assert not backend.info_path.exists()
    assert backend.lock_path.exists()  # never deleted: see the module docstring


def test_unreadable_lock_info_reports_an_unknown_holder(tmp_path: Path) -> None:
    holder_backend = _open(tmp_path)
    info = new_lock_info("apply")
    holder_backend.lock(info)
    holder_backend.info_path.write_text("not json")
    with pytest.raises(LockHeldError, match="unknown holder") as caught:
        _open(tmp_path).lock(new_lock_info("plan"))
    assert caught.value.holder is None
    holder_backend.unlock(info.id)
