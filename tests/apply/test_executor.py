from __future__ import annotations

import gc
import threading
from pathlib import Path

import pytest

from reconciler.apply import (
    ActionOutcome,
    ExecutionOptions,
    OutcomeStatus,
    StateJournal,
    execute,
)
from reconciler.models import StateResource
from reconciler.plan.model import Action
from reconciler.ratelimit import Rate
from reconciler.state import new_state
from tests.fixtures.apply_kit import (
    change,
    client_for_url,
    key,
    local_backend,
    state_group_ids,
)
from tests.fixtures.emulator import TEST_INSTANCE_ID, RunningEmulator
from tests.fixtures.emulator_store import group_ids


class Recorder:
    def __init__(self, stop_after: int | None = None, stop: threading.Event | None = None):
        self.total: int | None = None
        self.outcomes: list[ActionOutcome] = []
        self._stop_after = stop_after
        self._stop = stop

    def started(self, total: int) -> None:
        self.total = total

    def finished(self, outcome: ActionOutcome) -> None:
        self.outcomes.append(outcome)
        if self._stop is not None and len(self.outcomes) == self._stop_after:
            self._stop.set()


def test_apply_creates_deletes_adopts_and_forgets_and_records_each(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    store = emulator.store
    store.add_group(TEST_INSTANCE_ID, "GID_old")
    store.add_group(TEST_INSTANCE_ID, "GID_handmade")
    backend = local_backend(tmp_path)
    start = new_state()
    for group_id in ("GID_old", "GID_vanished"):
        start = start.with_resource(
            StateResource(region="cn-hangzhou", instance_id=TEST_INSTANCE_ID, group_id=group_id)
        )
    start = backend.write(start, expected_serial=0)
    changes = [
        change(Action.CREATE, "GID_new1", topic="orders", protect=True),
        change(Action.CREATE, "GID_new2"),
        change(Action.DELETE, "GID_old"),
        change(Action.ADOPT, "GID_handmade"),
        change(Action.FORGET, "GID_vanished"),
    ]
    recorder = Recorder()
    journal = StateJournal(backend, start)
    with client_for_url(emulator.url) as client:
        result = execute(
            changes,
            client_for=lambda region, api: client,
            journal=journal,
            observer=recorder,
        )

    assert result.ok
    assert [o.detail for o in result.outcomes] == [
        "created",
        "created",
        "deleted",
        "adopted",
        "forgotten",
    ]
    assert all(
        o.request_id for o in result.outcomes if o.change.action in (Action.CREATE, Action.DELETE)
    )
    assert recorder.total == 5
    assert len(recorder.outcomes) == 5
    stored = backend.read()
    assert stored is not None
    assert stored.serial == result.state_serial
    assert state_group_ids(stored) == set(group_ids(store, TEST_INSTANCE_ID))
    assert state_group_ids(stored) == {"GID_new1", "GID_new2", "GID_handmade"}
    by_key = stored.by_key()
    created = by_key[key("GID_new1")]
    assert (created.topic, created.protect, created.origin) == ("orders", True, "created")
    assert created.recorded_at
    assert by_key[key("GID_handmade")].origin == "adopted"
    # What the executor records unvalidated is what validation would make, every field set.
    recorded = journal.document.by_key()[key("GID_new1")]
    assert list(vars(recorded)) == list(StateResource.model_fields)
    assert recorded == StateResource.model_validate(recorded.model_dump())
    assert recorded.model_fields_set == set(StateResource.model_fields)


def test_create_of_an_existing_gid_is_confirmed_and_delete_of_a_missing_one_is_done(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    emulator.store.add_group(TEST_INSTANCE_ID, "GID_there")
    backend = local_backend(tmp_path)
    with client_for_url(emulator.url) as client:
        result = execute(
            [change(Action.CREATE, "GID_there"), change(Action.DELETE, "GID_gone")],
            client_for=lambda region, api: client,
            journal=StateJournal(backend, new_state()),
        )
    assert result.ok
    assert [o.detail for o in result.outcomes] == ["already existed", "already gone"]
    assert state_group_ids(backend.read()) == {"GID_there"}


def test_a_failed_call_does_not_stop_the_others_and_reports_code_and_request_id(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    backend = local_backend(tmp_path)
    changes = [
        change(Action.CREATE, "GID_ok1"),
        change(Action.CREATE, "GID_badtopic", topic="no-such-topic"),
        change(Action.CREATE, "GID_ok2"),
        change(Action.DELETE, "GID_xyz1", instance_id="post-cn-test0099"),
    ]
    with client_for_url(emulator.url) as client:
        result = execute(
            changes,
            client_for=lambda region, api: client,
            journal=StateJournal(backend, new_state()),
            options=ExecutionOptions(parallelism=2),
        )
    assert not result.ok
    assert [o.status for o in result.outcomes] == [
        OutcomeStatus.DONE,
        OutcomeStatus.FAILED,
        OutcomeStatus.DONE,
        OutcomeStatus.FAILED,
    ]
    bad_topic, bad_instance = result.failed
    assert bad_topic.error_code == "BIZ_TOPIC_NOT_FOUND"
    assert bad_topic.request_id
    # A missing instance is not a missing GID: never counted as "already gone".
    assert bad_instance.error_code == "BIZ_INSTANCE_NOT_FOUND"
    assert state_group_ids(backend.read()) == {"GID_ok1", "GID_ok2"}
    assert set(group_ids(emulator.store, TEST_INSTANCE_ID)) == {"GID_ok1", "GID_ok2"}


def test_stop_halts_scheduling_and_everything_done_is_recorded(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    backend = local_backend(tmp_path)
    stop = threading.Event()
    recorder = Recorder(stop_after=5, stop=stop)
    changes = [change(Action.CREATE, f"GID_stop{i:03d}") for i in range(60)]
    with client_for_url(emulator.url) as client:
        result = execute(
            changes,
            client_for=lambda region, api: client,
            journal=StateJournal(backend, new_state()),
            options=ExecutionOptions(parallelism=2),
            observer=recorder,
            stop=stop,
        )
    assert result.interrupted
    assert not result.ok
    assert result.not_attempted
    assert len(result.done) + len(result.not_attempted) == 60
    done = {o.change.group_id for o in result.done}
    cloud = set(group_ids(emulator.store, TEST_INSTANCE_ID))
    assert state_group_ids(backend.read()) == done == cloud


def test_rate_paces_calls_without_failures(emulator: RunningEmulator, tmp_path: Path) -> None:
    backend = local_backend(tmp_path)
    changes = [change(Action.CREATE, f"GID_rate{i:02d}") for i in range(12)]
    with client_for_url(emulator.url) as client:
        result = execute(
            changes,
            client_for=lambda region, api: client,
            journal=StateJournal(backend, new_state()),
            options=ExecutionOptions(parallelism=4, rate=Rate(200, 1.0)),
        )
    assert result.ok
    assert len(state_group_ids(backend.read())) == 12


class _FreezeWatcher(Recorder):
    """Notes how many objects the collector had frozen when the calls began."""

    def __init__(self, fail: bool = False) -> None:
        super().__init__()
        self.frozen_at_start: int | None = None
        self._fail = fail

    def started(self, total: int) -> None:
        super().started(total)
        self.frozen_at_start = gc.get_freeze_count()
        if self._fail:
            raise RuntimeError("observer broke")


def test_the_heap_is_frozen_during_the_calls_and_handed_back_after(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    backend = local_backend(tmp_path)
    watcher = _FreezeWatcher()
    before = gc.get_freeze_count()
    with client_for_url(emulator.url) as client:
        result = execute(
            [change(Action.CREATE, "GID_frozen")],
            client_for=lambda region, api: client,
            journal=StateJournal(backend, new_state()),
            observer=watcher,
        )
    assert result.ok
    assert watcher.frozen_at_start is not None and watcher.frozen_at_start > before
    assert gc.get_freeze_count() == before


def test_the_heap_is_handed_back_when_the_run_raises(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    backend = local_backend(tmp_path)
    before = gc.get_freeze_count()
    with client_for_url(emulator.url) as client, pytest.raises(RuntimeError, match="broke"):
        execute(
            [change(Action.CREATE, "GID_frozen")],
            client_for=lambda region, api: client,
            journal=StateJournal(backend, new_state()),
            observer=_FreezeWatcher(fail=True),
        )
    assert gc.get_freeze_count() == before
