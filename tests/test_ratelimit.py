from __future__ import annotations

import pytest

from reconciler.ratelimit import AccountRateLimits, AdaptiveBucket, Rate, TokenBucket, parse_rate


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


# -- AdaptiveBucket (AIMD) and the per-account registry --------------------------------------


def test_adaptive_bucket_paces_evenly_at_the_configured_rate():
    clock = FakeClock()
    bucket = AdaptiveBucket(Rate(10, 1), clock=clock)
    assert bucket.try_acquire()
    # Burst 1: the next token is due a tenth of a second later, not at once.
    assert not bucket.try_acquire()
    assert bucket.wait_time() == pytest.approx(0.1)
    clock.now = 0.1
    assert bucket.try_acquire()


def test_a_throttle_halves_the_rate_and_it_recovers_linearly():
    clock = FakeClock()
    bucket = AdaptiveBucket(Rate(10, 1), clock=clock)
    bucket.throttled()
    assert bucket.rate.per_second == pytest.approx(5.0)
    # One more cut within the cooldown is the same congestion: no second halving.
    clock.now = 0.5
    bucket.throttled()
    assert bucket.rate.per_second == pytest.approx(5.5)
    clock.now = 1.0
    bucket.throttled()
    assert bucket.rate.per_second == pytest.approx(3.0)
    # Recovery: +1 call/s each second (a tenth of the configured rate), capped at 10.
    clock.now = 3.0
    assert bucket.rate.per_second == pytest.approx(5.0)
    clock.now = 100.0
    assert bucket.rate.per_second == pytest.approx(10.0)
    assert bucket.configured == Rate(10, 1)


def test_the_rate_never_drops_below_the_floor():
    clock = FakeClock()
    bucket = AdaptiveBucket(Rate(16, 1), recovery=0.0, clock=clock)
    for second in range(20):
        clock.now = float(second)
        bucket.throttled()
    assert bucket.rate.per_second == pytest.approx(1.0)


def test_a_throttle_spends_saved_tokens_and_retry_after_holds_every_token_back():
    clock = FakeClock()
    bucket = AdaptiveBucket(Rate(10, 1), burst=5, clock=clock)
    bucket.throttled(retry_after=2.0)
    assert not bucket.try_acquire()
    assert bucket.wait_time() == pytest.approx(2.0)
    clock.now = 1.9
    assert not bucket.try_acquire()
    clock.now = 2.0
    assert bucket.try_acquire()
    # No burst came back in the hold: the tokens refill at the cut rate only.
    assert not bucket.try_acquire()


def test_adaptive_acquire_sleeps_on_the_clock_and_respects_the_deadline():
    clock = FakeClock()
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.now += seconds

    bucket = AdaptiveBucket(Rate(2, 1), clock=clock)
    assert bucket.acquire(sleep=sleep)
    assert bucket.acquire(sleep=sleep)
    assert slept == [pytest.approx(0.5)]
    assert not bucket.acquire(deadline=clock.now + 0.1, sleep=sleep)


def test_account_registry_shares_one_bucket_per_key_and_action():
    clock = FakeClock()
    registry = AccountRateLimits({"CreateGroupId": Rate(10, 1), "ListInstances": None}, clock=clock)
    first = registry.bucket("LTAI-a", "CreateGroupId")
    assert first is registry.bucket("LTAI-a", "CreateGroupId")
    assert first is not registry.bucket("LTAI-b", "CreateGroupId")
    assert registry.bucket("LTAI-a", "ListInstances") is None
    assert registry.bucket("LTAI-a", "Unlisted") is None
    assert registry.rates()["CreateGroupId"] == Rate(10, 1)
