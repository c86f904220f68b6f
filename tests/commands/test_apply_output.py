"""apply's progress on a terminal and in a log: the same line for a failed action, painted
from the one palette only when colour is on."""

from __future__ import annotations

import io
import threading

import pytest

from reconciler.apply.result import ActionOutcome, OutcomeStatus
from reconciler.commands.apply_output import Output
from reconciler.plan.model import Action
from tests.fixtures.apply_kit import change

RED = "\x1b[31m"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _failed() -> ActionOutcome:
    return ActionOutcome(
        change=change(Action.CREATE, "GID_alpha"),
        status=OutcomeStatus.FAILED,
        detail="failed",
        error_code="BIZ_TOPIC_NOT_FOUND",
        error_message="no topic",
    )


def _progress(stream: io.StringIO, *, no_color: bool, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr("sys.stdout", stream)
    with Output(json_mode=False, no_color=no_color).progress() as observer:
        observer.started(1)
        observer.finished(_failed())
    return stream.getvalue()


@pytest.mark.parametrize("stream_type", [Terminal, io.StringIO])
def test_a_failure_is_painted_only_with_colour(
    stream_type: type[io.StringIO], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    coloured = _progress(stream_type(), no_color=False, monkeypatch=monkeypatch)
    assert "GID_alpha" in coloured
    assert "BIZ_TOPIC_NOT_FOUND: no topic" in coloured
    assert (RED in coloured) is (stream_type is Terminal)
    plain = _progress(stream_type(), no_color=True, monkeypatch=monkeypatch)
    assert "failed: BIZ_TOPIC_NOT_FOUND: no topic" in plain
    assert RED not in plain


class _FlushRecorder(io.StringIO):
    """A log stream that shows what had reached it at each flush."""

    def __init__(self) -> None:
        super().__init__()
        self.flushed: list[str] = []
        self.flushed_once = threading.Event()

    def flush(self) -> None:
        self.flushed.append(self.getvalue())
        self.flushed_once.set()


def _done(name: str) -> ActionOutcome:
    return ActionOutcome(
        change=change(Action.CREATE, name), status=OutcomeStatus.DONE, detail="created"
    )


def test_log_lines_keep_their_order_and_all_reach_the_stream_by_close(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stream = _FlushRecorder()
    monkeypatch.setattr("sys.stdout", stream)
    names = [f"GID_n{index:03d}" for index in range(200)]
    with Output(json_mode=False, no_color=True).progress() as observer:
        observer.started(len(names))
        assert stream.flushed[-1] == "Applying 200 change(s)...\n"
        for name in names:
            observer.finished(_done(name))
    lines = stream.flushed[-1].splitlines()
    assert lines[0] == "Applying 200 change(s)..."
    assert [name for line in lines[1:] for name in names if name in line] == names


def test_a_log_line_is_flushed_without_waiting_for_the_next(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stream = _FlushRecorder()
    monkeypatch.setattr("sys.stdout", stream)
    with Output(json_mode=False, no_color=True).progress() as observer:
        observer.started(2)
        stream.flushed_once.clear()
        observer.finished(_done("GID_first"))
        assert stream.flushed_once.wait(10), "the timer never flushed the line"
        assert "GID_first" in stream.flushed[-1]
        observer.finished(_done("GID_second"))
