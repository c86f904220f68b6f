"""Moments and ranges as a person types them: ``30m``/``6h``/``7d`` ago, ``now``, ISO 8601
(a time without an offset is local time) or milliseconds since the epoch."""

from __future__ import annotations

import re
from datetime import datetime

from reconciler.duration import duration_ms

ACCEPTED_FORMS = (
    "30m, 6h, 7d or 1d12h (that long ago), now, ISO 8601 (2026-12-01T08:00, "
    "2026-12-01T08:00:00+08:00, 2026-12-01; local time unless an offset or Z is given) "
    "or epoch ms (1764576000000)"
)
# Epoch milliseconds have 12 to 14 digits for any date from 1973 to 5138; a shorter bare
# number (``30``) is more likely a forgotten unit than a moment in 1970.
_EPOCH_MS = re.compile(r"^\d{12,14}$")
DEFAULT_SINCE = "24h"
# history and trend ask one day per call at 30 calls a minute: 31 days is about a minute of
# calls, while a slip of the keyboard (--since 100000d) would be days of them.
MAX_RANGE_DAYS = 31
_DAY_MS = 86_400_000


class TimeSpecError(ValueError):
    """Text that is not a moment, a range that runs backwards (the message shows the accepted
    forms) or one longer than ``MAX_RANGE_DAYS``."""


def parse_moment(text: str, *, now_ms: int) -> int:
    """A moment in ms since the epoch; a duration means that long before ``now_ms``."""
    cleaned = text.strip()
    if cleaned.lower() == "now":
        return now_ms
    back = duration_ms(cleaned)
    if back is not None:
        return now_ms - back
    if _EPOCH_MS.match(cleaned):
        return int(cleaned)
    try:
        moment = datetime.fromisoformat(cleaned)
    except ValueError:
        raise TimeSpecError(f"{text!r} is not a time; use {ACCEPTED_FORMS}") from None
    if moment.tzinfo is None:
        moment = moment.astimezone()  # a naive time is the user's local time
    return int(moment.timestamp() * 1000)


def resolve_range(
    *, since: str | None, start: str | None, end: str | None, now_ms: int
) -> tuple[int, int]:
    """``(begin_ms, end_ms)`` from ``--since`` or ``--from``/``--to``: ``--since X`` is
    ``--from X --to now``; ``--to`` alone looks back ``DEFAULT_SINCE``; nothing at all is
    ``--since DEFAULT_SINCE``. A range longer than ``MAX_RANGE_DAYS`` is refused."""
    if since is not None and (start is not None or end is not None):
        raise TimeSpecError("give --since, or --from/--to, not both")
    end_ms = now_ms if end is None else parse_moment(end, now_ms=now_ms)
    if since is not None:
        begin_ms = parse_moment(since, now_ms=now_ms)
    elif start is not None:
        begin_ms = parse_moment(start, now_ms=now_ms)
    else:
        begin_ms = parse_moment(DEFAULT_SINCE, now_ms=end_ms)
    first = "--since" if since is not None else "--from"
    if begin_ms > end_ms:
        raise TimeSpecError(
            f"{first} ({start or since}) is after --to ({end or 'now'}); times are {ACCEPTED_FORMS}"
        )
    if end_ms - begin_ms > MAX_RANGE_DAYS * _DAY_MS:
        days = f"{(end_ms - begin_ms) / _DAY_MS:.1f}".removesuffix(".0")
        raise TimeSpecError(
            f"the range {first} {start or since or DEFAULT_SINCE} to {end or 'now'} spans {days} "
            f"days; at most {MAX_RANGE_DAYS} days per command (one call a day, 30 calls a "
            "minute): split it into several commands"
        )
    return begin_ms, end_ms
