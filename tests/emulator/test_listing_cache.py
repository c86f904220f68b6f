"""The emulator keeps a listing's columns until the data may have changed: a repeated listing of
unchanged data is the same columns, and every write seen by the store (its own, a rolled back
one, another process's to the same file) gives the next listing what the table holds."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.emulator.store import EmulatorStore

INSTANCE = "post-cn-cache"
OTHER = "post-cn-other"


def _store(path: Path | None = None) -> EmulatorStore:
    store = EmulatorStore(str(path) if path is not None else None)
    if path is None or not path.exists() or not store.groups([INSTANCE]):
        store.add_account("LTAI5tCacheKey", "cache-secret")
        for instance in (INSTANCE, OTHER):
            store.add_instance(instance, region="cn-hangzhou", topics=["orders"])
    return store


def _names(store: EmulatorStore, *instances: str) -> list[str]:
    return list(store.group_columns(list(instances)).group_ids)


def test_an_unchanged_listing_is_kept_and_a_write_reads_it_again() -> None:
    with _store() as store:
        store.add_group(INSTANCE, "GID_a")
        first = store.group_columns([INSTANCE])
        assert store.group_columns([INSTANCE]) is first
        store.add_group(INSTANCE, "GID_b")
        assert _names(store, INSTANCE) == ["GID_a", "GID_b"]
        with store.transaction() as db:
            store.delete_group(db, INSTANCE, "GID_a")
        assert _names(store, INSTANCE) == ["GID_b"]
        # Another instance's write changes nothing listed here, but is no reason to trust
        # less: any commit reads again.
        store.add_group(OTHER, "GID_c")
        assert _names(store, INSTANCE, OTHER) == ["GID_b", "GID_c"]


def test_a_rolled_back_write_leaves_the_listing_as_it_was() -> None:
    with _store() as store:
        store.add_group(INSTANCE, "GID_a")
        assert _names(store, INSTANCE) == ["GID_a"]
        with pytest.raises(RuntimeError), store.transaction() as db:
            store.insert_group(db, INSTANCE, "GID_gone", None)
            raise RuntimeError("rolled back")
        assert _names(store, INSTANCE) == ["GID_a"]


def test_another_connections_write_to_the_same_file_is_seen(tmp_path: Path) -> None:
    path = tmp_path / "emulator.sqlite"
    with _store(path) as store:
        store.add_group(INSTANCE, "GID_a")
        assert _names(store, INSTANCE) == ["GID_a"]
        with EmulatorStore(str(path)) as other:  # another emulator process, say
            other.add_group(INSTANCE, "GID_b")
            with other.transaction() as db:
                other.delete_group(db, INSTANCE, "GID_a")
        assert _names(store, INSTANCE) == ["GID_b"]


def test_kept_listings_are_bounded() -> None:
    with _store() as store:
        store.add_group(INSTANCE, "GID_a")
        for n in range(600):
            store.group_columns([f"post-cn-unknown{n}"])
        assert len(store._listings) <= 512
        assert _names(store, INSTANCE) == ["GID_a"]
