"""A local state read ahead in a forked child is taken only when it is the state as it is:
the same file, unchanged, its journal unchanged; anything else is read as ever."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from reconciler.errors import StateError
from reconciler.models import (
    LocalBackendConfig,
    NamedValue,
    StateBinding,
    StateDocument,
    StateResource,
)
from reconciler.state import prefetch
from reconciler.state.changes import StateChanges
from reconciler.state.local import LocalBackend

DESIRED_HEAD = "version: 1\nbackend:\n  local:\n    path: {path}\ninstances:\n  - id: post-cn-a\n"


@pytest.fixture(autouse=True)
def forking_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    # The CLI forks with no other thread running; a pytest worker runs a few of its own,
    # which the child (reading a file, then exiting) never touches. These states are small.
    monkeypatch.setattr(threading, "active_count", lambda: 1)
    monkeypatch.setattr(prefetch, "WORTH_FORKING_BYTES", 0)


def resources(count: int) -> tuple[StateResource, ...]:
    return tuple(
        StateResource(
            region="cn-hangzhou",
            instance_id=f"post-cn-pre{i % 3:04d}",
            group_id=f"GID_pre_{i:03d}",
            protect=i % 4 == 0,
            clients=(f"GID_pre_{i:03d}@@@dev",) if i % 5 == 0 else (),
            attributes=(NamedValue(name="tags", value='{"t": "1"}'),) if i % 7 == 0 else (),
        )
        for i in range(count)
    )


def stored(tmp_path: Path, count: int = 40) -> LocalBackend:
    backend = LocalBackend(LocalBackendConfig(path="state.json"), base_dir=tmp_path)
    doc = StateDocument(
        lineage="00000000-0000-4000-8000-0000000000aa",
        binding=StateBinding(desired=("d.yaml",), endpoint="default"),
        resources=resources(count),
    )
    backend.write(doc, expected_serial=0)
    return backend


def desired_file(tmp_path: Path, state: str = "state.json") -> Path:
    path = tmp_path / "d.yaml"
    path.write_text(DESIRED_HEAD.format(path=state), encoding="utf-8")
    return path


def start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, state: str = "state.json"
) -> prefetch.StatePrefetch:
    monkeypatch.chdir(tmp_path)
    started = prefetch.start([desired_file(tmp_path, state)], None)
    assert started is not None
    return started


def test_the_prefetched_document_is_the_one_a_read_gives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = stored(tmp_path)
    lineage = "00000000-0000-4000-8000-0000000000aa"
    backend.append(StateChanges(lineage=lineage, put=resources(45)[40:]), expected_serial=1)
    started = start(tmp_path, monkeypatch)
    taken = started.take(backend.path, backend.journal_path)
    assert taken is not None
    read = backend.read()
    assert read is not None
    assert taken == read
    assert taken.model_dump_json() == read.model_dump_json()
    assert taken.model_fields_set == read.model_fields_set
    assert [r.model_fields_set for r in taken.resources] == [
        r.model_fields_set for r in read.resources
    ]
    assert len(taken.resources) == 45


def test_a_backend_reads_the_prefetch_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    backend = stored(tmp_path)
    started = start(tmp_path, monkeypatch)
    backend.offer_prefetch(started)
    first = backend.read()
    assert first is not None
    assert backend.read() == first


def child_done(started: prefetch.StatePrefetch) -> None:
    """Wait until the child has read and answered (a small state fits the pipe), without
    reaping it: ``take`` still collects it."""
    assert started._pid is not None
    os.waitid(os.P_PID, started._pid, os.WEXITED | os.WNOWAIT)


@pytest.mark.parametrize("how", ["document rewritten", "journal appended"])
def test_a_state_written_after_the_child_read_it_is_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    backend = stored(tmp_path)
    current = backend.read()
    assert current is not None
    started = start(tmp_path, monkeypatch)
    child_done(started)
    if how == "document rewritten":
        backend.write(current.model_copy(update={"resources": ()}), expected_serial=1)
    else:
        drop = (current.resources[0].key,)
        backend.append(StateChanges(lineage=current.lineage, drop=drop), expected_serial=1)
    assert started.take(backend.path, backend.journal_path) is None
    backend.offer_prefetch(start(tmp_path, monkeypatch))
    fresh = LocalBackend(LocalBackendConfig(path="state.json"), base_dir=tmp_path)
    assert backend.read() == fresh.read() != current


def test_another_state_file_is_not_taken_and_its_child_is_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stored(tmp_path)
    started = start(tmp_path, monkeypatch)
    pid = started._pid
    assert pid is not None
    assert started.take(tmp_path / "other.json", tmp_path / "other.json.journal") is None
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reaped: no zombie left behind


def test_close_stops_an_unused_child(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stored(tmp_path)
    started = start(tmp_path, monkeypatch)
    pid = started._pid
    started.close()
    started.close()  # twice is harmless
    assert pid is not None
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def test_a_corrupt_state_is_no_prefetch_and_the_read_reports_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = stored(tmp_path)
    text = backend.path.read_text(encoding="utf-8")
    backend.path.write_text(text.replace('"protect":true', '"protect":"yes"', 1), encoding="utf-8")
    started = start(tmp_path, monkeypatch)
    assert started.take(backend.path, backend.journal_path) is None
    backend.offer_prefetch(start(tmp_path, monkeypatch))
    with pytest.raises(StateError, match="protect"):
        backend.read()


@pytest.mark.parametrize("answer", [b"", b"\x80\x05\x95garbage", b"\x80\x05N."])
def test_a_child_that_fails_or_answers_nonsense_is_no_prefetch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, answer: bytes
) -> None:
    backend = stored(tmp_path)

    def child(_: LocalBackend, writer: int) -> int:
        os.write(writer, answer)
        return 1

    monkeypatch.setattr(prefetch, "_child", child)
    started = start(tmp_path, monkeypatch)
    assert started.take(backend.path, backend.journal_path) is None
    started.close()
    backend.offer_prefetch(start(tmp_path, monkeypatch))  # the same failing child
    read = backend.read()  # so the backend reads itself
    assert read is not None
    assert len(read.resources) == 40


def test_no_prefetch_of_a_state_not_there_or_small(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert prefetch.start([desired_file(tmp_path)], None) is None
    backend = stored(tmp_path)
    monkeypatch.setattr(prefetch, "WORTH_FORKING_BYTES", backend.path.stat().st_size + 1)
    assert prefetch.start([desired_file(tmp_path)], None) is None


def test_state_option_names_the_file_to_prefetch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = stored(tmp_path)
    monkeypatch.chdir(tmp_path)
    started = prefetch.start([tmp_path / "missing.yaml"], Path("state.json"))
    assert started is not None
    assert started.take(backend.path, backend.journal_path) == backend.read()


def test_no_prefetch_with_other_threads_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(threading, "active_count", lambda: 2)
    monkeypatch.chdir(tmp_path)
    assert prefetch.start([desired_file(tmp_path)], None) is None


def test_no_prefetch_without_a_guess(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stored(tmp_path)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty").mkdir()
    assert prefetch.start([tmp_path / "empty"], None) is None
    assert prefetch.start([tmp_path / "missing.yaml"], None) is None
    postgres = tmp_path / "pg.yaml"
    postgres.write_text("backend:\n  postgres:\n    dsn: x\ninstances: []\n", encoding="utf-8")
    assert prefetch.start([postgres], None) is None
    other = tmp_path / "other.yaml"
    other.write_text(DESIRED_HEAD.format(path="other.json"), encoding="utf-8")
    assert prefetch.start([desired_file(tmp_path), other], None) is None  # two backends


def test_the_files_of_a_split_desired_state_name_the_state_together(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = stored(tmp_path)
    monkeypatch.chdir(tmp_path)
    split = tmp_path / "desired"
    split.mkdir()
    (split / "a.yaml").write_text("instances:\n  - id: post-cn-a\n", encoding="utf-8")
    (split / "b.yaml").write_text(DESIRED_HEAD.format(path="state.json"), encoding="utf-8")
    started = prefetch.start([Path("desired")], None)
    assert started is not None
    assert started.take(backend.path, backend.journal_path) == backend.read()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("version: 1\nbackend:\n  local:\n    path: s/state.json\ninstances: []\n", "s/state.json"),
        ("backend: {local: {path: 'a b.json'}}\ninstances: []\n", "a b.json"),
        ("version: 1\nprovider: {region: cn-hangzhou}\ninstances: []\n", ".reconciler/state.json"),
        (
            "version: 1\ninstances: []\nbackend:\n  local:\n    path: late.json\n",
            ".reconciler/state.json",
        ),
        ("version: 1\n", ".reconciler/state.json"),
        ("group_sets: {}\nbackend: {local: {path: x.json}}\n", ".reconciler/state.json"),
        ("provider: {tags: [a, b]}\nbackend: {local: {path: x.json}}\n", "x.json"),
        ("backend:\n  local:\n    path: ${STATE}\n", None),
        ("backend:\n  postgres:\n    dsn: ${DSN}\n", None),
        ("backend:\n  local: {}\n", None),
        ("backend:\n  local:\n    path: [a]\n", None),
        ("backend:\n  local:\n    path: ''\n", None),
        ("backend: &b {local: {path: x.json}}\n", "x.json"),
        ("? [a]\n: b\n", None),
        ("- a\n- b\n", None),
        ("backend: {local: {path: x.json}\n", None),
        ("", None),
    ],
)
def test_the_state_path_a_desired_file_head_gives(text: str, expected: str | None) -> None:
    assert prefetch.local_state_path(text) == expected
