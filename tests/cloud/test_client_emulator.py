"""Either API's client against the real emulator: every action, hard errors, auth, faults,
throttling, threads; then what one API alone does (OnsMqtt's failed-delete check, shared
namespace and account-wide bucket), marked for it."""

from __future__ import annotations

import contextlib
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from reconciler.cloud.client import OnsClient, RetryPolicy
from reconciler.cloud.credentials import resolve_credentials
from reconciler.cloud.onsmqtt import OnsMqttClient
from reconciler.cloud.pacing import RateLimits
from reconciler.emulator.server import EmulatorOptions, EmulatorServer
from reconciler.errors import (
    AlreadyExistsError,
    AuthError,
    CloudApiError,
    NotFoundError,
    ParameterError,
    RetryableApiError,
)
from reconciler.ratelimit import Rate
from tests.fixtures.apis import ApiCase, ApiClient
from tests.fixtures.emulator import (
    TEST_ACCESS_KEY_ID,
    TEST_ACCESS_KEY_SECRET,
    TEST_INSTANCE_ID,
    RunningEmulator,
    seeded_server,
    seeded_store,
)
from tests.fixtures.emulator_store import add_message_sample, group_ids

FAST_RETRY = RetryPolicy(max_attempts=10, base_delay=0.01, max_delay=0.2, deadline=30)


def client_for(
    api_case: ApiCase,
    url: str,
    *,
    region: str = "cn-hangzhou",
    secret: str = TEST_ACCESS_KEY_SECRET,
    **kw: Any,
) -> ApiClient:
    creds = resolve_credentials(
        access_key_id=kw.pop("access_key_id", TEST_ACCESS_KEY_ID),
        access_key_secret=secret,
        security_token=kw.pop("security_token", None),
        env={},
    )
    kw.setdefault("retry", FAST_RETRY)
    return api_case.client(creds, region=region, endpoint=url, **kw)


# --- every action ----------------------------------------------------------------------------


@pytest.mark.api("ons")
def test_all_eight_actions_answer_typed_results(
    api_case: ApiCase, emulator: RunningEmulator
) -> None:
    now = int(time.time() * 1000)
    with client_for(api_case, emulator.url) as client:
        assert isinstance(client, OnsClient)
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


@pytest.mark.api("onsmqtt")
def test_every_action_answers_typed_results(api_case: ApiCase, emulator: RunningEmulator) -> None:
    store = emulator.store
    with client_for(api_case, emulator.url) as client:
        assert isinstance(client, OnsMqttClient)
        assert client.create_group_id("GID_dev", instance_id=TEST_INSTANCE_ID)
        [record] = client.list_group_ids(TEST_INSTANCE_ID)
        assert (record.group_id, record.instance_id, record.independent_naming) == (
            "GID_dev",
            TEST_INSTANCE_ID,
            True,
        )
        store.add_client("GID_dev@@@on", instance_id=TEST_INSTANCE_ID)
        store.add_client("GID_dev@@@off", instance_id=TEST_INSTANCE_ID, online=False)
        assert client.query_session("GID_dev@@@on", instance_id=TEST_INSTANCE_ID) is True
        ids = ["GID_dev@@@on", "GID_dev@@@off"] + [f"GID_dev@@@x{n}" for n in range(12)]
        found = client.batch_query_sessions(ids, instance_id=TEST_INSTANCE_ID)
        assert [cid for cid, online in found.items() if online] == ["GID_dev@@@on"]
        assert len(found) == 14
        [instance] = client.list_instances()
        assert (instance.instance_id, instance.region_id) == (TEST_INSTANCE_ID, "cn-hangzhou")
        assert client.delete_group_id("GID_dev", instance_id=TEST_INSTANCE_ID)
        assert client.list_group_ids(TEST_INSTANCE_ID) == []


# --- errors and auth -------------------------------------------------------------------------

# Each API's codes for: a GID that exists, a malformed GID name, an unknown instance.
HARD_ERROR_CODES = {
    "ons": ("BIZ_SUBSCRIPTION_EXISTED", "BIZ_FIELD_CHECK_INVALID", "BIZ_INSTANCE_NOT_FOUND"),
    "onsmqtt": ("GroupIdAlreadyExsited", "ParameterFieldCheckFailed", "InstanceNotFound"),
}
UNKNOWN_INSTANCE = {"ons": "post-cn-unknown", "onsmqtt": "mqtt-cn-unknown"}


def test_hard_errors_surface_code_and_request_id(
    api_case: ApiCase, emulator: RunningEmulator
) -> None:
    exists_code, bad_name_code, no_instance_code = HARD_ERROR_CODES[api_case.name]
    with client_for(api_case, emulator.url) as client:
        client.create_group_id("GID_dup", instance_id=TEST_INSTANCE_ID)
        with pytest.raises(AlreadyExistsError) as exists:
            client.create_group_id("GID_dup", instance_id=TEST_INSTANCE_ID)
        assert exists.value.code == exists_code
        assert exists.value.request_id
        assert exists.value.request_id in str(exists.value)

        with pytest.raises(NotFoundError) as instance:
            client.list_group_ids(UNKNOWN_INSTANCE[api_case.name])
        assert instance.value.code == no_instance_code

        with pytest.raises(ParameterError) as bad:
            client.create_group_id("not-a-gid", instance_id=TEST_INSTANCE_ID)
        assert bad.value.code == bad_name_code


@pytest.mark.api("ons")
def test_ons_names_the_missing_gid_and_topic(api_case: ApiCase, emulator: RunningEmulator) -> None:
    with client_for(api_case, emulator.url) as client:
        with pytest.raises(NotFoundError) as missing:
            client.delete_group_id("GID_missing", instance_id=TEST_INSTANCE_ID)
        assert missing.value.code == "BIZ_SUBSCRIPTION_NOT_FOUND"

        with pytest.raises(NotFoundError) as topic:
            client.create_group_id("GID_new", instance_id=TEST_INSTANCE_ID, topic="nope")
        assert topic.value.code == "BIZ_TOPIC_NOT_FOUND"


def test_wrong_secret_and_unknown_key_are_auth_errors_not_retried(
    api_case: ApiCase, emulator: RunningEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="reconciler.cloud")
    with (
        client_for(api_case, emulator.url, secret="wrong-secret") as client,
        pytest.raises(AuthError) as bad,
    ):
        client.list_group_ids(TEST_INSTANCE_ID)
    assert bad.value.code == "SignatureDoesNotMatch"
    assert bad.value.request_id
    with (
        client_for(api_case, emulator.url, access_key_id="LTAI-unknown") as client,
        pytest.raises(AuthError) as unknown,
    ):
        client.list_group_ids(TEST_INSTANCE_ID)
    assert unknown.value.code == "InvalidAccessKeyId.NotFound"
    attempts = [r.getMessage() for r in caplog.records if " attempt " in r.getMessage()]
    assert len(attempts) == 2  # one attempt each: auth errors are never retried


@pytest.mark.api("onsmqtt")
def test_a_wrong_secret_refuses_the_instance_listing_too(
    api_case: ApiCase, emulator: RunningEmulator
) -> None:
    with client_for(api_case, emulator.url, secret="wrong") as client, pytest.raises(AuthError):
        assert isinstance(client, OnsMqttClient)
        client.list_instances()


def test_sts_token_is_accepted_and_never_logged(
    api_case: ApiCase, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    token = "CAIS.sts/token+value=="
    store = seeded_store()
    store.add_account("STS.key", "sts-secret", sts_tokens=[token])
    with EmulatorServer(store, owns_store=True) as server:
        with client_for(
            api_case, server.url, access_key_id="STS.key", secret="sts-secret", security_token=token
        ) as client:
            assert client.list_group_ids(TEST_INSTANCE_ID) == []
        with (
            client_for(
                api_case, server.url, access_key_id="STS.key", secret="wrong", security_token=token
            ) as client,
            pytest.raises(AuthError) as info,
        ):
            client.list_group_ids(TEST_INSTANCE_ID)
    texts = [r.getMessage() for r in caplog.records] + [str(info.value)]
    for text in texts:
        for secret in (token, "sts-secret", "sts%2Ftoken", "sts%252Ftoken"):
            assert secret not in text


# --- faults, throttling, threads -------------------------------------------------------------


def unpaced(api_case: ApiCase) -> RateLimits:
    """The client's own limits on the GID actions lifted (the emulator's still apply)."""
    return RateLimits(dict.fromkeys(api_case.group_actions))


def test_client_recovers_from_injected_faults_by_retrying(
    api_case: ApiCase, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="reconciler.cloud")
    # Only faults here: the emulator's limits lifted, so nothing is throttled.
    options = EmulatorOptions(
        fault_rate=0.3, fault_seed=11, throttles=dict.fromkeys(api_case.group_actions)
    )
    names = [f"GID_fault_{n:02d}" for n in range(20)]
    with (
        seeded_server(options) as server,
        client_for(api_case, server.url, rate_limits=unpaced(api_case)) as client,
    ):
        for name in names:
            # AlreadyExistsError: an earlier attempt ran but its answer was dropped.
            with contextlib.suppress(AlreadyExistsError):
                client.create_group_id(name, instance_id=TEST_INSTANCE_ID)
        for _ in range(10):
            listed = {r.group_id for r in client.list_group_ids(TEST_INSTANCE_ID)}
            assert listed == set(names)
    retried = [r.getMessage() for r in caplog.records if "retrying" in r.getMessage()]
    assert retried, "fault injection at 0.3 should have forced some retries"


def test_throttling_is_retried_within_the_deadline(
    api_case: ApiCase, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="reconciler.cloud")
    options = EmulatorOptions(throttles={api_case.list_action: Rate(2, 1.0)})
    policy = RetryPolicy(max_attempts=30, base_delay=0.05, max_delay=0.5, deadline=30)
    with (
        seeded_server(options) as server,
        client_for(api_case, server.url, retry=policy, rate_limits=unpaced(api_case)) as client,
    ):
        for _ in range(6):
            assert client.list_group_ids(TEST_INSTANCE_ID) == []
    codes = [r.getMessage() for r in caplog.records if "code=Throttling.User" in r.getMessage()]
    assert codes, "the emulator should have throttled some calls"


def test_throttling_beyond_the_attempts_surfaces(api_case: ApiCase) -> None:
    options = EmulatorOptions(throttles={api_case.list_action: Rate(1, 60.0)})
    policy = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.02, deadline=5)
    with (
        seeded_server(options) as server,
        client_for(api_case, server.url, retry=policy, rate_limits=unpaced(api_case)) as client,
    ):
        client.list_group_ids(TEST_INSTANCE_ID)
        with pytest.raises(RetryableApiError) as info:
            client.list_group_ids(TEST_INSTANCE_ID)
    assert info.value.code == "Throttling.User"


def test_one_client_is_safe_from_eight_threads(
    api_case: ApiCase, emulator: RunningEmulator
) -> None:
    for action in api_case.group_actions:  # threads, not pacing, are under test
        emulator.server.set_throttle(action, None)
    names = [f"GID_thread_{n:03d}" for n in range(64)]
    with (
        client_for(api_case, emulator.url, pool_size=8, rate_limits=unpaced(api_case)) as client,
        ThreadPoolExecutor(8) as pool,
    ):
        list(pool.map(lambda n: client.create_group_id(n, instance_id=TEST_INSTANCE_ID), names))
        listed = {r.group_id for r in client.list_group_ids(TEST_INSTANCE_ID)}
        assert listed == set(names)
        list(pool.map(lambda n: client.delete_group_id(n, instance_id=TEST_INSTANCE_ID), names))
    assert group_ids(emulator.store, TEST_INSTANCE_ID) == []


# --- OnsMqtt only ----------------------------------------------------------------------------


@pytest.mark.api("onsmqtt")
def test_a_delete_of_a_gid_already_gone_is_told_apart_by_the_listing(
    api_case: ApiCase, emulator: RunningEmulator
) -> None:
    with client_for(api_case, emulator.url) as client:
        with pytest.raises(CloudApiError) as caught:
            client.delete_group_id("GID_never", instance_id=TEST_INSTANCE_ID)
        assert caught.value.code == "ParameterFieldCheckFailed"
        gone = client.delete_group("GID_never", instance_id=TEST_INSTANCE_ID)
        assert gone.detail == "already gone"
        emulator.store.add_group(TEST_INSTANCE_ID, "GID_here")
        assert client.delete_group("GID_here", instance_id=TEST_INSTANCE_ID).detail == "deleted"


@pytest.mark.api("onsmqtt")
def test_name_taken_in_the_shared_namespace(api_case: ApiCase, emulator: RunningEmulator) -> None:
    emulator.store.add_instance("mqtt-shared-a", independent_naming=False)
    emulator.store.add_instance("mqtt-shared-b", independent_naming=False)
    with client_for(api_case, emulator.url) as client:
        client.create_group_id("GID_one", instance_id="mqtt-shared-a")
        with pytest.raises(CloudApiError, match="GID_one cannot be created on mqtt-shared-b"):
            client.create_group_id("GID_one", instance_id="mqtt-shared-b")
        # The planner's account-wide listing finds the shared name without naming an instance.
        assert [(r.group_id, r.instance_id) for r in client.list_group_ids()] == [
            ("GID_one", "mqtt-shared-a")
        ]


def _create_many(
    api_case: ApiCase, url: str, registries: list[RateLimits], per_client: int, prefix: str
) -> None:
    """One client per (region, instance), each creating ``per_client`` GIDs in a thread."""
    places = [
        ("cn-hangzhou", TEST_INSTANCE_ID),
        ("cn-shanghai", "mqtt-sh"),
        ("cn-beijing", "mqtt-bj"),
    ]

    def run(index: int) -> None:
        region, instance_id = places[index]
        with client_for(api_case, url, region=region, rate_limits=registries[index]) as client:
            for n in range(per_client):
                client.create_group_id(f"GID_{prefix}{index}_{n}", instance_id=instance_id)

    with ThreadPoolExecutor(max_workers=3) as pool:
        list(pool.map(run, range(3)))


def _throttled(caplog: pytest.LogCaptureFixture) -> int:
    return sum("Throttling.User" in record.getMessage() for record in caplog.records)


@pytest.mark.api("onsmqtt")
@pytest.mark.slow  # 48 creates at the account's 10 a second: about 4 s
def test_clients_of_one_account_share_its_bucket_and_keep_to_the_limit(
    api_case: ApiCase, emulator: RunningEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="reconciler.cloud")
    emulator.store.add_instance("mqtt-sh", region="cn-shanghai")
    emulator.store.add_instance("mqtt-bj", region="cn-beijing")
    shared = RateLimits()
    _create_many(api_case, emulator.url, [shared, shared, shared], per_client=8, prefix="shared")
    assert _throttled(caplog) == 0
    # The same work with a bucket per client asks for three times the account's limit.
    own = [RateLimits() for _ in range(3)]
    _create_many(api_case, emulator.url, own, per_client=8, prefix="own")
    assert _throttled(caplog) > 0
    assert len(emulator.store.groups([TEST_INSTANCE_ID, "mqtt-sh", "mqtt-bj"])) == 48
