"""OnsMqttClient against a scripted real HTTP server: wire shape, signature, error mapping,
throttling (AIMD, x-acs-retry-after), batching."""

from __future__ import annotations

import importlib
import logging
import random
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from reconciler.cloud.credentials import resolve_credentials
from reconciler.cloud.onsmqtt import ACCOUNT_RATE_LIMITS, ONSMQTT_PACING, OnsMqttClient
from reconciler.cloud.pacing import RateLimits
from reconciler.cloud.registry import ClientRegistry
from reconciler.cloud.retry import RetryPolicy
from reconciler.errors import (
    AlreadyExistsError,
    CloudApiError,
    CloudError,
    NotFoundError,
    ParameterError,
    RetryableApiError,
)
from reconciler.ratelimit import Rate
from tests.cloud.scripted_server import Reply, ScriptedServer, scripted
from tests.cloud.test_client_unit import FakeTime

_composer = importlib.import_module("aliyunsdkcore.auth.composer.rpc_signature_composer")
_hmac = importlib.import_module("aliyunsdkcore.auth.algorithm.sha_hmac1")
_tea_utils = importlib.import_module("alibabacloud_tea_openapi.utils").Utils

SECRET = "s3cr3t-OnsMqtt-Secret"
INSTANCE = "mqtt-cn-test0001"


def error(code: str, message: str = "boom", request_id: str = "req-err") -> dict[str, str]:
    return {"RequestId": request_id, "HostId": "onsmqtt", "Code": code, "Message": message}


def row(group_id: str, instance_id: str = INSTANCE, *, independent: bool = True) -> dict[str, Any]:
    return {
        "GroupId": group_id,
        "InstanceId": instance_id,
        "IndependentNaming": independent,
        "CreateTime": 1,
        "UpdateTime": 2,
        "Tags": [],
    }


@contextmanager
def served(
    replies: list[Reply], *, default: Reply | None = None, **kw: Any
) -> Iterator[tuple[ScriptedServer, OnsMqttClient, FakeTime]]:
    fake = FakeTime()
    creds = resolve_credentials(access_key_id="test-id", access_key_secret=SECRET, env={})
    kw.setdefault("retry", RetryPolicy(max_attempts=5, base_delay=0.5, max_delay=4, deadline=60))
    kw.setdefault("rate_limits", RateLimits(clock=fake.clock))
    with (
        scripted(replies, default=default) as server,
        OnsMqttClient(
            creds,
            region="cn-hangzhou",
            endpoint=server.url,
            sleep=fake.sleep,
            clock=fake.clock,
            rng=random.Random(3),
            **kw,
        ) as client,
    ):
        yield server, client, fake


def test_default_endpoint_is_the_onsmqtt_host():
    creds = resolve_credentials(access_key_id="id", access_key_secret=SECRET, env={})
    with OnsMqttClient(creds, region="cn-shanghai") as client:
        assert client.endpoint == "https://onsmqtt.cn-shanghai.aliyuncs.com"
    with OnsMqttClient(creds, region="cn-shanghai", endpoint="127.0.0.1:9") as client:
        assert client.endpoint == "http://127.0.0.1:9"


def test_create_is_a_v1_signed_form_post_both_sdk_signers_verify():
    with served([]) as (server, client, _):
        assert client.create_group_id("GID_a", instance_id=INSTANCE, topic="ignored") == "req-ok"
    (got,) = server.requests
    params = got.params
    assert got.content_type == "application/x-www-form-urlencoded"
    assert (params["Action"], params["Version"], params["Format"]) == (
        "CreateGroupId",
        "2020-04-20",
        "JSON",
    )
    assert (got.headers["x-acs-action"], got.headers["x-acs-version"]) == (
        "CreateGroupId",
        "2020-04-20",
    )
    # This API binds no topic to a GID: nothing but the two documented parameters is sent.
    assert (params["GroupId"], params["InstanceId"]) == ("GID_a", INSTANCE)
    assert "Topic" not in params
    unsigned = {k: v for k, v in params.items() if k != "Signature"}
    text = getattr(_composer, "__compose_string_to_sign")("POST", unsigned)
    assert params["Signature"] == getattr(_composer, "__get_signature")(text, SECRET, _hmac)
    assert params["Signature"] == _tea_utils.get_rpcsignature(unsigned, "POST", SECRET)


def test_list_returns_the_same_inventory_records_as_the_ons_client():
    body = {"RequestId": "r", "Data": [row("GID_a"), row("GID_b", independent=True)]}
    with served([], default=Reply(body=body)) as (server, client, _):
        records = client.list_group_ids(INSTANCE)
    assert [(r.group_id, r.instance_id, r.independent_naming) for r in records] == [
        ("GID_a", INSTANCE, True),
        ("GID_b", INSTANCE, True),
    ]
    assert server.requests[0].params["InstanceId"] == INSTANCE


def test_list_without_instance_lists_the_shared_namespace_of_the_region():
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
    with served(replies) as (server, client, _):
        records = client.list_group_ids()
    assert [(r.group_id, r.instance_id) for r in records] == [("GID_s", "mqtt-shared1")]
    assert [r.params["Action"] for r in server.requests] == [
        "ListInstances",
        "ListGroupId",
        "ListGroupId",
    ]


@pytest.mark.parametrize(
    ("code", "status", "cls"),
    [
        ("GroupIdAlreadyExsited", 400, AlreadyExistsError),
        ("InstanceNotFound", 400, NotFoundError),
        ("ParameterFieldCheckFailed", 400, ParameterError),
        ("MissingInstanceId", 400, ParameterError),
    ],
)
def test_error_codes_map_onto_the_error_tree(code, status, cls):
    with (
        served([], default=Reply(status, error(code))) as (_, client, fake),
        pytest.raises(cls) as caught,
    ):
        client.create_group_id("GID_a", instance_id=INSTANCE)
    assert caught.value.code == code
    assert fake.sleeps == []  # none of these is retried


def test_a_name_taken_in_the_shared_namespace_is_a_refusal_naming_the_gid():
    reply = Reply(400, error("GroupIdAlreadyUsedByOtherUsers", "used by other users"))
    with served([], default=reply) as (_, client, _fake), pytest.raises(CloudApiError) as caught:
        client.create_group_id("GID_taken", instance_id=INSTANCE)
    err = caught.value
    assert type(err) is CloudApiError
    assert err.code == "GroupIdAlreadyUsedByOtherUsers"
    assert "GID_taken" in str(err) and INSTANCE in str(err)
    assert "choose another name" in str(err)
    assert err.request_id == "req-err"


@pytest.mark.parametrize(
    ("status", "code"), [(500, "SystemOverFlow"), (400, "Throttling.User"), (500, "InternalError")]
)
def test_throttling_and_faults_are_retried(status, code):
    with served([Reply(status, error(code))]) as (server, client, fake):
        assert client.delete_group_id("GID_a", instance_id=INSTANCE) == "req-ok"
    assert len(server.requests) == 2
    assert len(fake.sleeps) >= 1


def test_retry_after_is_honoured_and_a_throttle_halves_the_account_bucket():
    throttled = Reply(400, error("Throttling.User"), headers={"x-acs-retry-after": "3000"})
    with served([throttled]) as (server, client, fake):
        client.create_group_id("GID_a", instance_id=INSTANCE)
        bucket = client.rate_limits.bucket("test-id", "CreateGroupId")
        assert bucket is not None
        # Halved to 5/s, then 3s of recovery at +1/s each second.
        assert bucket.rate.per_second == pytest.approx(8.0)
    # Backoff alone would wait at most 0.5s before the first retry; the service asked for 3.
    assert sum(fake.sleeps) >= 3.0
    assert len(server.requests) == 2


def test_an_error_that_is_not_throttling_leaves_the_bucket_alone():
    with served([Reply(500, error("InternalError"))]) as (_, client, _fake):
        client.create_group_id("GID_a", instance_id=INSTANCE)
        bucket = client.rate_limits.bucket("test-id", "CreateGroupId")
        assert bucket is not None
        assert bucket.rate.per_second == pytest.approx(10.0)


def test_group_actions_are_paced_at_ten_a_second_shared_by_clients_of_one_account():
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


def test_an_explicit_rate_overrides_the_default_and_none_lifts_it():
    registry = RateLimits({"CreateGroupId": Rate(50, 1), "ListGroupId": None}).for_client(
        ONSMQTT_PACING
    )
    assert registry.rates()["CreateGroupId"] == Rate(50, 1)
    assert registry.bucket("k", "ListGroupId") is None
    assert registry.rates()["DeleteGroupId"] == ACCOUNT_RATE_LIMITS["DeleteGroupId"]
    with pytest.raises(ValueError, match="unknown action"):
        ClientRegistry(endpoint=None, rates={"OnsMqttGroupIdLists": Rate(1, 1)})


def test_sessions_are_asked_in_batches_of_ten():
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
    with served(replies) as (server, client, _):
        found = client.batch_query_sessions(ids, instance_id=INSTANCE)
    assert list(found) == unique
    assert [cid for cid, online in found.items() if online] == ["GID_a@@@d7", "GID_a@@@d17"]
    sizes = [
        sum(1 for name in r.params if name.startswith("ClientIdList.")) for r in server.requests
    ]
    assert sizes == [10, 10, 3]
    assert server.requests[2].params["ClientIdList.3"] == "GID_a@@@d22"
    assert all(r.params["InstanceId"] == INSTANCE for r in server.requests)


def test_a_batch_answer_missing_an_id_is_an_error():
    body = {"RequestId": "r", "OnlineStatusList": [{"ClientId": "GID_a@@@1", "OnlineStatus": True}]}
    with (
        served([], default=Reply(body=body)) as (_, client, _fake),
        pytest.raises(CloudError, match="lacks GID_a@@@2"),
    ):
        client.batch_query_sessions(["GID_a@@@1", "GID_a@@@2"], instance_id=INSTANCE)


def test_query_session_and_list_instances():
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
    with served(replies) as (server, client, _):
        assert client.query_session("GID_a@@@1", instance_id=INSTANCE) is True
        [instance] = client.list_instances()
    assert (instance.instance_id, instance.instance_name, instance.instance_status) == (
        INSTANCE,
        "prod",
        5,
    )
    assert [(t.key, t.value) for t in instance.tags] == [("team", "iot")]
    assert server.requests[0].params["ClientId"] == "GID_a@@@1"


def test_online_clients_without_known_ids_cannot_be_counted_and_say_so():
    with served([]) as (server, client, _):
        found = client.online_clients("GID_a", instance_id=INSTANCE, known_ids=[])
    assert found.count is None
    assert found.reason and "cannot count a GID's clients" in found.reason
    assert server.requests == []


def test_a_failed_delete_is_done_only_when_a_fresh_listing_lacks_the_gid():
    refused = Reply(status=400, body={"RequestId": "r-del", "Code": "ParameterFieldCheckFailed"})
    listing = Reply(body={"RequestId": "r", "Data": [row("GID_kept")]})
    with served([refused, listing, refused, listing]) as (_, client, _fake):
        gone = client.delete_group("GID_deleted", instance_id=INSTANCE)
        assert (gone.detail, gone.request_id) == ("already gone", "r-del")
        with pytest.raises(CloudApiError, match="ParameterFieldCheckFailed"):
            client.delete_group("GID_kept", instance_id=INSTANCE)


def test_a_failed_delete_whose_listing_fails_too_raises_the_delete_error():
    refused = Reply(status=400, body={"RequestId": "r-del", "Code": "ParameterFieldCheckFailed"})
    unlisted = Reply(status=400, body={"RequestId": "r-list", "Code": "InvalidParameter"})
    with (
        served([refused, unlisted]) as (_, client, _fake),
        pytest.raises(CloudApiError) as caught,
    ):
        client.delete_group("GID_a", instance_id=INSTANCE)
    assert caught.value.code == "ParameterFieldCheckFailed"


def test_debug_lines_mask_the_signature(caplog):
    caplog.set_level(logging.DEBUG, logger="reconciler.cloud")
    with served([Reply(500, error("SystemOverFlow"))]) as (_, client, _fake):
        client.list_group_ids(INSTANCE)
    lines = [r.getMessage() for r in caplog.records]
    assert any("ListGroupId attempt 1: status=500 code=SystemOverFlow" in line for line in lines)
    assert any("retrying" in line for line in lines)
    assert all(SECRET not in line for line in lines)
    assert all("'Signature': '***'" in line for line in lines if ": status=" in line)


def test_unknown_actions_are_refused_before_sending():
    with (
        served([]) as (server, client, _),
        pytest.raises(ValueError, match="unknown OnsMqtt 2020-04-20 action"),
    ):
        client.call("OnsMqttGroupIdList", {})
    assert server.requests == []


def test_retryable_error_class():
    with (
        served([], default=Reply(500, error("SystemOverFlow"))) as (_, client, _fake),
        pytest.raises(RetryableApiError),
    ):
        client.list_group_ids(INSTANCE)
