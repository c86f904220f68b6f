"""OnsClient against a scripted real HTTP server: wire shape, retries, errors, pacing, logs."""

from __future__ import annotations

import importlib
import logging
import random
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from reconciler.cloud.client import OnsClient, RetryPolicy
from reconciler.cloud.credentials import Credentials, resolve_credentials
from reconciler.cloud.pacing import RateLimits
from reconciler.cloud.registry import ClientRegistry
from reconciler.cloud.signing import percent_encode
from reconciler.errors import (
    AlreadyExistsError,
    AuthError,
    CloudApiError,
    CloudConnectionError,
    CloudError,
    NotFoundError,
    ParameterError,
    RetryableApiError,
)
from reconciler.ratelimit import Rate
from tests.cloud.scripted_server import Reply, ScriptedServer, scripted

_composer = importlib.import_module("aliyunsdkcore.auth.composer.rpc_signature_composer")
_hmac = importlib.import_module("aliyunsdkcore.auth.algorithm.sha_hmac1")

SECRET = "s3cr3t-Access-Key-Secret"
TOKEN = "STS.t0ken/with+reserved=chars&more"


def error(code: str, message: str = "boom", request_id: str = "req-err") -> dict[str, str]:
    return {"RequestId": request_id, "HostId": "ons", "Code": code, "Message": message}


class FakeTime:
    """A clock that only moves when the client sleeps, so backoff costs no real time."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def make_client(url: str, fake: FakeTime | None = None, *, token: str | None = None, **kw):
    creds = resolve_credentials(
        access_key_id="test-id", access_key_secret=SECRET, security_token=token, env={}
    )
    fake = fake or FakeTime()
    kw.setdefault("retry", RetryPolicy(max_attempts=5, base_delay=0.5, max_delay=4, deadline=60))
    if "rate_limits" in kw:  # the run's rates, on the fake clock
        kw["rate_limits"] = RateLimits(kw["rate_limits"], clock=fake.clock)
    return OnsClient(
        creds,
        region="cn-hangzhou",
        endpoint=url,
        sleep=fake.sleep,
        clock=fake.clock,
        rng=random.Random(7),
        **kw,
    )


@contextmanager
def served(
    replies: list[Reply], *, default: Reply | None = None, token: str | None = None, **kw: Any
) -> Iterator[tuple[ScriptedServer, OnsClient, FakeTime]]:
    fake = FakeTime()
    with (
        scripted(replies, default=default) as server,
        make_client(server.url, fake, token=token, **kw) as client,
    ):
        yield server, client, fake


def test_call_is_a_signed_form_post_the_core_sdk_verifies():
    with served([], token=TOKEN) as (server, client, _):
        assert client.create_group_id("GID_a", instance_id="post-cn-1", topic="t") == "req-ok"
    (got,) = server.requests
    assert got.method == "POST"
    assert got.path == "/"
    assert got.content_type == "application/x-www-form-urlencoded"
    params = got.params
    assert params["Action"] == "OnsMqttGroupIdCreate"
    assert params["Format"] == "JSON"
    assert params["RegionId"] == "cn-hangzhou"
    assert params["Version"] == "2019-02-14"
    assert params["SecurityToken"] == TOKEN
    assert (params["GroupId"], params["InstanceId"], params["Topic"]) == ("GID_a", "post-cn-1", "t")
    unsigned = {k: v for k, v in params.items() if k != "Signature"}
    text = getattr(_composer, "__compose_string_to_sign")("POST", unsigned)
    assert params["Signature"] == getattr(_composer, "__get_signature")(text, SECRET, _hmac)


def test_optional_parameters_are_left_out_and_required_empty_ones_sent():
    body = {"RequestId": "r", "MqttClientSetDo": {"OnlineCount": 3}}
    with served([], default=Reply(body=body)) as (server, client, _):
        assert client.query_client_by_topic("orders", "", instance_id=None) == 3
    params = server.requests[0].params
    assert "InstanceId" not in params
    assert params["SubTopic"] == ""


def test_retryable_answers_are_retried_with_fresh_nonce_and_backoff():
    replies = [
        Reply(503, error("ServiceUnavailable")),
        Reply(500, error("InternalError")),
        Reply(500, error("ONS_SYSTEM_ERROR")),
        Reply(400, error("Throttling.User")),
    ]
    with served(replies) as (server, client, fake):
        assert client.delete_group_id("GID_a", instance_id="i") == "req-ok"
    assert len(server.requests) == 5
    nonces = {r.params["SignatureNonce"] for r in server.requests}
    assert len(nonces) == 5
    assert len(fake.sleeps) == 4
    for number, slept in enumerate(fake.sleeps, start=1):
        assert 0 <= slept <= client.retry.backoff_ceiling(number)


def test_dropped_connection_is_retried_as_connection_error():
    with served([Reply(drop=True), Reply(drop=True)]) as (server, client, _):
        assert client.list_group_ids("i") == []
    assert len(server.requests) == 3


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (400, "BIZ_FIELD_CHECK_INVALID", ParameterError),
        (400, "MissingParameter", ParameterError),
        (400, "SignatureDoesNotMatch", AuthError),
        (404, "InvalidAccessKeyId.NotFound", AuthError),
        (400, "InvalidTimeStamp.Expired", AuthError),
        (400, "BIZ_SUBSCRIPTION_EXISTED", AlreadyExistsError),
        (400, "BIZ_SUBSCRIPTION_NOT_FOUND", NotFoundError),
        (404, "BIZ_INSTANCE_NOT_FOUND", NotFoundError),
        (400, "ONS_SERVICE_UNSUPPORTED", CloudApiError),
    ],
)
def test_hard_errors_are_not_retried_and_carry_code_and_request_id(status, code, cls):
    replies = [Reply(status, error(code, request_id="rid-42"))]
    with served(replies) as (server, client, _), pytest.raises(cls) as info:
        client.create_group_id("GID_a", instance_id="i")
    assert type(info.value) is cls
    assert len(server.requests) == 1
    err = info.value
    assert (err.code, err.status, err.request_id, err.action) == (
        code,
        status,
        "rid-42",
        "OnsMqttGroupIdCreate",
    )
    assert code in str(err)
    assert "rid-42" in str(err)


def test_attempts_are_bounded_and_the_last_error_surfaces():
    default = Reply(503, error("ServiceUnavailable", request_id="last"))
    with (
        served([], default=default) as (server, client, _),
        pytest.raises(RetryableApiError) as info,
    ):
        client.list_group_ids("i")
    assert len(server.requests) == 5
    assert info.value.request_id == "last"


def test_deadline_stops_retrying_before_attempts_run_out():
    policy = RetryPolicy(max_attempts=50, base_delay=10, max_delay=10, deadline=25)
    default = Reply(400, error("Throttling.User"))
    with (
        served([], default=default, retry=policy) as (server, client, fake),
        pytest.raises(RetryableApiError),
    ):
        client.list_group_ids("i")
    assert sum(fake.sleeps) <= 25
    assert 2 <= len(server.requests) < 50


def test_non_json_error_body_still_gives_a_clear_error():
    html = Reply(502, b"<html><body>502 Bad Gateway</body></html>")
    with (
        served([], default=html, retry=RetryPolicy(max_attempts=2)) as (server, client, _),
        pytest.raises(RetryableApiError, match=r"HTTP502.*502 Bad Gateway"),
    ):
        client.list_group_ids("i")
    assert len(server.requests) == 2
    with served([Reply(418, b"")]) as (_, client, _), pytest.raises(CloudApiError, match="HTTP418"):
        client.list_group_ids("i")


def test_success_body_of_the_wrong_shape_is_a_cloud_error():
    with (
        served([Reply(200, {"RequestId": "r", "MqttClientSetDo": {}})]) as (_, client, _),
        pytest.raises(CloudError, match="OnlineCount"),
    ):
        client.query_client_by_group_id("GID_a", instance_id="i")


def test_no_consumer_online_counts_as_zero():
    with served([Reply(400, error("BIZ_CONSUMER_NOT_ONLINE"))]) as (_, client, _):
        assert client.query_client_by_group_id("GID_a", instance_id="i") == 0


def test_refused_connection_becomes_connection_error_after_retries():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    fake = FakeTime()
    with (
        make_client(f"127.0.0.1:{port}", fake) as client,
        pytest.raises(CloudConnectionError, match=r"cannot reach http://127\.0\.0\.1"),
    ):
        client.list_group_ids("i")
    # Nothing listens: 3 attempts (RetryPolicy.refused_attempts), not max_attempts (5 here).
    assert len(fake.sleeps) == 2


def test_timeout_becomes_connection_error():
    with (
        served([], default=Reply(delay=2.0), timeout=0.2, retry=RetryPolicy(max_attempts=2)) as (
            server,
            client,
            _,
        ),
        pytest.raises(CloudConnectionError, match=r"within 0\.2s"),
    ):
        client.list_group_ids("i")
    assert len(server.requests) == 2


def test_query_actions_are_paced_by_the_default_token_bucket():
    body = {"RequestId": "r", "MqttClientSetDo": {"OnlineCount": 0}}
    with served([], default=Reply(body=body)) as (_, client, fake):
        for _ in range(31):
            client.query_client_by_group_id("GID_a", instance_id="i")
        for _ in range(5):
            client.list_group_ids("i")  # GID actions are not paced by default
    assert len(fake.sleeps) == 1
    assert fake.sleeps[0] == pytest.approx(2.0)  # one token every 60/30 seconds


def test_rate_limits_override_and_disable_defaults():
    body = {"RequestId": "r", "MqttClientSetDo": {"OnlineCount": 0}}
    limits = {"OnsMqttGroupIdList": Rate(2, 1.0), "OnsMqttQueryClientByGroupId": None}
    with served([], default=Reply(body=body), rate_limits=limits) as (_, client, fake):
        for _ in range(40):
            client.query_client_by_group_id("GID_a", instance_id="i")
        assert fake.sleeps == []
        for _ in range(3):
            client.list_group_ids("i")
    assert fake.sleeps == [pytest.approx(0.5)]
    with pytest.raises(ValueError, match="unknown action"):
        ClientRegistry(endpoint=None, rates={"Nope": Rate(1, 1)})


def test_no_secret_token_or_signature_in_debug_logs(caplog):
    caplog.set_level(logging.DEBUG)
    # The service quotes its string to sign, which holds the (double-encoded) token.
    leak = "server string to sign is:POST&%2F&SecurityToken%3D" + percent_encode(
        percent_encode(TOKEN)
    )
    replies = [
        Reply(503, error("ServiceUnavailable")),
        Reply(drop=True),
        Reply(400, error("SignatureDoesNotMatch", "Specified signature is not matched. " + leak)),
    ]
    with served(replies, token=TOKEN) as (server, client, _), pytest.raises(AuthError) as info:
        client.create_group_id("GID_a", instance_id="i")
    signatures = {r.params["Signature"] for r in server.requests}
    forbidden = {SECRET, TOKEN, percent_encode(TOKEN), percent_encode(percent_encode(TOKEN))}
    forbidden |= signatures
    texts = [record.getMessage() for record in caplog.records]
    texts.append(str(info.value))
    assert any("OnsMqttGroupIdCreate attempt 3" in text for text in texts)
    assert any("***" in text for text in texts)
    for text in texts:
        for secret in forbidden:
            assert secret not in text


def test_credentials_repr_and_client_repr_hide_secrets():
    creds = Credentials(
        access_key_id="id",
        access_key_secret=SECRET,  # type: ignore[arg-type]
        security_token=TOKEN,  # type: ignore[arg-type]
        source="test",
    )
    client = OnsClient(creds, region="cn-hangzhou", endpoint="127.0.0.1:1")
    assert SECRET not in repr(client) + repr(creds)
    assert TOKEN not in repr(client) + repr(creds)
    client.close()


def test_environment_proxy_is_honoured(monkeypatch):
    # Read once at construction (not per call), but still honoured.
    with scripted([]) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        with make_client("http://ons.example.invalid:8080") as client:
            assert client.list_group_ids("i") == []
    (got,) = proxy.requests
    assert got.path == "http://ons.example.invalid:8080/"
