"""The client says why it waits: retries at WARNING and long pacing waits at INFO on the
``reconciler.cloud`` logger; a refused connection is given up on quickly."""

from __future__ import annotations

import logging

import pytest

from reconciler.cloud.client import RetryPolicy
from reconciler.errors import CloudConnectionError, RetryableApiError
from reconciler.ratelimit import Rate
from tests.fixtures.fake_time import FakeTime
from tests.fixtures.runs import closed_port
from tests.fixtures.scripted_clients import error, make_client, served
from tests.fixtures.scripted_server import Reply

POLICY = RetryPolicy(max_attempts=8, base_delay=0.5, max_delay=4, deadline=600)


def _messages(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "reconciler.cloud" and record.levelno == level
    ]


def test_a_refused_connection_gets_three_attempts_each_retry_said(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="reconciler.cloud")
    fake = FakeTime()
    with (
        make_client(f"http://127.0.0.1:{closed_port()}", fake, retry=POLICY) as client,
        pytest.raises(CloudConnectionError),
    ):
        client.list_group_ids("i")
    assert len(fake.sleeps) == 2
    warnings = _messages(caplog, logging.WARNING)
    assert len(warnings) == 2
    assert warnings[0].startswith("OnsMqttGroupIdList: connection refused, retrying in ")
    assert warnings[0].endswith("(attempt 2 of 3)")
    assert warnings[1].endswith("(attempt 3 of 3)")


def test_a_host_that_does_not_resolve_is_tried_like_a_refused_connection(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # .invalid never resolves (RFC 2606): a typo in --endpoint, not a passing fault.
    caplog.set_level(logging.INFO, logger="reconciler.cloud")
    fake = FakeTime()
    with (
        make_client("http://reconciler-test.invalid", fake, retry=POLICY) as client,
        pytest.raises(CloudConnectionError) as raised,
    ):
        client.list_group_ids("i")
    assert str(raised.value) == (
        "OnsMqttGroupIdList: cannot reach http://reconciler-test.invalid: "
        "cannot resolve host reconciler-test.invalid"
    )
    assert len(fake.sleeps) == 2
    warnings = _messages(caplog, logging.WARNING)
    assert len(warnings) == 2
    assert warnings[0].startswith(
        "OnsMqttGroupIdList: cannot reach http://reconciler-test.invalid: cannot resolve host "
        "reconciler-test.invalid, retrying in "
    )
    assert warnings[1].endswith("(attempt 3 of 3)")


def test_server_errors_keep_the_full_policy_and_are_said(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="reconciler.cloud")
    default = Reply(503, error("ServiceUnavailable"))
    with (
        served([], default=default, retry=POLICY) as (server, client, _),
        pytest.raises(RetryableApiError),
    ):
        client.list_group_ids("i")
    assert len(server.requests) == 8
    warnings = _messages(caplog, logging.WARNING)
    assert len(warnings) == 7
    assert warnings[-1].startswith("OnsMqttGroupIdList: ServiceUnavailable (HTTP 503), retrying")
    assert warnings[-1].endswith("(attempt 8 of 8)")


def test_a_long_pacing_wait_is_said_once_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="reconciler.cloud")
    body = {"RequestId": "r", "MqttClientSetDo": {"OnlineCount": 0}}
    limits = {"OnsMqttQueryClientByGroupId": Rate(1, 60.0)}
    with served([], default=Reply(body=body), rate_limits=limits) as (_, client, fake):
        for _ in range(3):
            client.query_client_by_group_id("GID_a", instance_id="i")
    assert fake.sleeps == [pytest.approx(60.0), pytest.approx(60.0)]
    assert _messages(caplog, logging.INFO) == [
        "OnsMqttQueryClientByGroupId: waiting 60s for the 1/min rate limit",
        "OnsMqttQueryClientByGroupId: waiting 60s for the 1/min rate limit",
    ]


def test_short_pacing_waits_are_not_said(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="reconciler.cloud")
    body = {"RequestId": "r", "MqttClientSetDo": {"OnlineCount": 0}}
    limits = {"OnsMqttQueryClientByGroupId": Rate(2, 1.0)}
    with served([], default=Reply(body=body), rate_limits=limits) as (_, client, fake):
        for _ in range(4):
            client.query_client_by_group_id("GID_a", instance_id="i")
    assert fake.sleeps
    assert _messages(caplog, logging.INFO) == []


def test_refused_attempts_never_exceed_max_attempts() -> None:
    assert RetryPolicy(max_attempts=2).attempts_for(refused=True) == 2
    assert RetryPolicy().attempts_for(refused=True) == 3
    assert RetryPolicy().attempts_for(refused=False) == 8
    with pytest.raises(ValueError):
        RetryPolicy(refused_attempts=0)
