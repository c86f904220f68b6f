"""OnsMqttClient against the real emulator: every action, the error tree, the failed-delete
check, and the account-wide bucket shared by clients of several instances and regions."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from reconciler.cloud.credentials import resolve_credentials
from reconciler.cloud.onsmqtt import OnsMqttClient
from reconciler.cloud.pacing import RateLimits
from reconciler.cloud.retry import RetryPolicy
from reconciler.errors import (
    AlreadyExistsError,
    AuthError,
    CloudApiError,
    NotFoundError,
    ParameterError,
)
from tests.fixtures.emulator import TEST_ACCESS_KEY_ID, TEST_ACCESS_KEY_SECRET, TEST_INSTANCE_ID

FAST_RETRY = RetryPolicy(max_attempts=10, base_delay=0.01, max_delay=0.2, deadline=30)


def client_for(
    url: str, *, region: str = "cn-hangzhou", secret: str = TEST_ACCESS_KEY_SECRET, **kw: Any
) -> OnsMqttClient:
    creds = resolve_credentials(access_key_id=TEST_ACCESS_KEY_ID, access_key_secret=secret, env={})
    kw.setdefault("retry", FAST_RETRY)
    return OnsMqttClient(creds, region=region, endpoint=url, **kw)


def test_every_action_answers_typed_results(emulator):
    store = emulator.store
    with client_for(emulator.url) as client:
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


def test_errors_map_onto_the_tree(emulator):
    with client_for(emulator.url) as client:
        client.create_group_id("GID_dup", instance_id=TEST_INSTANCE_ID)
        with pytest.raises(AlreadyExistsError):
            client.create_group_id("GID_dup", instance_id=TEST_INSTANCE_ID)
        with pytest.raises(ParameterError):
            client.create_group_id("nope", instance_id=TEST_INSTANCE_ID)
        with pytest.raises(NotFoundError) as caught:
            client.list_group_ids("mqtt-cn-unknown")
        assert caught.value.code == "InstanceNotFound"
    with client_for(emulator.url, secret="wrong") as client, pytest.raises(AuthError):
        client.list_instances()


def test_a_delete_of_a_gid_already_gone_is_told_apart_by_the_listing(emulator):
    with client_for(emulator.url) as client:
        with pytest.raises(CloudApiError) as caught:
            client.delete_group_id("GID_never", instance_id=TEST_INSTANCE_ID)
        assert caught.value.code == "ParameterFieldCheckFailed"
        gone = client.delete_group("GID_never", instance_id=TEST_INSTANCE_ID)
        assert gone.detail == "already gone"
        emulator.store.add_group(TEST_INSTANCE_ID, "GID_here")
        assert client.delete_group("GID_here", instance_id=TEST_INSTANCE_ID).detail == "deleted"


def test_name_taken_in_the_shared_namespace(emulator):
    emulator.store.add_instance("mqtt-shared-a", independent_naming=False)
    emulator.store.add_instance("mqtt-shared-b", independent_naming=False)
    with client_for(emulator.url) as client:
        client.create_group_id("GID_one", instance_id="mqtt-shared-a")
        with pytest.raises(CloudApiError, match="GID_one cannot be created on mqtt-shared-b"):
            client.create_group_id("GID_one", instance_id="mqtt-shared-b")
        # The planner's account-wide listing finds the shared name without naming an instance.
        assert [(r.group_id, r.instance_id) for r in client.list_group_ids()] == [
            ("GID_one", "mqtt-shared-a")
        ]


def _create_many(url: str, registries: list[RateLimits], per_client: int, prefix: str) -> None:
    """One client per (region, instance), each creating ``per_client`` GIDs in a thread."""
    places = [
        ("cn-hangzhou", TEST_INSTANCE_ID),
        ("cn-shanghai", "mqtt-sh"),
        ("cn-beijing", "mqtt-bj"),
    ]

    def run(index: int) -> None:
        region, instance_id = places[index]
        with client_for(url, region=region, rate_limits=registries[index]) as client:
            for n in range(per_client):
                client.create_group_id(f"GID_{prefix}{index}_{n}", instance_id=instance_id)

    with ThreadPoolExecutor(max_workers=3) as pool:
        list(pool.map(run, range(3)))


def _throttled(caplog: pytest.LogCaptureFixture) -> int:
    return sum("Throttling.User" in record.getMessage() for record in caplog.records)


def test_clients_of_one_account_share_its_bucket_and_keep_to_the_limit(emulator, caplog):
    caplog.set_level(logging.WARNING, logger="reconciler.cloud")
    emulator.store.add_instance("mqtt-sh", region="cn-shanghai")
    emulator.store.add_instance("mqtt-bj", region="cn-beijing")
    shared = RateLimits()
    _create_many(emulator.url, [shared, shared, shared], per_client=8, prefix="shared")
    assert _throttled(caplog) == 0
    # The same work with a bucket per client asks for three times the account's limit.
    _create_many(emulator.url, [RateLimits() for _ in range(3)], per_client=8, prefix="own")
    assert _throttled(caplog) > 0
    assert len(emulator.store.groups([TEST_INSTANCE_ID, "mqtt-sh", "mqtt-bj"])) == 48
