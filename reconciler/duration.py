"""Durations as people write them (``--lock-timeout 1m30s``, ``--since 7d``, a fixture's
``every: 1m``): the one reading every command and the emulator share. No imports beyond
``re``, so a command's option callbacks can parse them without loading the models."""

from __future__ import annotations

import re

_PART = re.compile(r"(?P<value>\d+(?:\.\d+)?)(?P<unit>ms|s|m|h|d|w)")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
FORMS = "30s, 5m, 1m30s, 1h, 7d, 1w or 250ms"


def _total_ms(text: str) -> float | None:
    """The milliseconds of ``<number><unit>`` parts written without spaces, or None."""
    cleaned = text.strip().lower()
    total, position = 0.0, 0
    for match in _PART.finditer(cleaned):
        if match.start() != position:
            return None
        total += float(match["value"]) * _UNIT_MS[match["unit"]]
        position = match.end()
    if not cleaned or position != len(cleaned):
        return None
    return total


def duration_ms(text: str) -> int | None:
    """``30s``, ``1m30s``, ``7d``, ``1w``, ``250ms`` in whole milliseconds; None when ``text``
    is not a duration (a bare number is not one: its unit would be a guess)."""
    total = _total_ms(text)
    return None if total is None else round(total)


def parse_duration(text: str) -> float:
    """Seconds in a duration, ``"0"`` or a bare number of seconds; raises ValueError with a
    message fit for the user."""
    try:
        seconds = float(text.strip())
    except ValueError:
        pass
    else:
        if seconds < 0:
            raise ValueError(f"duration {text!r} is negative")
        return seconds
    total = _total_ms(text)
    if total is None:
        raise ValueError(f"{text!r} is not a duration like {FORMS}, or 0")
    return total / 1000
