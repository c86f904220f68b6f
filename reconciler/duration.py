"""Durations as people write them (``--lock-timeout 1m30s``). No imports beyond ``re``, so a
command's option callbacks can parse them without loading the models."""

from __future__ import annotations

import re

_DURATION_RE = re.compile(r"(?P<value>\d+(?:\.\d+)?)(?P<unit>ms|h|m|s)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """Seconds in ``"30s"``, ``"5m"``, ``"1m30s"``, ``"1h"``, ``"250ms"``, ``"0"`` or a bare
    number of seconds; raises ValueError with a message fit for the user."""
    cleaned = text.strip().lower()
    try:
        seconds = float(cleaned)
    except ValueError:
        pass
    else:
        if seconds < 0:
            raise ValueError(f"duration {text!r} is negative")
        return seconds
    total, position = 0.0, 0
    for match in _DURATION_RE.finditer(cleaned):
        if match.start() != position:
            break
        total += float(match["value"]) * _UNIT_SECONDS[match["unit"]]
        position = match.end()
    if not cleaned or position != len(cleaned):
        raise ValueError(f"{text!r} is not a duration like 30s, 5m, 1m30s or 0")
    return total
