"""Renderers of ``reconciler inspect``: the chart at a fixed width (a snapshot), the numbers,
relative times; RECONCILER_UPDATE_SNAPSHOTS=1 rewrites the snapshot."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator

import pytest

from reconciler.inspect.queries import Series
from reconciler.inspect.windows import Point
from reconciler.render.inspect import ago, iso_utc, series_chart, series_numbers
from tests.fixtures.snapshots import check_snapshot

HOUR = 3_600_000
BEGIN = 1_796_169_600_000  # 2026-12-02T00:00:00Z, 08:00 in UTC+8
ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture
def china_time() -> Iterator[None]:
    """Local time fixed at UTC+8 (a POSIX TZ string needs no tz database)."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "CST-8"
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = before
        time.tzset()


def day_series() -> Series:
    counts = [2, 2, 1, 1, 1, 2, 4, 8, 14, 18, 20, 21, 19, 20, 21, 20, 18, 17, 15, 12, 9, 6, 4, 3]
    points = tuple(Point(BEGIN + i * HOUR, float(c)) for i, c in enumerate(counts))
    return Series(
        kind="history",
        subject="GID_orders",
        instance_id="post-cn-demo0001",
        begin_ms=BEGIN,
        end_ms=BEGIN + 23 * HOUR,
        title="GID_orders online clients",
        unit="clients",
        points=points,
        calls=1,
    )


def test_chart_at_a_fixed_width_matches_the_snapshot(china_time: None) -> None:
    chart = series_chart(day_series(), width=72, height=16, color=False)
    assert "\x1b[" not in chart
    assert max(len(line) for line in chart.splitlines()[:-1]) <= 72
    assert "local time (CST, UTC+08:00)" in chart
    ticks = chart.splitlines()[-3].split()
    assert ticks == ["12:00", "18:00", "00:00", "06:00"]  # round local times
    assert chart.splitlines()[-1] == (
        "min 1 at 10:00 · max 21 at 19:00 · last 3 at 07:00  (clients, local time)"
    )
    check_snapshot("inspect-chart.txt", chart)


def test_chart_in_colour_is_the_same_chart(china_time: None) -> None:
    plain = series_chart(day_series(), width=72, height=16, color=False)
    coloured = series_chart(day_series(), width=72, height=16, color=True)
    assert "\x1b[" in coloured
    uncoloured = [line.rstrip() for line in ANSI.sub("", coloured).splitlines()]
    assert uncoloured == plain.splitlines()


def test_numbers_are_local_times_then_the_summary(china_time: None) -> None:
    lines = series_numbers(day_series()).splitlines()
    assert lines[0] == "# GID_orders online clients (post-cn-demo0001) (clients, CST, UTC+08:00)"
    assert lines[1] == "2026-12-02 08:00:00  2"
    assert lines[-1].startswith("min 1 at 10:00")
    empty = Series("history", "GID_x", None, BEGIN, BEGIN + HOUR, "t", "clients", (), 1)
    assert (
        series_numbers(empty).splitlines()[-1]
        == "no data from 2026-12-02 08:00 to 2026-12-02 09:00"
    )


def test_relative_and_iso_times() -> None:
    now = BEGIN
    assert ago(now - 2_000, now) == "just now"
    assert ago(now - 5 * 60_000, now) == "5 minutes ago"
    assert ago(now - 60_000, now) == "1 minute ago"
    assert ago(now - 3 * HOUR, now) == "3 hours ago"
    assert ago(now - 49 * HOUR, now) == "2 days ago"
    assert ago(now + 2 * HOUR, now) == "in 2 hours"
    assert iso_utc(BEGIN) == "2026-12-02T00:00:00Z"
    assert iso_utc(BEGIN + 5) == "2026-12-02T00:00:00.005Z"
