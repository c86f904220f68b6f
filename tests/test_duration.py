"""One way to write a duration: the lock timeout, inspect's times and the emulator fixture's
series and relative moments read the same forms to the same length."""

from __future__ import annotations

import pytest

from reconciler.duration import parse_duration
from reconciler.emulator.fixture import load_fixture_text
from reconciler.emulator.store import EmulatorStore
from reconciler.errors import ConfigError
from reconciler.inspect.timespec import TimeSpecError, parse_moment

NOW = 1_796_000_000_000
FORMS = {
    "250ms": 250,
    "90s": 90_000,
    "1m30s": 90_000,
    "1.5h": 5_400_000,
    "2H": 7_200_000,
    "1d": 86_400_000,
    "1d12h": 129_600_000,
    "1w": 604_800_000,
}
NOT_DURATIONS = ["", "s", "5x", "m5", "1m 30s", "-3s", "5s5", "abc", "1y"]


def _series_step(every: str, span: int = 604_800_000) -> int:
    """The step between the samples of a fixture series written with ``every``."""
    store = EmulatorStore()
    load_fixture_text(
        "instances:\n  - instance_id: post-cn-step\n    groups: [GID_step]\n"
        "    online_history: [{group_id: GID_step, from: 0, to: "
        f"{2 * span}, every: '{every}', count: 1}}]\n",
        "step.yaml",
        store,
    )
    points = store.online_history("post-cn-step", "GID_step", 0, 2 * span)
    return points[1].x - points[0].x


@pytest.mark.parametrize(("text", "millis"), FORMS.items())
def test_every_reader_takes_the_same_durations(text: str, millis: int) -> None:
    assert parse_duration(text) * 1000 == pytest.approx(millis)
    assert parse_moment(text, now_ms=NOW) == NOW - millis
    assert _series_step(text, millis) == millis


@pytest.mark.parametrize("text", NOT_DURATIONS)
def test_every_reader_refuses_the_same_nonsense(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)
    with pytest.raises(TimeSpecError):
        parse_moment(text, now_ms=NOW)
    with pytest.raises(ConfigError, match="every must be a positive duration"):
        _series_step(text)
