from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from reconciler.apply import StateJournal
from reconciler.errors import StateConflictError, StateError
from reconciler.models import StateDocument, StateResource
from reconciler.state import new_state
from reconciler.state.changes import StateChanges
from tests.fixtures.apply_kit import key, local_backend, state_group_ids


def resource(group_id: str) -> StateResource:
    return StateResource(region="cn-hangzhou", instance_id="post-cn-test0001", group_id=group_id)


class GatedWriter:
    """Holds the first write until released, so later records pile up behind it."""

    def __init__(self) -> None:
        self.first_write_started = threading.Event()
        self.release = threading.Event()
        self.batches: list[int] = []
        self._stored = 0

    def write(self, doc: StateDocument, *, expected_serial: int) -> StateDocument:
        if not self.batches:
            self.first_write_started.set()
            assert self.release.wait(10)
        assert expected_serial == self._stored
        self.batches.append(len(doc.resources))
        self._stored = expected_serial + 1
        return doc.model_copy(update={"serial": self._stored})

    def append(self, changes: StateChanges, *, expected_serial: int) -> int:
        assert expected_serial == self._stored
        self.batches.append(len(changes.put))
        self._stored = expected_serial + 1
        return self._stored

    def fold_due(self, *, ending: bool = False) -> bool:
        return False


def test_records_arriving_during_a_write_are_committed_together() -> None:
    writer = GatedWriter()
    journal = StateJournal(writer, new_state())
    with ThreadPoolExecutor(max_workers=8) as pool:
        first = pool.submit(journal.put, resource("GID_first"))
        assert writer.first_write_started.wait(10)
        others = [pool.submit(journal.put, resource(f"GID_n{i:03d}")) for i in range(99)]
        for future in others:
            future.result()  # enqueue only: they never wait for the writer
        writer.release.set()
        first.result()
    document = journal.flush()
    # The first write stores the new document; the second appends the 99 that piled up.
    assert writer.batches == [1, 99]
    assert document.serial == 2
    assert len(document.resources) == 100


def test_journal_writes_through_the_local_backend_with_cas(tmp_path: Path) -> None:
    backend = local_backend(tmp_path)
    journal = StateJournal(backend, new_state())
    journal.put(resource("GID_a"))
    journal.put(resource("GID_b"))
    journal.drop(key("GID_a"))
    journal.put(resource("GID_c"))
    journal.amend(key("GID_c"), protect=True)
    document = journal.flush()
    stored = backend.read()
    assert stored == document
    assert state_group_ids(stored) == {"GID_b", "GID_c"}
    assert stored is not None and stored.by_key()[key("GID_c")].protect
    assert journal.writes == stored.serial


class FailingWriter:
    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.stored: StateDocument | None = None

    def write(self, doc: StateDocument, *, expected_serial: int) -> StateDocument:
        if self.failures:
            self.failures -= 1
            raise StateConflictError("serial moved")
        self.stored = doc.model_copy(update={"serial": expected_serial + 1})
        return self.stored

    def fold_due(self, *, ending: bool = False) -> bool:
        return False


def test_a_failed_write_keeps_the_changes_for_the_final_flush() -> None:
    errors: list[StateError] = []
    writer = FailingWriter(failures=1)
    journal = StateJournal(writer, new_state(), on_error=errors.append)
    journal.put(resource("GID_a"))
    assert journal.error is not None and len(errors) == 1
    journal.put(resource("GID_b"))  # queued behind the error, not written yet
    assert writer.stored is None
    document = journal.flush()
    assert state_group_ids(document) == {"GID_a", "GID_b"}


def test_flush_raises_when_the_state_still_cannot_be_written() -> None:
    journal = StateJournal(FailingWriter(failures=2), new_state())
    journal.put(resource("GID_a"))
    with pytest.raises(StateConflictError):
        journal.flush()


def test_a_journal_started_from_another_document_than_the_stored_one_writes_the_difference(
    tmp_path: Path,
) -> None:
    # An apply starts from the stored state with the file's metadata: what differs from the
    # stored resources (changed, added, gone) is written with its first batch.
    backend = local_backend(tmp_path)
    stored = backend.write(
        new_state().model_copy(
            update={"resources": (resource("GID_a"), resource("GID_b"), resource("GID_c"))}
        ),
        expected_serial=0,
    )
    changed = stored.resources[1].model_copy(update={"protect": True})
    started = stored.model_copy(
        update={"resources": (stored.resources[0], changed, resource("GID_d"))}
    )
    journal = StateJournal(backend, started, stored=stored)
    journal.put(resource("GID_e"))
    document = journal.flush()
    read = backend.read()
    assert read == document
    assert state_group_ids(read) == {"GID_a", "GID_b", "GID_d", "GID_e"}
    assert read is not None and read.by_key()[key("GID_b")].protect


class RecordingWriter:
    """Records what each append puts and drops."""

    def __init__(self, serial: int) -> None:
        self.serial = serial
        self.appended: list[StateChanges] = []

    def append(self, changes: StateChanges, *, expected_serial: int) -> int:
        assert expected_serial == self.serial
        self.appended.append(changes)
        self.serial += 1
        return self.serial

    def fold_due(self, *, ending: bool = False) -> bool:
        return False


def test_a_journal_started_from_the_stored_resources_writes_only_what_it_records() -> None:
    stored = new_state().model_copy(update={"serial": 3, "resources": (resource("GID_a"),)})
    writer = RecordingWriter(3)
    journal = StateJournal(writer, stored.model_copy(), stored=stored)
    journal.put(resource("GID_b"))
    journal.flush()
    assert [[r.group_id for r in c.put] for c in writer.appended] == [["GID_b"]]
    assert [c.drop for c in writer.appended] == [()]
