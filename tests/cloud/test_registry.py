"""The run's clients: one per region and API, paced from one registry for both products."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from reconciler.cloud.client import OnsClient
from reconciler.cloud.credentials import Credentials
from reconciler.cloud.onsmqtt import OnsMqttClient
from reconciler.cloud.registry import ClientRegistry
from reconciler.commands.connect import cloud_session
from reconciler.models import ProviderConfig
from reconciler.ratelimit import Rate
from tests.fixtures.fake_time import FakeTime
from tests.fixtures.scripted_server import Reply, ScriptedServer, scripted

CREDENTIALS = Credentials.model_validate(
    {"access_key_id": "test-id", "access_key_secret": "test-secret-value", "source": "test"}
)
# One body every action of both APIs accepts as an answer.
ANSWER = {
    "RequestId": "r",
    "Data": [],
    "MqttClientSetDo": {"OnlineCount": 0},
    "OnlineStatusList": [],
}


@contextmanager
def registry(fake: FakeTime, **kw: object) -> Iterator[tuple[ClientRegistry, ScriptedServer]]:
    with scripted([], default=Reply(body=ANSWER)) as server:
        clients = ClientRegistry(
            endpoint=server.url,
            credentials=CREDENTIALS,
            clock=fake.clock,
            sleep=fake.sleep,
            **kw,  # type: ignore[arg-type]
        )
        try:
            yield clients, server
        finally:
            clients.close()


def test_one_client_per_region_and_api_of_the_class_its_api_names() -> None:
    with registry(FakeTime()) as (clients, _):
        ons = clients.client("cn-hangzhou", "ons")
        assert clients.client("cn-hangzhou", "ons") is ons
        assert isinstance(ons, OnsClient)
        assert isinstance(clients.client("cn-hangzhou", "onsmqtt"), OnsMqttClient)
        assert clients.client("cn-shanghai", "ons") is not ons
        assert clients.client_as("cn-hangzhou", OnsClient) is ons


def test_account_limits_are_shared_by_every_region_per_client_limits_are_not() -> None:
    fake = FakeTime()
    with registry(fake) as (clients, _):
        hangzhou, shanghai = (clients.client(r, "onsmqtt") for r in ("cn-hangzhou", "cn-shanghai"))
        start = fake.now
        for n in range(20):
            (hangzhou, shanghai)[n % 2].list_group_ids("post-cn-1")
        # 10 a second for the account, whichever region asked: 20 calls take 1.9 s.
        assert fake.now - start == pytest.approx(1.9)

        ons = [clients.client(r, "ons") for r in ("cn-hangzhou", "cn-shanghai")]
        start = fake.now
        for n in range(60):
            ons[n % 2].query_client_by_group_id("GID_a", instance_id="i")
        # 30 a minute for each client: each made 30 calls, within its first bucketful.
        assert fake.now == start


def test_clock_and_sleep_reach_the_clients_of_a_cloud_session(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "test-id")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "test-secret-value")
    fake = FakeTime()
    with scripted([], default=Reply(body=ANSWER)) as server:
        provider = ProviderConfig(region="cn-hangzhou", endpoint=server.url)
        with cloud_session(provider, clock=fake.clock, sleep=fake.sleep) as session:
            client = session.client("cn-hangzhou", "ons")
            for _ in range(31):
                client.query_client_by_group_id("GID_a", instance_id="i")
    # The 31st call waited one token (60/30 s) on the session's clock, not the wall clock.
    assert fake.sleeps == [pytest.approx(2.0)]


def test_write_rate_replaces_the_documented_limits_of_creates_and_deletes_only() -> None:
    with registry(FakeTime(), write_rate=Rate(50, 1)) as (clients, _):
        onsmqtt = clients.client("cn-hangzhou", "onsmqtt").rate_limits
        ons = clients.client("cn-hangzhou", "ons").rate_limits
    assert onsmqtt.rate("CreateGroupId") == onsmqtt.rate("DeleteGroupId") == Rate(50, 1)
    assert onsmqtt.rate("ListGroupId") == Rate(10, 1)
    # ONS documents no limit on its GID actions: the executor's buckets alone pace them.
    assert ons.rate("OnsMqttGroupIdCreate") is None
    assert ons.rate("OnsMqttQueryClientByGroupId") == Rate(30, 60)


def test_rates_name_actions_of_either_product_and_nothing_else() -> None:
    rates = {"BatchQuerySessionByClientIds": Rate(1, 1), "OnsMqttQueryClientByGroupId": None}
    with registry(FakeTime(), rates=rates) as (clients, _):
        assert clients.client("r", "onsmqtt").rate_limits.rate("BatchQuerySessionByClientIds") == (
            Rate(1, 1)
        )
        assert clients.client("r", "ons").rate_limits.rate("OnsMqttQueryClientByGroupId") is None
    with pytest.raises(ValueError, match="unknown action 'OnsMqttGroupIdLists'"):
        ClientRegistry(endpoint=None, rates={"OnsMqttGroupIdLists": Rate(1, 1)})
