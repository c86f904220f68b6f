"""Loading pauses the cyclic collector (a large file is a few hundred thousand live objects)
and leaves it as it found it, whether the load succeeds or fails."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.config import checks, load_desired_paths
from reconciler.errors import ConfigErrors

VALID = "version: 1\ninstances:\n  - id: post-cn-1\n    groups: [GID_orders]\n"


@pytest.fixture
def collector_while_checking(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[bool]]:
    """Whether the collector was enabled each time a document's shape was checked."""
    seen: list[bool] = []
    check_shape = checks.check_shape

    def spy(data: Any) -> Any:
        seen.append(gc.isenabled())
        return check_shape(data)

    monkeypatch.setattr(checks, "check_shape", spy)
    was_enabled = gc.isenabled()
    yield seen
    if was_enabled:
        gc.enable()


@pytest.mark.parametrize("text", [VALID, VALID + "  - id: post-cn-1\n"])
@pytest.mark.parametrize("several", [False, True])
def test_the_collector_is_off_while_loading_and_on_again_after(
    tmp_path: Path, collector_while_checking: list[bool], text: str, several: bool
) -> None:
    (tmp_path / "a.yaml").write_text(text, encoding="utf-8")
    if several:
        (tmp_path / "b.yaml").write_text("version: 1\n", encoding="utf-8")
    gc.enable()
    try:
        load_desired_paths([tmp_path], env={})
    except ConfigErrors:
        assert text != VALID
    assert collector_while_checking == [False]
    assert gc.isenabled()


def test_a_collector_paused_by_the_caller_stays_paused(
    tmp_path: Path, collector_while_checking: list[bool]
) -> None:
    (tmp_path / "a.yaml").write_text(VALID, encoding="utf-8")
    gc.disable()
    load_desired_paths([tmp_path / "a.yaml"], env={})
    assert collector_while_checking == [False]
    assert not gc.isenabled()
