"""The collector's pause: off inside, the caller's setting after, and what was built inside
no longer left to the youngest generation (whose next collection, at the first allocation
after the pause, would otherwise scan all of it)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from reconciler.collector import collector_paused

MANY = 20_000  # far above the youngest generation's threshold


@pytest.fixture
def collector_enabled() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.enable()
    yield
    if not was_enabled:
        gc.disable()


def collections() -> list[int]:
    """How many collections of each generation this process has run."""
    return [generation["collections"] for generation in gc.get_stats()]


def test_what_a_pause_built_is_not_scanned_when_it_ends(collector_enabled: None) -> None:
    with collector_paused():
        assert not gc.isenabled()
        built = [[n] for n in range(MANY)]
        before = collections()
    after = collections()
    assert gc.isenabled()
    assert after == before
    assert gc.get_freeze_count() == 0
    assert gc.is_tracked(built[-1])


def test_a_pause_inside_a_freeze_leaves_the_frozen_objects_frozen(
    collector_enabled: None,
) -> None:
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with collector_paused():
            built = [[n] for n in range(MANY)]
            before = collections()
        after = collections()
        assert gc.get_freeze_count() == frozen
        # Left young: the first allocation after the pause collected them.
        assert after[0] > before[0]
        del built
    finally:
        gc.unfreeze()


def test_a_pause_inside_a_pause_keeps_the_collector_off(collector_enabled: None) -> None:
    with collector_paused():
        with collector_paused():
            built = [[n] for n in range(MANY)]
        assert not gc.isenabled()
        assert gc.get_count()[0] >= MANY
        del built
    assert gc.isenabled()
