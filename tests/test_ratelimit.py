from __future__ import annotations

import pytest

from reconciler.ratelimit import Rate, TokenBucket, parse_rate


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("text", "rate"),
    [("30/min", Rate(30, 60)), ("50/s", Rate(50, 1)), (" 2.5 / sec ", Rate(2.5, 1))],
)
def test_parse_rate_accepts_per_second_and_per_minute(text, rate):
    assert parse_rate(text) == rate


@pytest.mark.parametrize("text", ["", "30", "0/s", "-1/s", "5/hour", "x/min"])
def test_parse_rate_rejects_nonsense(text):
    with pytest.raises(ValueError, match="is not a rate"):
        parse_rate(text)


def test_bucket_allows_one_period_burst_then_refills_at_the_rate():
    clock = FakeClock()
    bucket = TokenBucket(Rate(3, 60), clock=clock)
    assert [bucket.try_acquire() for _ in range(4)] == [True, True, True, False]
    clock.now = 19.0
    assert not bucket.try_acquire()
    clock.now = 20.0
    assert bucket.try_acquire()
    assert bucket.wait_time() == pytest.approx(20.0)


def test_acquire_gives_up_when_the_deadline_comes_first():
    clock = FakeClock()
    bucket = TokenBucket(Rate(1, 60), clock=clock)
    assert bucket.acquire(deadline=0.0)
    assert not bucket.acquire(deadline=30.0)
