"""Time specs, day windows and call plans: the pure parts of ``reconciler inspect``."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from reconciler.inspect.pacing import CallPlan
from reconciler.inspect.timespec import TimeSpecError, parse_moment, resolve_range
from reconciler.inspect.windows import ONE_DAY_MS, Point, day_windows, stitch
from reconciler.ratelimit import Rate

NOW = 1_796_212_800_000  # 2026-12-02T12:00:00Z


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", NOW - 30 * 60_000),
        ("6h", NOW - 6 * 3_600_000),
        ("7d", NOW - 7 * ONE_DAY_MS),
        ("1d12h", NOW - 36 * 3_600_000),
        ("now", NOW),
        ("1764576000000", 1_764_576_000_000),
        ("2026-12-01T08:00:00Z", int(datetime(2026, 12, 1, 8, tzinfo=UTC).timestamp() * 1000)),
        ("2026-12-01T16:00:00+08:00", int(datetime(2026, 12, 1, 8, tzinfo=UTC).timestamp() * 1000)),
    ],
)
def test_parse_moment_accepts_the_documented_forms(text: str, expected: int) -> None:
    assert parse_moment(text, now_ms=NOW) == expected


def test_a_time_without_offset_is_local_time() -> None:
    local = datetime(2026, 12, 1, 8, 0).astimezone()
    assert parse_moment("2026-12-01T08:00", now_ms=NOW) == int(local.timestamp() * 1000)


@pytest.mark.parametrize("text", ["yesterday-ish", "30", "5x", "", "2026-13-01"])
def test_a_bad_time_names_the_accepted_forms(text: str) -> None:
    with pytest.raises(TimeSpecError, match=r"30m, 6h, 7d .*ISO 8601.*epoch ms"):
        parse_moment(text, now_ms=NOW)


def test_resolve_range_defaults_and_conflicts() -> None:
    assert resolve_range(since=None, start=None, end=None, now_ms=NOW) == (NOW - ONE_DAY_MS, NOW)
    assert resolve_range(since="2h", start=None, end=None, now_ms=NOW) == (NOW - 7_200_000, NOW)
    assert resolve_range(since=None, start="3h", end="1h", now_ms=NOW) == (
        NOW - 3 * 3_600_000,
        NOW - 3_600_000,
    )
    with pytest.raises(TimeSpecError, match="not both"):
        resolve_range(since="2h", start="3h", end=None, now_ms=NOW)
    with pytest.raises(TimeSpecError, match=r"--from \(1h\) is after --to \(3h\)"):
        resolve_range(since=None, start="1h", end="3h", now_ms=NOW)


def test_resolve_range_refuses_more_than_31_days() -> None:
    assert resolve_range(since="31d", start=None, end=None, now_ms=NOW) == (
        NOW - 31 * ONE_DAY_MS,
        NOW,
    )
    with pytest.raises(TimeSpecError, match=r"--since 31d1s to now spans 31 days; at most 31 "):
        resolve_range(since="31d1s", start=None, end=None, now_ms=NOW)
    with pytest.raises(TimeSpecError, match=r"--from 2026-01-01 to 2026-03-01 spans 59 days"):
        resolve_range(since=None, start="2026-01-01", end="2026-03-01", now_ms=NOW)


def test_day_windows_cover_the_range_without_overlap_or_gap() -> None:
    begin = NOW - 3 * ONE_DAY_MS
    windows = day_windows(begin, NOW)
    assert len(windows) == 3  # a 3-day range is three calls, not four
    assert windows[0][0] == begin and windows[-1][1] == NOW
    for (_, first_end), (second_begin, _) in itertools.pairwise(windows):
        assert second_begin == first_end + 1
    assert all(stop - start <= ONE_DAY_MS for start, stop in windows)
    assert day_windows(NOW, NOW) == [(NOW, NOW)]
    assert len(day_windows(NOW - ONE_DAY_MS, NOW)) == 1


def test_stitch_orders_dedupes_and_clips() -> None:
    chunks = [
        [Point(5, 1.0), Point(10, 2.0)],
        [Point(10, 9.0), Point(1, 0.0), Point(20, 3.0), Point(99, 4.0)],
    ]
    assert stitch(chunks, 1, 20) == [Point(1, 0.0), Point(5, 1.0), Point(10, 2.0), Point(20, 3.0)]


def test_call_plan_counts_only_the_calls_beyond_the_bucket() -> None:
    rate = Rate(30, 60.0)
    assert not CallPlan("A", 30, rate).exceeds_bucket
    plan = CallPlan("A", 40, rate)
    assert plan.exceeds_bucket
    assert plan.seconds() == pytest.approx(20.0)
    assert plan.remaining_after(35) == pytest.approx(10.0)
    assert plan.remaining_after(40) == 0
    assert CallPlan("A", 500, None).seconds() == 0
