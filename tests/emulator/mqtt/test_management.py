"""The management API reports live devices: online counts, client details, online history and
message counts, next to the fixture's devices."""

from __future__ import annotations

import time
from typing import Any

from reconciler.emulator.mqtt.server import MqttServer
from reconciler.emulator.store import EmulatorStore, Subscription
from tests.fixtures.emulator import TEST_INSTANCE_ID, seeded_store
from tests.fixtures.mqtt_devices import GID, MqttWorld, wait_until
from tests.fixtures.wire import signed_call


def _call(world: MqttWorld, action: str, **params: str) -> Any:
    emulator = world.emulator
    response = signed_call(
        emulator.url,
        action,
        {"InstanceId": TEST_INSTANCE_ID, **params},
        key=emulator.access_key_id,
        secret=emulator.access_key_secret,
    )
    body = response.json()
    assert response.status_code == 200, body
    return body


def _online_by_group(world: MqttWorld, group_id: str = GID) -> int:
    body = _call(world, "OnsMqttQueryClientByGroupId", GroupId=group_id)
    return int(body["MqttClientSetDo"]["OnlineCount"])


def _online_by_topic(world: MqttWorld, sub_topic: str = "") -> int:
    body = _call(world, "OnsMqttQueryClientByTopic", ParentTopic="orders", SubTopic=sub_topic)
    return int(body["MqttClientSetDo"]["OnlineCount"])


def _client_info(world: MqttWorld, client_id: str) -> dict[str, Any]:
    return _call(world, "OnsMqttQueryClientByClientId", ClientId=client_id)["MqttClientInfoDo"]


def test_online_counts_follow_live_devices_and_fixture_devices_still_count(
    world: MqttWorld,
) -> None:
    world.emulator.store.add_client(f"{GID}@@@from-fixture", instance_id=TEST_INSTANCE_ID)
    assert _online_by_group(world) == 1
    first = world.connected("first")
    second = world.connected("second")
    assert _online_by_group(world) == 3
    assert world.emulator.store.client_online(TEST_INSTANCE_ID, first.client_id)
    first.disconnect()
    wait_until(lambda: _online_by_group(world) == 2, what="one device fewer")
    assert not world.emulator.store.client_online(TEST_INSTANCE_ID, first.client_id)
    second.disconnect()
    wait_until(lambda: _online_by_group(world) == 1, what="only the fixture device")


def test_client_details_show_socket_last_touch_and_subscriptions(world: MqttWorld) -> None:
    before = int(time.time() * 1000)
    device = world.connected("sensor")
    assert device.subscribe("orders/room/1", "orders/#", qos=1) == [1, 1]
    assert device.subscribe("orders", qos=0) == [0]
    info = _client_info(world, device.client_id)
    assert info["ClientId"] == device.client_id
    assert info["Online"] is True
    assert info["SocketChannel"] == device.local_socket
    assert info["LastTouch"] >= before
    assert info["SubScriptonData"]["SubscriptionDo"] == [
        {"ParentTopic": "orders", "SubTopic": "", "Qos": 0},
        {"ParentTopic": "orders", "SubTopic": "/#/", "Qos": 1},
        {"ParentTopic": "orders", "SubTopic": "/room/1/", "Qos": 1},
    ]
    assert _online_by_topic(world) == 1
    assert _online_by_topic(world, "/room/1/") == 1
    assert _online_by_topic(world, "/room/2/") == 0
    device.client.unsubscribe("orders/room/1")
    wait_until(lambda: _online_by_topic(world, "/room/1/") == 0, what="the unsubscribe")
    # Last touch moves with traffic (written in batches).
    touched = _client_info(world, device.client_id)["LastTouch"]
    time.sleep(0.1)
    device.publish("orders/x", b"touch", qos=1)
    wait_until(
        lambda: _client_info(world, device.client_id)["LastTouch"] > touched, what="last touch"
    )
    device.disconnect()
    wait_until(lambda: _client_info(world, device.client_id)["Online"] is False, what="offline")
    assert _online_by_topic(world) == 0


def test_online_history_is_recorded_at_every_interval(world: MqttWorld) -> None:
    start = int(time.time() * 1000)
    device = world.connected("sensor")
    world.connected("other")
    time.sleep(1.0)  # the test listener samples every 0.2 s
    device.disconnect()
    wait_until(lambda: not world.emulator.store.client_online(TEST_INSTANCE_ID, device.client_id))
    time.sleep(1.0)

    def counts() -> list[int]:
        end = int(time.time() * 1000)
        body = _call(
            world,
            "OnsMqttQueryHistoryOnline",
            GroupId=GID,
            BeginTime=str(start),
            EndTime=str(end),
        )
        return [point["Y"] for point in body["Data"]["Records"]["StatsDataDo"]]

    history = counts()
    assert 2 in history and history[-1] == 1, history
    assert history.index(2) < len(history) - 1


def test_message_counts_are_real_published_and_delivered_messages(world: MqttWorld) -> None:
    start = int(time.time() * 1000) - 60_000
    first, second = world.connected("first"), world.connected("second")
    assert first.subscribe("orders/#", qos=0) == [0]
    assert second.subscribe("orders/room/+", qos=1) == [1]
    publisher = world.connected("publisher")
    for _ in range(5):
        publisher.publish("orders/room/1", b"m", qos=1)  # to both subscribers
    publisher.publish("orders/hall", b"m", qos=0)  # to the first only
    publisher.publish(f"orders/p2p/{second.client_id}", b"m", qos=1)
    assert len(first.received_within(0.5)) == 6
    assert len(second.received_within(0.5)) == 6

    def total(trans_type: str, **filters: str) -> int:
        body = _call(
            world,
            "OnsMqttQueryMsgTransTrend",
            ParentTopic="orders",
            TpsType="SUM",
            TransType=trans_type,
            BeginTime=str(start),
            EndTime=str(int(time.time() * 1000) + 60_000),
            **filters,
        )
        return sum(int(p["Y"]) for p in body["Data"]["Records"]["StatsDataDo"])

    wait_until(lambda: total("SUB") == 12, what="delivered counts")
    assert total("PUB") == 7
    assert total("PUB", SubTopic="/room/1/") == 5
    assert total("PUB", MsgType="P2P") == 1
    assert total("SUB", Qos="1") == 6  # five to the QoS 1 subscription, and the P2P message
    assert total("SUB", Qos="0") == 6


def test_a_restarted_listener_finds_earlier_devices_offline(tmp_path: Any) -> None:
    path = str(tmp_path / "emulator.sqlite")
    store = seeded_store(path)
    store.add_group(TEST_INSTANCE_ID, GID, topic="orders")
    store.add_client(f"{GID}@@@fixture", instance_id=TEST_INSTANCE_ID)
    # What a killed listener leaves behind: its device online, with a subscription.
    store.record_connect(
        TEST_INSTANCE_ID, f"{GID}@@@live", socket="/127.0.0.1:1", at_ms=1, clean_session=True
    )
    store.record_subscriptions(
        TEST_INSTANCE_ID, f"{GID}@@@live", added=[Subscription("orders", "", 1)]
    )
    store.close()
    with EmulatorStore(path) as reopened:
        server = MqttServer(reopened).start()
        server.stop()
        assert not reopened.client_online(TEST_INSTANCE_ID, f"{GID}@@@live")
        live = reopened.client(TEST_INSTANCE_ID, f"{GID}@@@live")
        assert live is not None and live.subscriptions == ()
        assert reopened.client_online(TEST_INSTANCE_ID, f"{GID}@@@fixture")
