"""apply's progress on a terminal and in a log: the same line for a failed action, painted
from the one palette only when colour is on."""

from __future__ import annotations

import io

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
