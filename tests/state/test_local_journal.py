"""The local backend's journal: a write costs the change, and a journal line is read as
strictly as the document (a tampered line is refused, never resolved)."""

from __future__ import annotations

import json
import os
import stat
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from reconciler.errors import StateConflictError
from reconciler.models import StateDocument, StateResource
from reconciler.state import new_state
from reconciler.state.changes import StateChanges
from reconciler.state.document import StateFormatError
from reconciler.state.local import LocalBackend
from reconciler.state.locking import new_lock_info
from tests.fixtures.apply_kit import local_backend


def _resource(group_id: str, *, protect: bool = False) -> StateResource:
    return StateResource(
        region="cn-hangzhou", instance_id="post-cn-test0001", group_id=group_id, protect=protect
    )


def _stored(backend: LocalBackend, *group_ids: str) -> StateDocument:
    doc = new_state()
    for group_id in group_ids:
        doc = doc.with_resource(_resource(group_id))
    return backend.write(doc, expected_serial=0)


def test_an_append_leaves_the_document_alone_and_adds_one_private_line(tmp_path: Path) -> None:
    backend = local_backend(tmp_path)
    base = _stored(backend, *(f"GID_n{i:04d}" for i in range(500)))
    document = backend.path.read_bytes()
    serial = backend.append(
        StateChanges(base.lineage, put=(_resource("GID_new"),)), expected_serial=base.serial
    )
    assert backend.path.read_bytes() == document
    (line,) = backend.journal_path.read_text().splitlines()
    assert json.loads(line)["serial"] == serial == 2
    assert stat.S_IMODE(backend.journal_path.stat().st_mode) == 0o600
    stored = backend.read()
    assert stored is not None and len(stored.resources) == 501


def test_the_document_is_stored_compactly(tmp_path: Path) -> None:
    backend = local_backend(tmp_path)
    _stored(backend, "GID_a", "GID_b")
    text = backend.path.read_text()
    assert text.count("\n") == 1 and '": ' not in text


def test_a_whole_write_folds_the_journal_and_a_killed_fold_leaves_nothing_doubled(
    tmp_path: Path,
) -> None:
    backend = local_backend(tmp_path)
    base = _stored(backend, "GID_a")
    backend.append(StateChanges(base.lineage, drop=(_resource("GID_a").key,)), expected_serial=1)
    backend.append(StateChanges(base.lineage, put=(_resource("GID_b"),)), expected_serial=2)
    journal = backend.journal_path.read_bytes()
    current = backend.read()
    assert current is not None
    folded = backend.write(current, expected_serial=3)
    assert not backend.journal_path.exists()
    # Killed between the document's rename and the journal's removal: the entries left are
    # older than the document, so they are not applied again, and the next append drops them.
    backend.journal_path.write_bytes(journal)
    assert backend.read() == folded
    backend.append(StateChanges(base.lineage, put=(_resource("GID_c"),)), expected_serial=4)
    assert len(backend.journal_path.read_text().splitlines()) == 1
    again = backend.read()
    assert again is not None
    assert [r.group_id for r in again.resources] == ["GID_b", "GID_c"]


def test_a_torn_last_line_is_a_write_that_never_returned(tmp_path: Path) -> None:
    backend = local_backend(tmp_path)
    base = _stored(backend, "GID_a")
    backend.append(StateChanges(base.lineage, put=(_resource("GID_b"),)), expected_serial=1)
    with backend.journal_path.open("a") as journal:
        journal.write('{"lineage":"' + base.lineage + '","serial":3,"put":[{"ki')
    stored = backend.read()
    assert stored is not None and stored.serial == 2
    backend.append(StateChanges(base.lineage, put=(_resource("GID_c"),)), expected_serial=2)
    again = backend.read()
    assert again is not None and again.serial == 3
    assert [r.group_id for r in again.resources] == ["GID_a", "GID_b", "GID_c"]


def _line(base: StateDocument, **changed: object) -> dict[str, object]:
    resource = _resource("GID_vault").model_dump(mode="json")
    line: dict[str, object] = {
        "lineage": base.lineage,
        "serial": base.serial + 1,
        "binding": None,
        "put": [resource],
        "drop": [],
    }
    line.update(changed)
    return line


TAMPERED = {
    "a key given twice": (
        lambda text: text.replace('"protect":false', '"protect":true,"protect":false'),
        "key 'protect' is given twice",
    ),
    "a protect that is not a boolean": (
        lambda text: text.replace('"protect":false', '"protect":"yes"'),
        'put[0]: protect: Input should be a valid boolean (found "yes")',
    ),
    "an unknown field": (
        lambda text: text.replace('"drop":[]', '"drop":[],"owner":"me"'),
        "owner: unknown field",
    ),
    "a resource naming no kind": (
        lambda text: text.replace('"kind":"gid",', ""),
        "put[0] (post-cn-test0001/GID_vault): kind: Field required",
    ),
    "another lineage": (
        lambda text: text.replace('"lineage":"', '"lineage":"x'),
        "lineage x",
    ),
    "a serial out of sequence": (
        lambda text: text.replace('"serial":2', '"serial":5'),
        "serial 5 does not follow 1",
    ),
    "a line that is no JSON": (lambda text: text[:-3] + "\n", "not valid JSON"),
}


@pytest.mark.parametrize("tampering", sorted(TAMPERED))
def test_a_tampered_journal_line_is_refused_naming_it(tmp_path: Path, tampering: str) -> None:
    backend = local_backend(tmp_path)
    base = _stored(backend)
    edit, problem = TAMPERED[tampering]
    text = json.dumps(_line(base), separators=(",", ":"))
    backend.journal_path.write_text(edit(text) + "\n")
    with pytest.raises(StateFormatError) as refused:
        backend.read()
    message = str(refused.value)
    assert message.startswith(f"state journal {backend.journal_path} line 1 is corrupt: ")
    assert problem in message
    assert "\n" not in message


def test_an_untampered_line_written_by_hand_reads(tmp_path: Path) -> None:
    backend = local_backend(tmp_path)
    base = _stored(backend)
    backend.journal_path.write_text(json.dumps(_line(base)) + "\n")
    stored = backend.read()
    assert stored is not None
    assert [r.group_id for r in stored.resources] == ["GID_vault"]


def test_a_journal_past_its_bound_is_due_for_folding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = local_backend(tmp_path)
    base = _stored(backend, *(f"GID_n{i:04d}" for i in range(100)))
    changes = StateChanges(base.lineage, put=(_resource("GID_new"),))
    backend.append(changes, expected_serial=base.serial)
    # One small line against 100 resources: not due during a run, nor at its end.
    assert not backend.fold_due() and not backend.fold_due(ending=True)
    monkeypatch.setattr("reconciler.state.local.JOURNAL_FOLD_BYTES", 1)
    assert backend.fold_due()


def test_find_reads_the_named_resources_and_the_journal_after_them(tmp_path: Path) -> None:
    backend = local_backend(tmp_path)
    base = _stored(backend, "GID_a", "GID_b", "GID_c")
    changes = StateChanges(
        base.lineage, put=(_resource("GID_b", protect=True),), drop=(_resource("GID_c").key,)
    )
    backend.append(changes, expected_serial=base.serial)
    names = [("post-cn-test0001", g) for g in ("GID_b", "GID_c", "GID_zz")]
    found = backend.find(names)
    assert found is not None
    assert (found.lineage, found.serial) == (base.lineage, 2)
    assert [(r.group_id, r.protect) for r in found.resources] == [("GID_b", True)]


@pytest.mark.parametrize(
    ("tampering", "problem"),
    [
        (
            lambda text: text.replace('"resources":[', '"resources":[' + _UNPROTECTED_VAULT + ","),
            "duplicate resource",
        ),
        (lambda text: text.replace('"protect":true', '"protect":"yes"'), "corrupt"),
        (
            lambda text: text.replace('"protect":true', '"protect":false,"protect":true'),
            "key 'protect' is given twice",
        ),
    ],
)
def test_find_refuses_a_tampered_named_resource(
    tmp_path: Path, tampering: Callable[[str], str], problem: str
) -> None:
    backend = local_backend(tmp_path)
    doc = new_state().with_resource(_resource("GID_vault", protect=True))
    backend.write(doc, expected_serial=0)
    backend.path.write_text(tampering(backend.path.read_text()))
    with pytest.raises(StateFormatError, match=problem):
        backend.find([("post-cn-test0001", "GID_vault")])


_UNPROTECTED_VAULT = _resource("GID_vault").model_dump_json()


def test_appends_of_lines_longer_than_a_read_block_keep_their_sequence(tmp_path: Path) -> None:
    backend = local_backend(tmp_path)
    base = _stored(backend)
    serial = base.serial
    for batch in range(3):
        put = tuple(_resource(f"GID_b{batch}_{n:04d}") for n in range(700))  # ~150 KB a line
        serial = backend.append(StateChanges(base.lineage, put=put), expected_serial=serial)
    with pytest.raises(StateConflictError, match="serial 4, not 3"):
        backend.append(StateChanges(base.lineage, put=(_resource("GID_x"),)), expected_serial=3)
    stored = backend.read()
    assert stored is not None and (stored.serial, len(stored.resources)) == (4, 2100)


def test_the_lock_is_checked_while_an_append_waits_on_its_fsync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An apply's workers ask check_lock before every call: a batch being made durable (or a
    # fold) must not hold them back.
    backend = local_backend(tmp_path)
    base = _stored(backend, "GID_old")
    info = new_lock_info("apply")
    backend.lock(info)
    in_fsync, release = threading.Event(), threading.Event()
    real_fsync = os.fsync

    def slow_fsync(fd: int) -> None:
        in_fsync.set()
        release.wait()
        real_fsync(fd)

    monkeypatch.setattr("reconciler.state.local.os.fsync", slow_fsync)
    changes = StateChanges(base.lineage, put=(_resource("GID_new"),))
    writer = threading.Thread(
        target=backend.append, args=(changes,), kwargs={"expected_serial": base.serial}
    )
    writer.start()
    try:
        assert in_fsync.wait(timeout=30)
        # Returns while the append still holds the write mutex (it waited for the append
        # before: a bounded wait, so a regression fails instead of hanging).
        checker = threading.Thread(target=backend.check_lock, args=(info.id,))
        checker.start()
        checker.join(timeout=30)
        assert not checker.is_alive()
        assert writer.is_alive()
    finally:
        release.set()
        writer.join()
    backend.unlock(info.id)
    stored = backend.read()
    assert stored is not None and len(stored.resources) == 2
