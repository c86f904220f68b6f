"""The state binding's parts: how desired inputs are normalised, and the local backend's cheap
read of a state's binding (the check made before the lock and any listing)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.errors import StateBindingError, StateError
from reconciler.models import LocalBackendConfig, StateBinding, StateResource
from reconciler.state import StateBackend, new_state, open_backend
from reconciler.state.binding import RunBinding, bound, check_binding, desired_paths

BINDING = StateBinding(desired=("g.yaml",), endpoint="embedded")


def test_desired_paths_are_relative_posix_normalised_sorted_and_unique(tmp_path: Path) -> None:
    given = ["./b.yaml", "teams//a.yaml", str(tmp_path / "b.yaml"), "teams/../c"]
    assert desired_paths(given, tmp_path) == ("b.yaml", "c", "teams/a.yaml")
    assert desired_paths(["/elsewhere/g.yaml"], tmp_path) == ("/elsewhere/g.yaml",)


def _backend(tmp_path: Path) -> StateBackend:
    return open_backend(LocalBackendConfig(path="state.json"), base_dir=tmp_path)


def test_the_cheap_read_of_a_written_state_is_its_binding(tmp_path: Path) -> None:
    backend = _backend(tmp_path)
    assert backend.read_binding() is None
    resource = StateResource(region="cn-hangzhou", instance_id="post-cn-a", group_id="GID_aaa")
    doc = bound(new_state().with_resource(resource), BINDING)
    backend.write(doc, expected_serial=0)
    assert backend.read_binding() == BINDING
    unbound = new_state().with_resource(resource)
    (tmp_path / "state.json").unlink()
    backend.write(unbound, expected_serial=0)
    assert backend.read_binding() is None


def test_a_hand_written_layout_is_read_whole(tmp_path: Path) -> None:
    backend = _backend(tmp_path)
    document = {
        "resources": [],
        "binding": BINDING.model_dump(mode="json"),
        "lineage": "x",
        "serial": 1,
    }
    (tmp_path / "state.json").write_text(json.dumps(document), encoding="utf-8")
    assert backend.read_binding() == BINDING
    (tmp_path / "state.json").write_text(
        '{\n  "lineage": "x",\n  "binding": {"desired": 1},\n  "resources": []}',
        encoding="utf-8",
    )
    with pytest.raises(StateError, match="corrupt"):
        backend.read_binding()


def test_an_unbound_or_matching_state_passes_and_another_is_refused(tmp_path: Path) -> None:
    run = RunBinding(BINDING, "provider.endpoint of g.yaml")
    check_binding(None, run, where="here")
    check_binding(new_state(), run, where="here")
    check_binding(bound(new_state(), BINDING), run, where="here")
    other = StateBinding(desired=("t.yaml",), endpoint="embedded")
    with pytest.raises(StateBindingError, match=r"describes another desired state: t\.yaml"):
        check_binding(bound(new_state(), other), run, where="here")
