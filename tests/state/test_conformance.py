"""The one contract every state backend meets (reconciler.state.base.StateBackend)."""

from __future__ import annotations

import json
import threading

import pytest

from reconciler.errors import (
    LockError,
    LockHeldError,
    LockLostError,
    StateConflictError,
    StateError,
)
from reconciler.models import StateBinding, StateResource
from reconciler.state import new_state
from reconciler.state.base import LockInfo, StateBackend
from reconciler.state.changes import StateChanges
from reconciler.state.locking import new_lock_info
from tests.fixtures.backends import BackendKit


def _resource(group_id: str) -> StateResource:
    return StateResource(region="cn-hangzhou", instance_id="post-cn-test0001", group_id=group_id)


# --- the document ---------------------------------------------------------------------------


def test_read_is_none_before_the_first_write(backend: StateBackend) -> None:
    assert backend.read() is None


def test_write_then_read_roundtrips_the_document(kit: BackendKit) -> None:
    doc = new_state().with_resource(_resource("GID_orders")).with_resource(_resource("GID_bills"))
    written = kit.open().write(doc, expected_serial=0)
    assert written.serial == 1
    assert written.lineage == doc.lineage
    again = kit.open().read()  # a second instance sees it: it is stored, not cached
    assert again == written
    assert again is not None
    assert [r.group_id for r in again.resources] == ["GID_bills", "GID_orders"]


def test_the_binding_is_stored_and_read_back(kit: BackendKit) -> None:
    backend = kit.open()
    assert backend.read_binding() is None
    binding = StateBinding(desired=("teams", "g.yaml"), endpoint="http://127.0.0.1:8765")
    doc = new_state().with_resource(_resource("GID_orders")).model_copy(update={"binding": binding})
    backend.write(doc, expected_serial=0)
    again = kit.open()
    stored = again.read()
    assert stored is not None
    assert stored.binding == binding
    assert again.read_binding() == binding


def test_each_write_increments_the_serial(backend: StateBackend) -> None:
    doc = backend.write(new_state(), expected_serial=0)
    for expected in (2, 3, 4):
        doc = backend.write(
            doc.with_resource(_resource(f"GID_n{expected}")), expected_serial=doc.serial
        )
        assert doc.serial == expected
    assert backend.read() == doc


def test_write_with_a_stale_serial_is_a_conflict_and_changes_nothing(kit: BackendKit) -> None:
    first, second = kit.open(), kit.open()
    base = first.write(new_state(), expected_serial=0)
    moved = first.write(base.with_resource(_resource("GID_first")), expected_serial=base.serial)
    with pytest.raises(StateConflictError, match="serial 2, not 1"):
        second.write(base.with_resource(_resource("GID_second")), expected_serial=base.serial)
    assert second.read() == moved


def test_first_write_conflicts_when_a_state_already_exists(backend: StateBackend) -> None:
    stored = backend.write(new_state(), expected_serial=0)
    with pytest.raises(StateConflictError):
        backend.write(stored.with_resource(_resource("GID_late")), expected_serial=0)
    assert backend.read() == stored


def test_write_expecting_a_serial_when_nothing_is_stored_is_a_conflict(
    backend: StateBackend,
) -> None:
    with pytest.raises(StateConflictError, match="missing"):
        backend.write(new_state(), expected_serial=3)
    assert backend.read() is None


def test_write_of_another_lineage_is_refused(backend: StateBackend) -> None:
    stored = backend.write(new_state(), expected_serial=0)
    stranger = new_state().with_resource(_resource("GID_alien"))
    with pytest.raises(StateConflictError, match="lineage"):
        backend.write(stranger, expected_serial=stored.serial)
    assert backend.read() == stored


# --- writes of only what changed (append) ----------------------------------------------------


def test_append_stores_the_change_and_every_reader_sees_it(kit: BackendKit) -> None:
    backend = kit.open()
    base = backend.write(new_state().with_resource(_resource("GID_old")), expected_serial=0)
    binding = StateBinding(desired=("g.yaml",), endpoint="embedded")
    changes = StateChanges(
        lineage=base.lineage,
        binding=binding,
        put=(_resource("GID_new"),),
        drop=(_resource("GID_old").key,),
    )
    assert backend.append(changes, expected_serial=base.serial) == base.serial + 1
    again = kit.open()
    stored = again.read()
    assert stored is not None
    assert (stored.serial, stored.binding) == (base.serial + 1, binding)
    assert [r.group_id for r in stored.resources] == ["GID_new"]
    assert again.read_binding() == binding
    # A whole write goes on from the appended serial.
    moved = again.write(stored.with_resource(_resource("GID_more")), expected_serial=stored.serial)
    assert kit.open().read() == moved


def test_append_with_a_stale_serial_is_a_conflict_and_changes_nothing(kit: BackendKit) -> None:
    first, second = kit.open(), kit.open()
    base = first.write(new_state(), expected_serial=0)
    first.append(StateChanges(base.lineage, put=(_resource("GID_a"),)), expected_serial=1)
    stored = first.read()
    with pytest.raises(StateConflictError, match="serial 2, not 1"):
        second.append(StateChanges(base.lineage, put=(_resource("GID_b"),)), expected_serial=1)
    with pytest.raises(StateConflictError, match="serial 2, not 1"):
        second.write(base.with_resource(_resource("GID_b")), expected_serial=1)
    assert second.read() == stored


def test_append_of_another_lineage_or_to_nothing_is_refused(backend: StateBackend) -> None:
    with pytest.raises(StateConflictError, match="missing"):
        backend.append(StateChanges("x", put=(_resource("GID_a"),)), expected_serial=0)
    assert backend.read() is None
    stored = backend.write(new_state(), expected_serial=0)
    with pytest.raises(StateConflictError, match="lineage"):
        backend.append(StateChanges("another", put=(_resource("GID_a"),)), expected_serial=1)
    assert backend.read() == stored


def test_concurrent_appends_from_one_serial_exactly_one_wins(kit: BackendKit) -> None:
    base = kit.open().write(new_state(), expected_serial=0)
    outcomes: list[str] = []
    barrier = threading.Barrier(4)

    def append(index: int) -> None:
        backend = kit.open()
        barrier.wait()
        try:
            changes = StateChanges(base.lineage, put=(_resource(f"GID_w{index}"),))
            backend.append(changes, expected_serial=base.serial)
            outcomes.append("won")
        except StateConflictError:
            outcomes.append("conflict")

    threads = [threading.Thread(target=append, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["conflict"] * 3 + ["won"]
    stored = kit.open().read()
    assert stored is not None and stored.serial == 2 and len(stored.resources) == 1


# --- the lock -------------------------------------------------------------------------------


def test_lock_then_unlock_frees_the_lock(kit: BackendKit) -> None:
    backend = kit.open()
    info = new_lock_info("apply")
    assert backend.lock(info) == info.id
    backend.unlock(info.id)
    assert backend.lock_holder() is None
    other = kit.open()
    again = new_lock_info("plan")
    assert other.lock(again) == again.id
    other.unlock(again.id)


def test_lock_holder_describes_the_holder(kit: BackendKit) -> None:
    backend = kit.open()
    info = new_lock_info("apply")
    backend.lock(info)
    holder = kit.open().lock_holder()
    assert holder is not None
    assert holder.model_dump(exclude={"backend"}) == info.model_dump(exclude={"backend"})
    assert holder.backend == backend.describe()
    backend.unlock(info.id)
    assert kit.open().lock_holder() is None


def test_second_lock_fails_naming_the_holder(kit: BackendKit) -> None:
    first, second = kit.open(), kit.open()
    info = new_lock_info("apply")
    first.lock(info)
    with pytest.raises(LockHeldError) as caught:
        second.lock(new_lock_info("plan"))
    assert isinstance(caught.value.holder, LockInfo)
    assert caught.value.holder.id == info.id
    assert info.id in str(caught.value)
    assert info.who in str(caught.value)
    # the same instance cannot take it twice either
    with pytest.raises(LockHeldError):
        first.lock(new_lock_info("plan"))
    first.unlock(info.id)


def test_lock_with_timeout_waits_and_succeeds_when_released(kit: BackendKit) -> None:
    holder_backend, waiter = kit.open(), kit.open()
    held = new_lock_info("apply")
    holder_backend.lock(held)
    seen: list[LockInfo | None] = []
    released = threading.Event()

    def release_once_waiting(holder: LockInfo | None) -> None:
        seen.append(holder)
        if not released.is_set():
            released.set()
            threading.Thread(target=holder_backend.unlock, args=(held.id,)).start()

    wanted = new_lock_info("plan")
    assert waiter.lock(wanted, timeout=60, on_wait=release_once_waiting) == wanted.id
    assert seen
    assert seen[0] is not None
    assert seen[0].id == held.id
    assert kit.open().lock_holder() == waiter.lock_holder()
    waiter.unlock(wanted.id)


def test_lock_with_timeout_gives_up_naming_the_holder(kit: BackendKit) -> None:
    first, second = kit.open(), kit.open()
    info = new_lock_info("apply")
    first.lock(info)
    waits: list[LockInfo | None] = []
    with pytest.raises(LockHeldError, match="gave up") as caught:
        second.lock(new_lock_info("plan"), timeout=0.3, on_wait=waits.append)
    assert waits
    assert isinstance(caught.value.holder, LockInfo)
    assert caught.value.holder.id == info.id
    first.unlock(info.id)


def test_unlock_with_a_wrong_id_fails_and_keeps_the_lock(kit: BackendKit) -> None:
    backend = kit.open()
    info = new_lock_info("apply")
    backend.lock(info)
    with pytest.raises(LockError, match="does not hold"):
        backend.unlock("00000000-0000-4000-8000-000000000000")
    with pytest.raises(LockError, match="does not hold"):
        kit.open().unlock(info.id)  # another instance cannot unlock it either
    holder = kit.open().lock_holder()
    assert holder is not None
    assert holder.id == info.id
    backend.unlock(info.id)


def test_lock_of_a_dead_holder_is_free_and_its_info_overwritten(kit: BackendKit) -> None:
    dead, alive = kit.open(), kit.open()
    stale = new_lock_info("apply")
    dead.lock(stale)
    kit.abandon(dead, stale.id)
    fresh = new_lock_info("plan")
    # A server may take a moment to notice a closed session; waiting is allowed, not timed.
    alive.lock(fresh, timeout=30)
    holder = kit.open().lock_holder()
    assert holder is not None
    assert holder.id == fresh.id
    alive.unlock(fresh.id)


def test_force_unlock_clears_a_dead_holders_lock(kit: BackendKit) -> None:
    dead, operator = kit.open(), kit.open()
    stale = new_lock_info("apply")
    dead.lock(stale)
    kit.abandon(dead, stale.id)
    operator.force_unlock(stale.id)
    fresh = new_lock_info("apply")
    operator.lock(fresh)
    operator.unlock(fresh.id)


def test_force_unlock_of_own_lock_releases_it(backend: StateBackend) -> None:
    info = new_lock_info("apply")
    backend.lock(info)
    backend.force_unlock(info.id)
    assert backend.lock_holder() is None


def test_force_unlock_with_a_wrong_id_fails_and_keeps_the_lock(kit: BackendKit) -> None:
    holder_backend = kit.open()
    info = new_lock_info("apply")
    holder_backend.lock(info)
    with pytest.raises(LockError, match=f"current lock is {info.id}"):
        kit.open().force_unlock("00000000-0000-4000-8000-000000000000")
    holder = kit.open().lock_holder()
    assert holder is not None
    assert holder.id == info.id
    holder_backend.unlock(info.id)


def test_force_unlock_when_nothing_is_locked_fails(backend: StateBackend) -> None:
    with pytest.raises(LockError, match="cannot force-unlock"):
        backend.force_unlock("00000000-0000-4000-8000-000000000000")


def test_close_releases_held_locks(kit: BackendKit) -> None:
    backend = kit.open()
    backend.lock(new_lock_info("apply"))
    backend.close()
    other = kit.open()
    info = new_lock_info("plan")
    other.lock(info)
    other.unlock(info.id)


def test_describe_names_the_backend_without_secrets(kit: BackendKit) -> None:
    backend = kit.open()
    text = backend.describe()
    assert text.startswith(kit.kind)
    if kit.secret is not None:
        assert kit.secret not in text
    info = new_lock_info("apply")
    backend.lock(info)
    holder = backend.lock_holder()
    assert holder is not None
    if kit.secret is not None:
        assert kit.secret not in holder.model_dump_json()
    backend.unlock(info.id)


def test_concurrent_writers_from_one_serial_exactly_one_wins(kit: BackendKit) -> None:
    base = kit.open().write(new_state(), expected_serial=0)
    writers = [kit.open() for _ in range(6)]
    start = threading.Barrier(len(writers))
    won: list[str] = []
    lost: list[StateConflictError] = []

    def write(index: int, backend: StateBackend) -> None:
        doc = base.with_resource(_resource(f"GID_writer{index}"))
        start.wait()
        try:
            backend.write(doc, expected_serial=base.serial)
            won.append(f"GID_writer{index}")
        except StateConflictError as exc:
            lost.append(exc)

    threads = [
        threading.Thread(target=write, args=(i, backend)) for i, backend in enumerate(writers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1
    assert len(lost) == len(writers) - 1
    stored = kit.open().read()
    assert stored is not None
    assert stored.serial == base.serial + 1
    assert [r.group_id for r in stored.resources] == won


def test_concurrent_first_writes_exactly_one_wins(kit: BackendKit) -> None:
    writers = [kit.open() for _ in range(4)]
    start = threading.Barrier(len(writers))
    results: list[bool] = []

    def write(backend: StateBackend) -> None:
        start.wait()
        try:
            backend.write(new_state(), expected_serial=0)
            results.append(True)
        except StateConflictError:
            results.append(False)

    threads = [threading.Thread(target=write, args=(backend,)) for backend in writers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False, False, False, True]


# --- reading is as strict as a desired file (a hand-edited or tampered state) ------------------


def _stored(**resource_fields: object) -> dict[str, object]:
    resource = {"region": "cn-hangzhou", "instance_id": "post-cn-test0001", "group_id": "GID_a"}
    return {"format_version": 1, "lineage": "l-1", "serial": 3, "resources": [resource]} | {
        "resources": [{**resource, **resource_fields}]
    }


def test_a_duplicated_resource_is_refused_naming_both_entries(kit: BackendKit) -> None:
    # The attack: an unprotected second copy of a protected GID, so "last copy wins" drops
    # the protection and removing the GID from the file deletes it.
    document = _stored(protect=True)
    first = document["resources"][0]  # type: ignore[index]
    document["resources"] = [first, {**first, "protect": False}]
    kit.plant(document)
    with pytest.raises(StateError) as caught:
        kit.open().read()
    message = str(caught.value)
    assert "resources[1]" in message and "resources[0]" in message
    assert "post-cn-test0001/GID_a" in message and "duplicate" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("protect", "yes", "protect"),  # read as true before: no coercion
        ("protect", 1, "protect"),
        ("origin", "stolen", "origin"),
        ("clients", "GID_a@@@one", "clients"),
        ("owner", "mallory", "owner"),  # an unknown field
    ],
)
def test_a_field_of_the_wrong_type_or_unknown_is_refused_naming_the_resource(
    kit: BackendKit, field: str, value: object, words: str
) -> None:
    kit.plant(_stored(**{field: value}))
    with pytest.raises(StateError) as caught:
        kit.open().read()
    message = str(caught.value)
    assert "resources[0]" in message and "post-cn-test0001/GID_a" in message
    assert words in message
    assert "\n" not in message


@pytest.mark.parametrize(("field", "value"), [("serial", "3"), ("lineage", 7), ("serial", -1)])
def test_a_document_field_of_the_wrong_type_is_refused_naming_it(
    kit: BackendKit, field: str, value: object
) -> None:
    document = _stored()
    kit.plant(document)
    if kit.kind == "postgres":  # the columns hold what the document claims
        kit.sql(
            "UPDATE {}.states SET document = jsonb_set(document, %s, %s::jsonb)",
            ([field], json.dumps(value)),
        )
    else:
        kit.plant(document | {field: value})
    with pytest.raises(StateError, match=f"{field}:"):
        kit.open().read()


def test_a_valid_state_written_by_hand_still_reads(kit: BackendKit) -> None:
    kit.plant(_stored(protect=True, clients=["GID_a@@@one"]))
    doc = kit.open().read()
    assert doc is not None
    assert doc.resources[0].protect is True
    assert doc.resources[0].clients == ("GID_a@@@one",)


def test_check_lock_passes_while_held_and_refuses_a_lock_not_held(backend: StateBackend) -> None:
    info = new_lock_info("apply")
    backend.lock(info)
    backend.check_lock(info.id)
    backend.unlock(info.id)
    with pytest.raises(LockLostError, match=f"the state lock {info.id} was lost"):
        backend.check_lock(info.id)
