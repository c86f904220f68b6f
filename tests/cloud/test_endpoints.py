from __future__ import annotations

import pytest

from reconciler.cloud.endpoints import endpoint_for
from reconciler.errors import CloudError


@pytest.mark.parametrize(
    ("region", "expected"),
    [
        ("cn-hangzhou", "https://ons.cn-hangzhou.aliyuncs.com"),
        ("ap-southeast-1", "https://ons.ap-southeast-1.aliyuncs.com"),
        ("mq-internet-access", "https://ons.mq-internet-access.aliyuncs.com"),
    ],
)
def test_regional_endpoint_is_https(region, expected):
    assert endpoint_for(region) == expected


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("http://127.0.0.1:8765", "http://127.0.0.1:8765"),
        ("http://127.0.0.1:8765/", "http://127.0.0.1:8765"),
        ("127.0.0.1:8765", "http://127.0.0.1:8765"),
        ("localhost:1", "http://localhost:1"),
        ("https://ons.example.com/prefix/", "https://ons.example.com/prefix"),
        ("http://[::1]:8080", "http://[::1]:8080"),
    ],
)
def test_override_wins_and_is_normalised(override, expected):
    assert endpoint_for("cn-hangzhou", override) == expected


def test_blank_override_means_the_regional_endpoint():
    assert endpoint_for("cn-beijing", "  ") == "https://ons.cn-beijing.aliyuncs.com"


@pytest.mark.parametrize(
    ("override", "reason"),
    [
        ("ftp://host", "scheme must be http or https"),
        ("http://", "no host"),
        ("http://host:port", "invalid endpoint"),
        ("http://host/?a=1", "no query"),
        ("http://user:pw@host", "credentials in the URL"),
    ],
)
def test_bad_override_is_refused_with_the_reason(override, reason):
    with pytest.raises(CloudError, match=reason):
        endpoint_for("cn-hangzhou", override)


@pytest.mark.parametrize("region", ["", "CN-HANGZHOU", "cn_hangzhou", "cn-hangzhou.evil.com/"])
def test_bad_region_is_refused(region):
    with pytest.raises(CloudError, match="invalid region"):
        endpoint_for(region)
