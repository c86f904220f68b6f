"""OnsClient against the real emulator: every action, faults, hard errors, throttling."""

from __future__ import annotations

import contextlib
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from reconciler.cloud.client import OnsClient, RetryPolicy
from reconciler.cloud.credentials import resolve_credentials
from reconciler.emulator.server import EmulatorOptions, EmulatorServer
from reconciler.errors import (
    AlreadyExistsError,
    AuthError,
    NotFoundError,
    ParameterError,
    RetryableApiError,
)
from reconciler.ratelimit import Rate
from tests.fixtures.emulator import (
    TEST_ACCESS_KEY_ID,
    TEST_ACCESS_KEY_SECRET,
    TEST_INSTANCE_ID,
    seeded_server,
    seeded_store,
)
from tests.fixtures.emulator_store import add_message_sample, group_ids

FAST_RETRY = RetryPolicy(max_attempts=10, base_delay=0.01, max_delay=0.2, deadline=30)


def client_for(url: str, *, secret: str = TEST_ACCESS_KEY_SECRET, **kw: Any) -> OnsClient:
    creds = resolve_credentials(
        access_key_id=kw.pop("access_key_id", TEST_ACCESS_KEY_ID),
        access_key_secret=secret,
        security_token=kw.pop("security_token", None),
        env={},
    )
    kw.setdefault("retry", FAST_RETRY)
    return OnsClient(creds, region="cn-hangzhou", endpoint=url, **kw)


def test_all_eight_actions_answer_typed_results(emulator):
    now = int(time.time() * 1000)
    with client_for(emulator.url) as client:
        request_id = client.create_group_id(
            "GID_orders", instance_id=TEST_INSTANCE_ID, topic="orders"
        )
        assert request_id
        emulator.store.add_client(
            "GID_orders@@@dev1",
            instance_id=TEST_INSTANCE_ID,
            last_touch=now - 1000,
            subscriptions=[("orders", "/room/1/", 1)],
        )
        add_message_sample(
            emulator.store,
            TEST_INSTANCE_ID,
            "orders",
            now - 5000,
            trans_type="PUB",
            tps=2.5,
            total=10,
        )

        (record,) = client.list_group_ids(TEST_INSTANCE_ID)
        assert (record.group_id, record.instance_id, record.independent_naming) == (
            "GID_orders",
            TEST_INSTANCE_ID,
            True,
        )
        assert record.create_time > 0
        assert record.update_time >= record.create_time

        assert client.query_client_by_group_id("GID_orders", instance_id=TEST_INSTANCE_ID) == 1
        assert client.query_client_by_topic("orders", "/room/1/", instance_id=TEST_INSTANCE_ID) == 1

        info = client.query_client_by_client_id("GID_orders@@@dev1", instance_id=TEST_INSTANCE_ID)
        assert info.online
        assert info.client_id == "GID_orders@@@dev1"
        assert [(s.parent_topic, s.sub_topic, s.qos) for s in info.subscriptions.items] == [
            ("orders", "/room/1/", 1)
        ]

        history = client.query_history_online(
            "GID_orders", now - 60_000, now, instance_id=TEST_INSTANCE_ID
        )
        assert [p.y for p in history.points] == [1]

        trend = client.query_msg_trans_trend(
            "orders", now - 60_000, now, instance_id=TEST_INSTANCE_ID, trans_type="PUB"
        )
        assert any(p.y == 2.5 for p in trend.points)

        assert client.delete_group_id("GID_orders", instance_id=TEST_INSTANCE_ID)
        assert client.list_group_ids(TEST_INSTANCE_ID) == []
        with pytest.raises(NotFoundError):
            client.query_client_by_group_id("GID_orders", instance_id=TEST_INSTANCE_ID)


def test_hard_errors_surface_code_and_request_id(emulator):
    with client_for(emulator.url) as client:
        client.create_group_id("GID_dup", instance_id=TEST_INSTANCE_ID)
        with pytest.raises(AlreadyExistsError) as exists:
            client.create_group_id("GID_dup", instance_id=TEST_INSTANCE_ID)
        assert exists.value.code == "BIZ_SUBSCRIPTION_EXISTED"
        assert exists.value.request_id
        assert exists.value.request_id in str(exists.value)

        with pytest.raises(NotFoundError) as missing:
            client.delete_group_id("GID_missing", instance_id=TEST_INSTANCE_ID)
        assert missing.value.code == "BIZ_SUBSCRIPTION_NOT_FOUND"

        with pytest.raises(NotFoundError) as topic:
            client.create_group_id("GID_new", instance_id=TEST_INSTANCE_ID, topic="nope")
        assert topic.value.code == "BIZ_TOPIC_NOT_FOUND"

        with pytest.raises(NotFoundError) as instance:
            client.list_group_ids("post-cn-unknown")
        assert instance.value.code == "BIZ_INSTANCE_NOT_FOUND"

        with pytest.raises(ParameterError) as bad:
            client.create_group_id("not-a-gid", instance_id=TEST_INSTANCE_ID)
        assert bad.value.code == "BIZ_FIELD_CHECK_INVALID"


def test_wrong_secret_and_unknown_key_are_auth_errors_not_retried(emulator, caplog):
    caplog.set_level(logging.DEBUG, logger="reconciler.cloud")
    with client_for(emulator.url, secret="wrong-secret") as client, pytest.raises(AuthError) as bad:
        client.list_group_ids(TEST_INSTANCE_ID)
    assert bad.value.code == "SignatureDoesNotMatch"
    assert bad.value.request_id
    with (
        client_for(emulator.url, access_key_id="LTAI-unknown") as client,
        pytest.raises(AuthError) as unknown,
    ):
        client.list_group_ids(TEST_INSTANCE_ID)
    assert unknown.value.code == "InvalidAccessKeyId.NotFound"
    attempts = [r.getMessage() for r in caplog.records if " attempt " in r.getMessage()]
    assert len(attempts) == 2  # one attempt each: auth errors are never retried


def test_sts_token_is_accepted_and_never_logged(caplog):
    caplog.set_level(logging.DEBUG)
    token = "CAIS.sts/token+value=="
    store = seeded_store()
    store.add_account("STS.key", "sts-secret", sts_tokens=[token])
    with EmulatorServer(store, owns_store=True) as server:
        with client_for(
            server.url, access_key_id="STS.key", secret="sts-secret", security_token=token
        ) as client:
            assert client.list_group_ids(TEST_INSTANCE_ID) == []
        with (
            client_for(
                server.url, access_key_id="STS.key", secret="wrong", security_token=token
            ) as client,
            pytest.raises(AuthError) as info,
        ):
            client.list_group_ids(TEST_INSTANCE_ID)
    texts = [r.getMessage() for r in caplog.records] + [str(info.value)]
    for text in texts:
        for secret in (token, "sts-secret", "sts%2Ftoken", "sts%252Ftoken"):
            assert secret not in text


def test_client_recovers_from_injected_faults_by_retrying(caplog):
    caplog.set_level(logging.DEBUG, logger="reconciler.cloud")
    options = EmulatorOptions(fault_rate=0.3, fault_seed=11)
    names = [f"GID_fault_{n:02d}" for n in range(20)]
    with seeded_server(options) as server, client_for(server.url) as client:
        for name in names:
            # AlreadyExistsError: an earlier attempt ran but its answer was dropped.
            with contextlib.suppress(AlreadyExistsError):
                client.create_group_id(name, instance_id=TEST_INSTANCE_ID)
        for _ in range(10):
            listed = {r.group_id for r in client.list_group_ids(TEST_INSTANCE_ID)}
            assert listed == set(names)
    retried = [r.getMessage() for r in caplog.records if "retrying" in r.getMessage()]
    assert retried, "fault injection at 0.3 should have forced some retries"


def test_throttling_is_retried_within_the_deadline(caplog):
    caplog.set_level(logging.DEBUG, logger="reconciler.cloud")
    options = EmulatorOptions(throttles={"OnsMqttGroupIdList": Rate(2, 1.0)})
    policy = RetryPolicy(max_attempts=30, base_delay=0.05, max_delay=0.5, deadline=30)
    with seeded_server(options) as server, client_for(server.url, retry=policy) as client:
        for _ in range(6):
            assert client.list_group_ids(TEST_INSTANCE_ID) == []
    codes = [r.getMessage() for r in caplog.records if "code=Throttling.User" in r.getMessage()]
    assert codes, "the emulator should have throttled some calls"


def test_throttling_beyond_the_attempts_surfaces():
    options = EmulatorOptions(throttles={"OnsMqttGroupIdList": Rate(1, 60.0)})
    policy = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.02, deadline=5)
    with seeded_server(options) as server, client_for(server.url, retry=policy) as client:
        client.list_group_ids(TEST_INSTANCE_ID)
        with pytest.raises(RetryableApiError) as info:
            client.list_group_ids(TEST_INSTANCE_ID)
    assert info.value.code == "Throttling.User"


def test_one_client_is_safe_from_eight_threads(emulator):
    names = [f"GID_thread_{n:03d}" for n in range(64)]
    with client_for(emulator.url, pool_size=8) as client, ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda n: client.create_group_id(n, instance_id=TEST_INSTANCE_ID), names))
        listed = {r.group_id for r in client.list_group_ids(TEST_INSTANCE_ID)}
        assert listed == set(names)
        list(pool.map(lambda n: client.delete_group_id(n, instance_id=TEST_INSTANCE_ID), names))
    assert group_ids(emulator.store, TEST_INSTANCE_ID) == []
