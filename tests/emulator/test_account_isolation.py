"""Two accounts on one emulator: each sees and changes only its own instances, over both API
generations and at MQTT CONNECT. Another account's instance looks exactly like a missing one
(the same code and message), never like a permission error that would say it exists."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from reconciler.emulator.fixture import load_fixture_text
from reconciler.emulator.mqtt.server import MqttServer
from reconciler.emulator.server import EmulatorOptions, EmulatorServer
from reconciler.emulator.store import EmulatorStore
from reconciler.errors import ConfigError
from tests.fixtures.emulator import (
    TEST_ACCESS_KEY_ID,
    TEST_ACCESS_KEY_SECRET,
    TEST_INSTANCE_ID,
    start_emulator_process,
)
from tests.fixtures.emulator_store import group_ids
from tests.fixtures.mqtt_devices import NOT_AUTHORIZED, Device
from tests.fixtures.wire import ok, signed_call

ALICE_KEY, ALICE_SECRET = "LTAI5tAliceKey", "alice-secret"
BOB_KEY, BOB_SECRET = "LTAI5tBobKey", "bob-secret"
ALICE_INSTANCE = "post-cn-alice001"
ALICE_SHARED = "MQ_INST_alice_shared"
BOB_INSTANCE = "post-cn-bob00001"
BOB_SHARED = "MQ_INST_bob_shared"
MISSING_INSTANCE = "post-cn-missing1"
DEVICE = "GID_orders@@@device-1"
V2019, V2020 = "2019-02-14", "2020-04-20"

FIXTURE = f"""
version: 1
accounts:
  - {{access_key_id: {ALICE_KEY}, access_key_secret: {ALICE_SECRET}}}
  - {{access_key_id: {BOB_KEY}, access_key_secret: {BOB_SECRET}}}
instances:
  - instance_id: {ALICE_INSTANCE}
    account: {ALICE_KEY}
    topics: [orders]
    groups: [GID_orders]
    devices: [{{client_id: "{DEVICE}", subscriptions: [{{parent_topic: orders}}]}}]
    online_history: [{{group_id: GID_orders, at: now-1h, count: 3}}]
    message_history: [{{parent_topic: orders, at: now-1h, trans_type: PUB, total: 9}}]
  - instance_id: {ALICE_SHARED}
    account: {ALICE_KEY}
    independent_naming: false
    topics: [orders]
    groups: [GID_shared]
  - instance_id: {BOB_INSTANCE}
    account: {BOB_KEY}
    topics: [orders]
  - instance_id: {BOB_SHARED}
    account: {BOB_KEY}
    independent_naming: false
    topics: [orders]
"""


@dataclass
class TwoAccounts:
    url: str
    store: EmulatorStore
    mqtt_port: int

    def call(self, key: str, action: str, version: str, params: dict[str, str]) -> Any:
        secret = ALICE_SECRET if key == ALICE_KEY else BOB_SECRET
        return signed_call(self.url, action, params, key=key, secret=secret, version=version)

    def alice_world(self) -> tuple[Any, ...]:
        """Everything of Alice's a call by Bob might change."""
        store = self.store
        return (
            [store.groups([ALICE_INSTANCE, ALICE_SHARED])],
            store.device_credential(ALICE_INSTANCE, DEVICE),
            store.client(ALICE_INSTANCE, DEVICE),
        )


@pytest.fixture
def two_accounts() -> Iterator[TwoAccounts]:
    store = EmulatorStore()
    load_fixture_text(FIXTURE, "two-accounts.yaml", store)
    server = EmulatorServer(store, options=EmulatorOptions(throttles={}), owns_store=True)
    for action in ("OnsMqttQueryHistoryOnline", "OnsMqttQueryClientByGroupId"):
        server.set_throttle(action, None)
    server.start()
    mqtt = MqttServer(store).start()
    try:
        world = TwoAccounts(server.url, store, mqtt.port)
        ok(
            world.call(
                ALICE_KEY,
                "RegisterDeviceCredential",
                V2020,
                {"InstanceId": ALICE_INSTANCE, "ClientId": DEVICE},
            )
        )
        yield world
    finally:
        mqtt.stop()
        server.stop()


_NOW = int(time.time() * 1000)
_DAY = {"BeginTime": str(_NOW - 86_400_000), "EndTime": str(_NOW)}
# (action, version, parameters besides InstanceId): every action that names an instance.
_INSTANCE_ACTIONS = [
    ("OnsMqttGroupIdList", V2019, {}),
    ("OnsMqttGroupIdCreate", V2019, {"GroupId": "GID_bobs"}),
    ("OnsMqttGroupIdDelete", V2019, {"GroupId": "GID_orders"}),
    ("OnsMqttQueryClientByGroupId", V2019, {"GroupId": "GID_orders"}),
    ("OnsMqttQueryClientByTopic", V2019, {"ParentTopic": "orders"}),
    ("OnsMqttQueryClientByClientId", V2019, {"ClientId": DEVICE}),
    ("OnsMqttQueryHistoryOnline", V2019, {"GroupId": "GID_orders", **_DAY}),
    (
        "OnsMqttQueryMsgTransTrend",
        V2019,
        {"ParentTopic": "orders", "TpsType": "SUM", "TransType": "PUB", **_DAY},
    ),
    ("ListGroupId", V2020, {}),
    ("CreateGroupId", V2020, {"GroupId": "GID_bobs"}),
    ("DeleteGroupId", V2020, {"GroupId": "GID_orders"}),
    ("QuerySessionByClientId", V2020, {"ClientId": DEVICE}),
    ("BatchQuerySessionByClientIds", V2020, {"ClientIdList.1": DEVICE}),
    ("RegisterDeviceCredential", V2020, {"ClientId": DEVICE}),
    ("GetDeviceCredential", V2020, {"ClientId": DEVICE}),
    ("RefreshDeviceCredential", V2020, {"ClientId": DEVICE}),
    ("UnRegisterDeviceCredential", V2020, {"ClientId": DEVICE}),
]


@pytest.mark.parametrize(
    ("action", "version", "params"), _INSTANCE_ACTIONS, ids=[case[0] for case in _INSTANCE_ACTIONS]
)
def test_another_accounts_instance_answers_like_a_missing_one(
    two_accounts: TwoAccounts, action: str, version: str, params: dict[str, str]
) -> None:
    before = two_accounts.alice_world()
    # Alice's own call works (so Bob's refusal below is about ownership, not the parameters).
    mine = two_accounts.call(ALICE_KEY, action, version, {"InstanceId": ALICE_INSTANCE, **params})
    assert mine.status_code == 200, mine.text
    before = two_accounts.alice_world()

    foreign = two_accounts.call(BOB_KEY, action, version, {"InstanceId": ALICE_INSTANCE, **params})
    missing = two_accounts.call(
        BOB_KEY, action, version, {"InstanceId": MISSING_INSTANCE, **params}
    )

    assert foreign.status_code == missing.status_code != 200, foreign.text
    seen, expected = foreign.json(), missing.json()
    assert seen["Code"] == expected["Code"]
    assert seen["Message"].replace(ALICE_INSTANCE, MISSING_INSTANCE) == expected["Message"]
    assert "DeviceAccessKeySecret" not in foreign.text
    assert two_accounts.alice_world() == before


def test_account_wide_views_hold_only_the_callers_instances(two_accounts: TwoAccounts) -> None:
    listed = ok(two_accounts.call(BOB_KEY, "ListInstances", V2020, {}))["Instances"]
    assert sorted(row["InstanceId"] for row in listed) == [BOB_SHARED, BOB_INSTANCE]
    # Without InstanceId the 2019 API addresses the caller's shared-namespace instances only.
    rows = ok(two_accounts.call(BOB_KEY, "OnsMqttGroupIdList", V2019, {}))["Data"]["MqttGroupIdDo"]
    assert rows == []
    unnamed = two_accounts.call(
        BOB_KEY, "OnsMqttQueryClientByClientId", V2019, {"ClientId": DEVICE}
    )
    assert unnamed.json()["Code"] == "BIZ_CONSUMER_NOT_ONLINE"
    # Names in a shared namespace are unique within an account, not across accounts.
    ok(two_accounts.call(BOB_KEY, "OnsMqttGroupIdCreate", V2019, {"GroupId": "GID_shared"}))
    assert group_ids(two_accounts.store, BOB_SHARED) == ["GID_shared"]
    assert group_ids(two_accounts.store, ALICE_SHARED) == ["GID_shared"]


def test_a_signature_of_another_account_is_refused_at_connect(two_accounts: TwoAccounts) -> None:
    def device(key: str, secret: str, instance: str, device_id: str) -> Device:
        return Device(
            two_accounts.mqtt_port,
            f"GID_orders@@@{device_id}",
            username=f"Signature|{key}|{instance}",
            secret=secret,
        )

    listener = device(ALICE_KEY, ALICE_SECRET, ALICE_INSTANCE, "listener")
    intruder = device(BOB_KEY, BOB_SECRET, ALICE_INSTANCE, "intruder")
    try:
        assert listener.connect() == 0
        listener.subscribe("orders/#")
        assert intruder.connect() == NOT_AUTHORIZED
        assert two_accounts.store.client(ALICE_INSTANCE, "GID_orders@@@intruder") is None
    finally:
        listener.close()
        intruder.close()


def test_a_device_credential_opens_only_its_own_accounts_instance(
    two_accounts: TwoAccounts,
) -> None:
    issued = two_accounts.store.device_credential(ALICE_INSTANCE, DEVICE)
    assert issued is not None
    ok(
        two_accounts.call(
            BOB_KEY, "CreateGroupId", V2020, {"InstanceId": BOB_INSTANCE, "GroupId": "GID_orders"}
        )
    )
    elsewhere = Device(
        two_accounts.mqtt_port,
        DEVICE,
        username=f"DeviceCredential|{issued.access_key_id}|{BOB_INSTANCE}",
        secret=issued.access_key_secret,
    )
    try:
        assert elsewhere.connect() == NOT_AUTHORIZED
    finally:
        elsewhere.close()


@pytest.mark.parametrize(
    ("instance", "where", "message"),
    [
        ("  - instance_id: post-cn-whose\n", "7:5", "an instance needs account:"),
        (
            "  - instance_id: post-cn-whose\n    account: LTAI5tNobody\n",
            "8:14",
            "account 'LTAI5tNobody' is not an access_key_id of the accounts",
        ),
    ],
    ids=["no owner", "unknown owner"],
)
def test_a_fixture_of_several_accounts_names_each_instances_owner(
    instance: str, where: str, message: str
) -> None:
    text = (
        "accounts:\n"
        f"  - {{access_key_id: {ALICE_KEY}, access_key_secret: {ALICE_SECRET}}}\n"
        f"  - {{access_key_id: {BOB_KEY}, access_key_secret: {BOB_SECRET}}}\n"
        "\n\n"
        "instances:\n" + instance
    )
    with EmulatorStore() as store:
        with pytest.raises(ConfigError) as raised:
            load_fixture_text(text, "two.yaml", store)
        assert store.instances() == []
    assert str(raised.value).startswith(f"two.yaml:{where}: {message}")


def test_a_database_from_before_owners_opens_with_its_instances_unowned(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as old:
        old.execute(
            "CREATE TABLE instances (instance_id TEXT PRIMARY KEY, region TEXT NOT NULL,"
            " independent_naming INTEGER NOT NULL)"
        )
        old.execute("INSERT INTO instances VALUES ('post-cn-old', 'cn-hangzhou', 1)")
    with EmulatorStore(str(path)) as store:
        assert store.owned_instance(BOB_KEY, "post-cn-old") is not None
        store.add_instance("post-cn-old", owner=ALICE_KEY)
        assert store.owned_instance(BOB_KEY, "post-cn-old") is None
        with pytest.raises(ValueError, match="belongs to another account"):
            store.add_instance("post-cn-old", owner=BOB_KEY)


def test_serve_gives_its_instance_to_the_access_key_it_names(tmp_path: Path) -> None:
    fixture = tmp_path / "two.yaml"
    fixture.write_text(FIXTURE)
    process = start_emulator_process("--fixture", str(fixture))
    try:

        def listed(key: str, secret: str) -> list[str]:
            body = ok(
                signed_call(process.url, "ListInstances", {}, key=key, secret=secret, version=V2020)
            )
            return sorted(row["InstanceId"] for row in body["Instances"])

        assert listed(TEST_ACCESS_KEY_ID, TEST_ACCESS_KEY_SECRET) == [TEST_INSTANCE_ID]
        assert listed(BOB_KEY, BOB_SECRET) == [BOB_SHARED, BOB_INSTANCE]
    finally:
        process.stop()
