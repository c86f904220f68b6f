"""The service answers at most one day per history or trend call, counted from BeginTime,
with both ends included. A longer range is asked as consecutive windows that neither overlap
nor leave a gap (each starts 1 ms after the previous one ends), and the answers are stitched:
sorted, each moment once, nothing outside the range."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

ONE_DAY_MS = 24 * 60 * 60 * 1000


@dataclass(frozen=True)
class Point:
    at_ms: int
    value: float


def day_windows(begin_ms: int, end_ms: int, *, span_ms: int = ONE_DAY_MS) -> list[tuple[int, int]]:
    """Inclusive ``(begin, end)`` windows of at most ``span_ms`` covering the range."""
    if begin_ms > end_ms:
        raise ValueError("begin is after end")
    windows = []
    start = begin_ms
    while True:
        stop = min(start + span_ms, end_ms)
        windows.append((start, stop))
        if stop >= end_ms:
            return windows
        start = stop + 1


def stitch(chunks: Iterable[Iterable[Point]], begin_ms: int, end_ms: int) -> list[Point]:
    """One series from the windows' answers: in time order, one point per moment (the first
    answer wins should a service repeat a moment at a seam), none outside the range."""
    seen: dict[int, Point] = {}
    for chunk in chunks:
        for point in chunk:
            if begin_ms <= point.at_ms <= end_ms and point.at_ms not in seen:
                seen[point.at_ms] = point
    return [seen[at] for at in sorted(seen)]
