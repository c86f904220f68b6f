from __future__ import annotations

import random

import pytest

from reconciler.cloud.retry import RetryPolicy, is_retryable
from reconciler.errors import (
    AuthError,
    CloudConnectionError,
    CloudError,
    ParameterError,
    RetryableApiError,
    UntrustedCertificateError,
)


def test_backoff_ceiling_doubles_up_to_the_cap():
    policy = RetryPolicy(base_delay=0.5, max_delay=3.0)
    assert [policy.backoff_ceiling(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_full_jitter_spreads_over_the_whole_range():
    policy = RetryPolicy(base_delay=1.0, max_delay=8.0)
    rng = random.Random(1)
    delays = [policy.backoff(4, rng) for _ in range(2000)]
    assert all(0.0 <= d <= 8.0 for d in delays)
    assert min(delays) < 0.5
    assert max(delays) > 7.5


@pytest.mark.parametrize(
    "kwargs", [{"max_attempts": 0}, {"base_delay": -1}, {"deadline": 0}, {"max_delay": -1}]
)
def test_policy_rejects_nonsense(kwargs):
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)


def api(cls: type, code: str) -> CloudError:
    return cls(action="A", status=400, code=code, message="m")


def test_only_transient_errors_are_retryable():
    assert is_retryable(api(RetryableApiError, "Throttling.User"))
    assert is_retryable(CloudConnectionError("reset", action="A"))
    assert not is_retryable(api(ParameterError, "MissingParameter"))
    assert not is_retryable(api(AuthError, "SignatureDoesNotMatch"))
    assert not is_retryable(CloudError("bad answer", action="A"))
    # A connection error that asking again cannot heal.
    assert not is_retryable(UntrustedCertificateError("not trusted", action="A"))
