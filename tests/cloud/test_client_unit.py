"""Either API's client against a scripted real HTTP server: wire shape, signature, retries,
the error tree, pacing and throttling, logs; then what only one API offers (OnsMqtt's
batching, listings and failed-delete check), marked for it."""

from __future__ import annotations

import importlib
import logging
import socket
from typing import Any

import pytest

from reconciler.cloud.client import OnsClient, RetryPolicy
from reconciler.cloud.credentials import Credentials, resolve_credentials
from reconciler.cloud.onsmqtt import ACCOUNT_RATE_LIMITS, ONSMQTT_PACING, OnsMqttClient
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
from tests.fixtures.apis import API_CASES, ApiCase
from tests.fixtures.fake_time import FakeTime
from tests.fixtures.scripted_clients import SECRET, TOKEN, error, make_client, served
from tests.fixtures.scripted_server import Reply, scripted

_composer = importlib.import_module("aliyunsdkcore.auth.composer.rpc_signature_composer")
_hmac = importlib.import_module("aliyunsdkcore.auth.algorithm.sha_hmac1")
_tea_utils = importlib.import_module("alibabacloud_tea_openapi.utils").Utils

INSTANCE = "mqtt-cn-test0001"


def row(group_id: str, instance_id: str = INSTANCE, *, independent: bool = True) -> dict[str, Any]:
    """A GID as the OnsMqtt listing answers it."""
    return {
        "GroupId": group_id,
        "InstanceId": instance_id,
        "IndependentNaming": independent,
        "CreateTime": 1,
        "UpdateTime": 2,
        "Tags": [],
    }


# --- both APIs: the wire ---------------------------------------------------------------------


def test_create_is_a_signed_form_post_the_core_sdk_verifies(api_case: ApiCase) -> None:
    with served([], token=TOKEN, api_case=api_case) as (server, client, _):
        assert client.create_group_id("GID_a", instance_id="post-cn-1", topic="t") == "req-ok"
    (got,) = server.requests
    assert got.method == "POST"
    assert got.path == "/"
    assert got.content_type == "application/x-www-form-urlencoded"
    params = got.params
    assert (params["Action"], params["Version"], params["Format"]) == (
        api_case.create_action,
        api_case.version,
        "JSON",
    )
    assert params["SecurityToken"] == TOKEN
    assert (params["GroupId"], params["InstanceId"]) == ("GID_a", "post-cn-1")
    unsigned = {k: v for k, v in params.items() if k != "Signature"}
    text = getattr(_composer, "__compose_string_to_sign")("POST", unsigned)
    assert params["Signature"] == getattr(_composer, "__get_signature")(text, SECRET, _hmac)


@pytest.mark.api("ons")
def test_ons_create_sends_region_and_topic(api_case: ApiCase) -> None:
    with served([], token=TOKEN, api_case=api_case) as (server, client, _):
        client.create_group_id("GID_a", instance_id="post-cn-1", topic="t")
    params = server.requests[0].params
    assert params["RegionId"] == "cn-hangzhou"
    assert params["Topic"] == "t"


@pytest.mark.api("onsmqtt")
def test_onsmqtt_create_sends_only_its_parameters_and_the_tea_signer_verifies(
    api_case: ApiCase,
) -> None:
    with served([], api_case=api_case) as (server, client, _):
        assert client.create_group_id("GID_a", instance_id=INSTANCE, topic="ignored") == "req-ok"
    (got,) = server.requests
    params = got.params
    assert (got.headers["x-acs-action"], got.headers["x-acs-version"]) == (
        "CreateGroupId",
        "2020-04-20",
    )
    # This API binds no topic to a GID: nothing but the two documented parameters is sent.
    assert (params["GroupId"], params["InstanceId"]) == ("GID_a", INSTANCE)
    assert "Topic" not in params
    unsigned = {k: v for k, v in params.items() if k != "Signature"}
    assert params["Signature"] == _tea_utils.get_rpcsignature(unsigned, "POST", SECRET)


@pytest.mark.api("ons")
def test_optional_parameters_are_left_out_and_required_empty_ones_sent(api_case: ApiCase) -> None:
    body = {"RequestId": "r", "MqttClientSetDo": {"OnlineCount": 3}}
    with served([], default=Reply(body=body), api_case=api_case) as (server, client, _):
        assert isinstance(client, OnsClient)
        assert client.query_client_by_topic("orders", "", instance_id=None) == 3
    params = server.requests[0].params
    assert "InstanceId" not in params
    assert params["SubTopic"] == ""


@pytest.mark.api("onsmqtt")
def test_default_endpoint_is_the_onsmqtt_host(api_case: ApiCase) -> None:
    creds = resolve_credentials(access_key_id="id", access_key_secret=SECRET, env={})
    with OnsMqttClient(creds, region="cn-shanghai") as client:
        assert client.endpoint == "https://onsmqtt.cn-shanghai.aliyuncs.com"
    with OnsMqttClient(creds, region="cn-shanghai", endpoint="127.0.0.1:9") as client:
        assert client.endpoint == "http://127.0.0.1:9"


# --- both APIs: retries and errors -----------------------------------------------------------

# Each API's retryable answers: throttling, faults, an unavailable service.
RETRYABLE = {
    "ons": [
        (503, "ServiceUnavailable"),
        (500, "InternalError"),
        (500, "ONS_SYSTEM_ERROR"),
        (400, "Throttling.User"),
    ],
    "onsmqtt": [(500, "SystemOverFlow"), (400, "Throttling.User"), (500, "InternalError")],
}


@pytest.mark.parametrize(
    ("api", "status", "code"),
    [(api, status, code) for api, answers in RETRYABLE.items() for status, code in answers],
)
def test_throttling_and_faults_are_retried(api: str, status: int, code: str) -> None:
    replies = [Reply(status, error(code, host_id=API_CASES[api].host_id))]
    with served(replies, api_case=API_CASES[api]) as (server, client, fake):
        assert client.delete_group_id("GID_a", instance_id=INSTANCE) == "req-ok"
    assert len(server.requests) == 2
    assert len(fake.sleeps) >= 1


@pytest.mark.api("ons")
def test_retryable_answers_are_retried_with_fresh_nonce_and_backoff(api_case: ApiCase) -> None:
    replies = [Reply(status, error(code)) for status, code in RETRYABLE[api_case.name]]
    with served(replies, api_case=api_case) as (server, client, fake):
        assert client.delete_group_id("GID_a", instance_id="i") == "req-ok"
    assert len(server.requests) == 5
    nonces = {r.params["SignatureNonce"] for r in server.requests}
    assert len(nonces) == 5
    assert len(fake.sleeps) == 4
    for number, slept in enumerate(fake.sleeps, start=1):
        assert 0 <= slept <= client.retry.backoff_ceiling(number)


def test_dropped_connection_is_retried_as_connection_error(api_case: ApiCase) -> None:
    with served([Reply(drop=True), Reply(drop=True)], api_case=api_case) as (server, client, _):
        assert client.list_group_ids("i") == []
    assert len(server.requests) == 3


# Answers read straight from their bytes by pydantic-core, and what only Python's json
# module reads (a byte order mark, UTF-16), read as before.
@pytest.mark.parametrize(
    "body",
    [
        b'{"RequestId": "req-read", "Unknown": [1, {"x": null}]}',
        b'\xef\xbb\xbf{"RequestId": "req-read"}',
        '{"RequestId": "req-read"}'.encode("utf-16"),
    ],
    ids=["utf-8", "byte-order-mark", "utf-16"],
)
def test_a_success_answer_is_read_from_its_bytes(api_case: ApiCase, body: bytes) -> None:
    with served([Reply(body=body)], api_case=api_case) as (_, client, _):
        assert client.create_group_id("GID_a", instance_id="i", topic="t") == "req-read"


# A success answer that is not what the action answers: one error naming what is wrong, never
# retried.
@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<html>busy</html>", r"HTTP 200 from http://\S+ is not JSON"),
        (b'["RequestId"]', "the answer is not a JSON object"),
        (b"42", "the answer is not a JSON object"),
        (b'{"RequestId": 5}', r"unexpected answer from http://\S+: RequestId: Input should be"),
        (b'{"Data": 1}', r"unexpected answer from http://\S+: RequestId: Field required"),
    ],
    ids=["not-json", "array", "number", "wrong-type", "missing-field"],
)
def test_a_malformed_success_answer_is_one_error(
    api_case: ApiCase, body: bytes, message: str
) -> None:
    with (
        served([Reply(body=body)], api_case=api_case) as (server, client, _),
        pytest.raises(CloudError, match=message) as caught,
    ):
        client.create_group_id("GID_a", instance_id="i", topic="t")
    assert type(caught.value) is CloudError
    assert caught.value.action == api_case.create_action
    assert len(server.requests) == 1


# Each API's hard errors: never retried, each a class of the error tree.
HARD_ERRORS = {
    "ons": [
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
    "onsmqtt": [
        (400, "GroupIdAlreadyExsited", AlreadyExistsError),
        (400, "InstanceNotFound", NotFoundError),
        (400, "ParameterFieldCheckFailed", ParameterError),
        (400, "MissingInstanceId", ParameterError),
    ],
}


@pytest.mark.parametrize(
    ("api", "status", "code", "cls"),
    [(api, *answer) for api, answers in HARD_ERRORS.items() for answer in answers],
)
def test_hard_errors_are_not_retried_and_carry_code_and_request_id(
    api: str, status: int, code: str, cls: type[CloudApiError]
) -> None:
    api_case = API_CASES[api]
    replies = [Reply(status, error(code, request_id="rid-42", host_id=api_case.host_id))]
    with (
        served(replies, api_case=api_case) as (server, client, fake),
        pytest.raises(cls) as info,
    ):
        client.create_group_id("GID_a", instance_id=INSTANCE)
    assert type(info.value) is cls
    assert len(server.requests) == 1
    assert fake.sleeps == []
    err = info.value
    assert (err.code, err.status, err.request_id, err.action) == (
        code,
        status,
        "rid-42",
        api_case.create_action,
    )
    assert code in str(err)
    assert "rid-42" in str(err)


def test_attempts_are_bounded_and_the_last_error_surfaces(api_case: ApiCase) -> None:
    default = Reply(503, error("ServiceUnavailable", request_id="last"))
    with (
        served([], default=default, api_case=api_case) as (server, client, _),
        pytest.raises(RetryableApiError) as info,
    ):
        client.list_group_ids("i")
    assert len(server.requests) == 5
    assert info.value.request_id == "last"


def test_retryable_error_class(api_case: ApiCase) -> None:
    with (
        served([], default=Reply(500, error("SystemOverFlow")), api_case=api_case) as (
            _,
            client,
            _,
        ),
        pytest.raises(RetryableApiError),
    ):
        client.list_group_ids(INSTANCE)


def test_deadline_stops_retrying_before_attempts_run_out(api_case: ApiCase) -> None:
    policy = RetryPolicy(max_attempts=50, base_delay=10, max_delay=10, deadline=25)
    default = Reply(400, error("Throttling.User"))
    with (
        served([], default=default, retry=policy, api_case=api_case) as (server, client, fake),
        pytest.raises(RetryableApiError),
    ):
        client.list_group_ids("i")
    assert sum(fake.sleeps) <= 25
    assert 2 <= len(server.requests) < 50


def test_non_json_error_body_still_gives_a_clear_error(api_case: ApiCase) -> None:
    html = Reply(502, b"<html><body>502 Bad Gateway</body></html>")
    with (
        served([], default=html, retry=RetryPolicy(max_attempts=2), api_case=api_case) as (
            server,
            client,
            _,
        ),
        pytest.raises(RetryableApiError, match=r"HTTP502.*502 Bad Gateway"),
    ):
        client.list_group_ids("i")
    assert len(server.requests) == 2
    with (
        served([Reply(418, b"")], api_case=api_case) as (_, client, _),
        pytest.raises(CloudApiError, match="HTTP418"),
    ):
        client.list_group_ids("i")


@pytest.mark.api("ons")
def test_success_body_of_the_wrong_shape_is_a_cloud_error(api_case: ApiCase) -> None:
    reply = Reply(200, {"RequestId": "r", "MqttClientSetDo": {}})
    with (
        served([reply], api_case=api_case) as (_, client, _),
        pytest.raises(CloudError, match="OnlineCount"),
    ):
        assert isinstance(client, OnsClient)
        client.query_client_by_group_id("GID_a", instance_id="i")


@pytest.mark.api("ons")
def test_no_consumer_online_counts_as_zero(api_case: ApiCase) -> None:
    reply = Reply(400, error("BIZ_CONSUMER_NOT_ONLINE"))
    with served([reply], api_case=api_case) as (_, client, _):
        assert isinstance(client, OnsClient)
        assert client.query_client_by_group_id("GID_a", instance_id="i") == 0


def test_refused_connection_becomes_connection_error_after_retries(api_case: ApiCase) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    fake = FakeTime()
    with (
        make_client(f"127.0.0.1:{port}", fake, api_case=api_case) as client,
        pytest.raises(CloudConnectionError, match=r"cannot reach http://127\.0\.0\.1"),
    ):
        client.list_group_ids("i")
    # Nothing listens: 3 attempts (RetryPolicy.refused_attempts), not max_attempts (5 here).
    assert len(fake.sleeps) == 2


def test_timeout_becomes_connection_error(api_case: ApiCase) -> None:
    with (
        served(
            [],
            default=Reply(delay=2.0),
            timeout=0.2,
            retry=RetryPolicy(max_attempts=2),
            api_case=api_case,
        ) as (server, client, _),
        pytest.raises(CloudConnectionError, match=r"within 0\.2s"),
    ):
        client.list_group_ids("i")
    assert len(server.requests) == 2


# --- pacing and throttling -------------------------------------------------------------------


@pytest.mark.api("ons")
def test_query_actions_are_paced_by_the_default_token_bucket(api_case: ApiCase) -> None:
    body = {"RequestId": "r", "MqttClientSetDo": {"OnlineCount": 0}}
    with served([], default=Reply(body=body), api_case=api_case) as (_, client, fake):
        assert isinstance(client, OnsClient)
        for _ in range(31):
            client.query_client_by_group_id("GID_a", instance_id="i")
        for _ in range(5):
            client.list_group_ids("i")  # GID actions are not paced by default
    assert len(fake.sleeps) == 1
    assert fake.sleeps[0] == pytest.approx(2.0)  # one token every 60/30 seconds


@pytest.mark.api("ons")
def test_rate_limits_override_and_disable_defaults(api_case: ApiCase) -> None:
    body = {"RequestId": "r", "MqttClientSetDo": {"OnlineCount": 0}}
    limits = {"OnsMqttGroupIdList": Rate(2, 1.0), "OnsMqttQueryClientByGroupId": None}
    with served([], default=Reply(body=body), rate_limits=limits, api_case=api_case) as (
        _,
        client,
        fake,
    ):
        assert isinstance(client, OnsClient)
        for _ in range(40):
            client.query_client_by_group_id("GID_a", instance_id="i")
        assert fake.sleeps == []
        for _ in range(3):
            client.list_group_ids("i")
    assert fake.sleeps == [pytest.approx(0.5)]
    with pytest.raises(ValueError, match="unknown action"):
        ClientRegistry(endpoint=None, rates={"Nope": Rate(1, 1)})


@pytest.mark.api("onsmqtt")
def test_an_explicit_rate_overrides_the_default_and_none_lifts_it(api_case: ApiCase) -> None:
    registry = RateLimits({"CreateGroupId": Rate(50, 1), "ListGroupId": None}).for_client(
        ONSMQTT_PACING
    )
    assert registry.rates()["CreateGroupId"] == Rate(50, 1)
    assert registry.bucket("k", "ListGroupId") is None
    assert registry.rates()["DeleteGroupId"] == ACCOUNT_RATE_LIMITS["DeleteGroupId"]
    with pytest.raises(ValueError, match="unknown action"):
        ClientRegistry(endpoint=None, rates={"OnsMqttGroupIdLists": Rate(1, 1)})


@pytest.mark.api("onsmqtt")
def test_retry_after_is_honoured_and_a_throttle_halves_the_account_bucket(
    api_case: ApiCase,
) -> None:
    throttled = Reply(400, error("Throttling.User"), headers={"x-acs-retry-after": "3000"})
    with served([throttled], api_case=api_case) as (server, client, fake):
        client.create_group_id("GID_a", instance_id=INSTANCE)
        bucket = client.rate_limits.bucket("test-id", "CreateGroupId")
        assert bucket is not None
        # Halved to 5/s, then 3s of recovery at +1/s each second.
        assert bucket.rate.per_second == pytest.approx(8.0)
    # Backoff alone would wait at most 0.5s before the first retry; the service asked for 3.
    assert sum(fake.sleeps) >= 3.0
    assert len(server.requests) == 2


@pytest.mark.api("onsmqtt")
def test_an_error_that_is_not_throttling_leaves_the_bucket_alone(api_case: ApiCase) -> None:
    with served([Reply(500, error("InternalError"))], api_case=api_case) as (_, client, _fake):
        client.create_group_id("GID_a", instance_id=INSTANCE)
        bucket = client.rate_limits.bucket("test-id", "CreateGroupId")
        assert bucket is not None
        assert bucket.rate.per_second == pytest.approx(10.0)


@pytest.mark.api("onsmqtt")
def test_group_actions_are_paced_at_ten_a_second_shared_by_clients_of_one_account(
    api_case: ApiCase,
) -> None:
    fake = FakeTime()
    registry = RateLimits(clock=fake.clock)
    creds = resolve_credentials(access_key_id="test-id", access_key_secret=SECRET, env={})
    body = {"RequestId": "r", "Data": []}
    with scripted([], default=Reply(body=body)) as server:
        clients = [
            OnsMqttClient(
                creds,
                region=region,
                endpoint=server.url,
                rate_limits=registry,
                sleep=fake.sleep,
                clock=fake.clock,
            )
            for region in ("cn-hangzhou", "cn-shanghai")
        ]
        started = fake.now
        for n in range(20):
            clients[n % 2].list_group_ids(INSTANCE)
        for client in clients:
            client.close()
    # Twenty calls of one account at 10/s take 1.9s of (fake) time, whichever client made them.
    assert fake.now - started == pytest.approx(1.9)


# --- both APIs: secrets ----------------------------------------------------------------------


def test_no_secret_token_or_signature_in_debug_logs(
    api_case: ApiCase, caplog: pytest.LogCaptureFixture
) -> None:
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
    with (
        served(replies, token=TOKEN, api_case=api_case) as (server, client, _),
        pytest.raises(AuthError) as info,
    ):
        client.create_group_id("GID_a", instance_id="i")
    signatures = {r.params["Signature"] for r in server.requests}
    forbidden = {SECRET, TOKEN, percent_encode(TOKEN), percent_encode(percent_encode(TOKEN))}
    forbidden |= signatures
    texts = [record.getMessage() for record in caplog.records]
    texts.append(str(info.value))
    assert any(f"{api_case.create_action} attempt 3" in text for text in texts)
    assert any("***" in text for text in texts)
    for text in texts:
        for secret in forbidden:
            assert secret not in text


def test_debug_lines_mask_the_signature(
    api_case: ApiCase, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="reconciler.cloud")
    with served([Reply(500, error("SystemOverFlow"))], api_case=api_case) as (_, client, _fake):
        client.list_group_ids(INSTANCE)
    lines = [r.getMessage() for r in caplog.records]
    assert any(
        f"{api_case.list_action} attempt 1: status=500 code=SystemOverFlow" in line
        for line in lines
    )
    assert any("retrying" in line for line in lines)
    assert all(SECRET not in line for line in lines)
    assert all("'Signature': '***'" in line for line in lines if ": status=" in line)


def test_credentials_repr_and_client_repr_hide_secrets(api_case: ApiCase) -> None:
    creds = Credentials(
        access_key_id="id",
        access_key_secret=SECRET,  # type: ignore[arg-type]
        security_token=TOKEN,  # type: ignore[arg-type]
        source="test",
    )
    client = api_case.client(creds, region="cn-hangzhou", endpoint="127.0.0.1:1")
    assert SECRET not in repr(client) + repr(creds)
    assert TOKEN not in repr(client) + repr(creds)
    client.close()


def test_environment_proxy_is_honoured(api_case: ApiCase, monkeypatch: pytest.MonkeyPatch) -> None:
    # Read once at construction (not per call), but still honoured.
    with scripted([]) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        with make_client("http://ons.example.invalid:8080", api_case=api_case) as client:
            assert client.list_group_ids("i") == []
    (got,) = proxy.requests
    assert got.path == "http://ons.example.invalid:8080/"


def test_unknown_actions_are_refused_before_sending(api_case: ApiCase) -> None:
    foreign = next(api for api in API_CASES.values() if api is not api_case).list_action
    with (
        served([], api_case=api_case) as (server, client, _),
        pytest.raises(ValueError, match=f"unknown {api_case.label} action"),
    ):
        client.call(foreign, {})
    assert server.requests == []


# --- OnsMqtt only: listings, sessions, the failed-delete check ---------------------------------


@pytest.mark.api("onsmqtt")
def test_list_returns_the_same_inventory_records_as_the_ons_client(api_case: ApiCase) -> None:
    body = {"RequestId": "r", "Data": [row("GID_a"), row("GID_b", independent=True)]}
    with served([], default=Reply(body=body), api_case=api_case) as (server, client, _):
        records = client.list_group_ids(INSTANCE)
    assert [(r.group_id, r.instance_id, r.independent_naming) for r in records] == [
        ("GID_a", INSTANCE, True),
        ("GID_b", INSTANCE, True),
    ]
    assert server.requests[0].params["InstanceId"] == INSTANCE


@pytest.mark.api("onsmqtt")
def test_list_without_instance_lists_the_shared_namespace_of_the_region(
    api_case: ApiCase,
) -> None:
    instances = {
        "RequestId": "r",
        "Code": "200",
        "Success": "true",
        "Instances": [
            {"InstanceId": "mqtt-shared1", "RegionId": "cn-hangzhou"},
            {"InstanceId": "mqtt-elsewhere", "RegionId": "cn-beijing"},
            {"InstanceId": "mqtt-own", "RegionId": "cn-hangzhou"},
        ],
    }
    replies = [
        Reply(body=instances),
        Reply(body={"RequestId": "r", "Data": [row("GID_s", "mqtt-shared1", independent=False)]}),
        Reply(body={"RequestId": "r", "Data": [row("GID_o", "mqtt-own")]}),
    ]
    with served(replies, api_case=api_case) as (server, client, _):
        records = client.list_group_ids()
    assert [(r.group_id, r.instance_id) for r in records] == [("GID_s", "mqtt-shared1")]
    assert [r.params["Action"] for r in server.requests] == [
        "ListInstances",
        "ListGroupId",
        "ListGroupId",
    ]


@pytest.mark.api("onsmqtt")
def test_a_name_taken_in_the_shared_namespace_is_a_refusal_naming_the_gid(
    api_case: ApiCase,
) -> None:
    reply = Reply(400, error("GroupIdAlreadyUsedByOtherUsers", "used by other users"))
    with (
        served([], default=reply, api_case=api_case) as (_, client, _fake),
        pytest.raises(CloudApiError) as caught,
    ):
        client.create_group_id("GID_taken", instance_id=INSTANCE)
    err = caught.value
    assert type(err) is CloudApiError
    assert err.code == "GroupIdAlreadyUsedByOtherUsers"
    assert "GID_taken" in str(err) and INSTANCE in str(err)
    assert "choose another name" in str(err)
    assert err.request_id == "req-err"


@pytest.mark.api("onsmqtt")
def test_sessions_are_asked_in_batches_of_ten(api_case: ApiCase) -> None:
    ids = [f"GID_a@@@d{n}" for n in range(23)] + ["GID_a@@@d0"]

    def answer(batch: list[str]) -> Reply:
        return Reply(
            body={
                "RequestId": "r",
                "OnlineStatusList": [
                    {"ClientId": cid, "OnlineStatus": cid.endswith("7")} for cid in batch
                ],
            }
        )

    unique = ids[:23]
    replies = [answer(unique[0:10]), answer(unique[10:20]), answer(unique[20:23])]
    with served(replies, api_case=api_case) as (server, client, _):
        assert isinstance(client, OnsMqttClient)
        found = client.batch_query_sessions(ids, instance_id=INSTANCE)
    assert list(found) == unique
    assert [cid for cid, online in found.items() if online] == ["GID_a@@@d7", "GID_a@@@d17"]
    sizes = [
        sum(1 for name in r.params if name.startswith("ClientIdList.")) for r in server.requests
    ]
    assert sizes == [10, 10, 3]
    assert server.requests[2].params["ClientIdList.3"] == "GID_a@@@d22"
    assert all(r.params["InstanceId"] == INSTANCE for r in server.requests)


@pytest.mark.api("onsmqtt")
def test_a_batch_answer_missing_an_id_is_an_error(api_case: ApiCase) -> None:
    body = {"RequestId": "r", "OnlineStatusList": [{"ClientId": "GID_a@@@1", "OnlineStatus": True}]}
    with (
        served([], default=Reply(body=body), api_case=api_case) as (_, client, _fake),
        pytest.raises(CloudError, match="lacks GID_a@@@2"),
    ):
        assert isinstance(client, OnsMqttClient)
        client.batch_query_sessions(["GID_a@@@1", "GID_a@@@2"], instance_id=INSTANCE)


@pytest.mark.api("onsmqtt")
def test_query_session_and_list_instances(api_case: ApiCase) -> None:
    replies = [
        Reply(body={"RequestId": "r", "OnlineStatus": True}),
        Reply(
            body={
                "RequestId": "r",
                "Code": "200",
                "Success": "true",
                "Instances": [
                    {
                        "InstanceId": INSTANCE,
                        "InstanceName": "prod",
                        "RegionId": "cn-hangzhou",
                        "InstanceStatus": 5,
                        "MqttTags": [{"TagKey": "team", "TagValue": "iot"}],
                    }
                ],
            }
        ),
    ]
    with served(replies, api_case=api_case) as (server, client, _):
        assert isinstance(client, OnsMqttClient)
        assert client.query_session("GID_a@@@1", instance_id=INSTANCE) is True
        [instance] = client.list_instances()
    assert (instance.instance_id, instance.instance_name, instance.instance_status) == (
        INSTANCE,
        "prod",
        5,
    )
    assert [(t.key, t.value) for t in instance.tags] == [("team", "iot")]
    assert server.requests[0].params["ClientId"] == "GID_a@@@1"


@pytest.mark.api("onsmqtt")
def test_online_clients_without_known_ids_cannot_be_counted_and_say_so(api_case: ApiCase) -> None:
    with served([], api_case=api_case) as (server, client, _):
        found = client.online_clients("GID_a", instance_id=INSTANCE, known_ids=[])
    assert found.count is None
    assert found.reason and "cannot count a GID's clients" in found.reason
    assert server.requests == []


@pytest.mark.api("onsmqtt")
def test_a_failed_delete_is_done_only_when_a_fresh_listing_lacks_the_gid(
    api_case: ApiCase,
) -> None:
    refused = Reply(status=400, body={"RequestId": "r-del", "Code": "ParameterFieldCheckFailed"})
    listing = Reply(body={"RequestId": "r", "Data": [row("GID_kept")]})
    with served([refused, listing, refused, listing], api_case=api_case) as (_, client, _fake):
        gone = client.delete_group("GID_deleted", instance_id=INSTANCE)
        assert (gone.detail, gone.request_id) == ("already gone", "r-del")
        with pytest.raises(CloudApiError, match="ParameterFieldCheckFailed"):
            client.delete_group("GID_kept", instance_id=INSTANCE)


@pytest.mark.api("onsmqtt")
def test_a_failed_delete_whose_listing_fails_too_raises_the_delete_error(
    api_case: ApiCase,
) -> None:
    refused = Reply(status=400, body={"RequestId": "r-del", "Code": "ParameterFieldCheckFailed"})
    unlisted = Reply(status=400, body={"RequestId": "r-list", "Code": "InvalidParameter"})
    with (
        served([refused, unlisted], api_case=api_case) as (_, client, _fake),
        pytest.raises(CloudApiError) as caught,
    ):
        client.delete_group("GID_a", instance_id=INSTANCE)
    assert caught.value.code == "ParameterFieldCheckFailed"
