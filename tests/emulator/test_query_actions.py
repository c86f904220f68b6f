"""The five query actions answer from the device registry and history; they are throttled."""

from __future__ import annotations

import functools

import pytest

from reconciler.emulator.store import Subscription
from reconciler.emulator.throttle import Throttler
from reconciler.ratelimit import Rate
from tests.fixtures.emulator_store import add_message_sample, add_online_sample
from tests.fixtures.wire import call, error_code, ok

BY_GROUP = "OnsMqttQueryClientByGroupId"
BY_TOPIC = "OnsMqttQueryClientByTopic"
BY_CLIENT = "OnsMqttQueryClientByClientId"
HISTORY = "OnsMqttQueryHistoryOnline"
TREND = "OnsMqttQueryMsgTransTrend"
HOUR = 3_600_000
DAY = 24 * HOUR
T0 = 1_700_000_000_000


@pytest.fixture
def devices(emulator):
    """GID_orders with two online devices and one offline; GID_idle with none."""
    store, inst = emulator.store, emulator.instance_id
    store.add_topic(inst, "telemetry")
    store.add_group(inst, "GID_orders", topic="orders")
    store.add_group(inst, "GID_idle")
    store.add_client(
        "GID_orders@@@dev1",
        instance_id=inst,
        online=True,
        last_touch=T0,
        socket="/10.0.0.7:50112",
        subscriptions=[Subscription("orders", "/room/1/", 1), ("telemetry", "", 0)],
    )
    store.add_client(
        "GID_orders@@@dev2",
        instance_id=inst,
        online=True,
        last_touch=T0 + HOUR,
        subscriptions=[("orders", "", 2)],
    )
    store.add_client(
        "GID_orders@@@dev3",
        instance_id=inst,
        online=False,
        last_touch=T0 + 2 * HOUR,
        subscriptions=[("orders", "/room/1/", 0)],
    )
    return emulator


def _p(emulator, **params):
    return {"InstanceId": emulator.instance_id, **{k: str(v) for k, v in params.items()}}


def test_online_count_by_group(devices):
    body = ok(call(devices, BY_GROUP, _p(devices, GroupId="GID_orders")))
    assert body["MqttClientSetDo"] == {"OnlineCount": 2}


def test_group_with_no_clients_answers_zero(devices):
    body = ok(call(devices, BY_GROUP, _p(devices, GroupId="GID_idle")))
    assert body["MqttClientSetDo"]["OnlineCount"] == 0


def test_query_of_missing_group_is_not_found(devices):
    response = call(devices, BY_GROUP, _p(devices, GroupId="GID_gone"))
    assert error_code(response, 400) == "BIZ_SUBSCRIPTION_NOT_FOUND"


def test_online_count_by_topic_and_sub_topic(devices):
    def count(**kw):
        return ok(call(devices, BY_TOPIC, _p(devices, **kw)))["MqttClientSetDo"]["OnlineCount"]

    assert count(ParentTopic="orders", SubTopic="") == 2
    assert count(ParentTopic="orders", SubTopic="/room/1/") == 1
    assert count(ParentTopic="telemetry", SubTopic="") == 1
    assert count(ParentTopic="orders", SubTopic="/room/9/") == 0
    response = call(devices, BY_TOPIC, _p(devices, ParentTopic="nope", SubTopic=""))
    assert error_code(response, 400) == "BIZ_TOPIC_NOT_FOUND"


def test_client_info_with_subscriptions(devices):
    body = ok(call(devices, BY_CLIENT, _p(devices, ClientId="GID_orders@@@dev1")))
    assert body["MqttClientInfoDo"] == {
        "ClientId": "GID_orders@@@dev1",
        "Online": True,
        "LastTouch": T0,
        "SocketChannel": "/10.0.0.7:50112",
        "SubScriptonData": {
            "SubscriptionDo": [
                {"ParentTopic": "orders", "SubTopic": "/room/1/", "Qos": 1},
                {"ParentTopic": "telemetry", "SubTopic": "", "Qos": 0},
            ]
        },
    }
    offline = ok(call(devices, BY_CLIENT, _p(devices, ClientId="GID_orders@@@dev3")))
    assert offline["MqttClientInfoDo"]["Online"] is False


def test_client_never_seen_and_malformed_client_ids(devices):
    response = call(devices, BY_CLIENT, _p(devices, ClientId="GID_orders@@@ghost"))
    assert error_code(response, 400) == "BIZ_CONSUMER_NOT_ONLINE"
    for bad in ("GID_orders-dev1", "GID_orders@@@" + "d" * 60, "bad@@@dev"):
        assert (
            error_code(call(devices, BY_CLIENT, _p(devices, ClientId=bad)), 400)
            == "BIZ_FIELD_CHECK_INVALID"
        )


def test_history_online_answers_from_the_registry(devices):
    body = ok(
        call(
            devices, HISTORY, _p(devices, GroupId="GID_orders", BeginTime=T0, EndTime=T0 + 3 * HOUR)
        )
    )
    data = body["Data"]
    assert set(data) == {"Title", "XUnit", "YUnit", "Records"}
    # Each device change recorded the online count at its last touch.
    assert data["Records"]["StatsDataDo"] == [
        {"X": T0, "Y": 1},
        {"X": T0 + HOUR, "Y": 2},
        {"X": T0 + 2 * HOUR, "Y": 2},
    ]


def test_history_range_is_cut_to_one_day(devices):
    add_online_sample(devices.store, devices.instance_id, "GID_idle", T0, 5)
    add_online_sample(devices.store, devices.instance_id, "GID_idle", T0 + DAY, 6)
    add_online_sample(devices.store, devices.instance_id, "GID_idle", T0 + DAY + 1, 7)
    body = ok(
        call(devices, HISTORY, _p(devices, GroupId="GID_idle", BeginTime=T0, EndTime=T0 + 3 * DAY))
    )
    assert [p["Y"] for p in body["Data"]["Records"]["StatsDataDo"]] == [5, 6]


def test_history_parameters_are_checked(devices):
    response = call(devices, HISTORY, _p(devices, GroupId="GID_orders", BeginTime=T0))
    assert error_code(response, 400) == "MissingParameter"
    response = call(
        devices, HISTORY, _p(devices, GroupId="GID_orders", BeginTime="soon", EndTime=T0)
    )
    assert error_code(response, 400) == "BIZ_FIELD_CHECK_INVALID"
    response = call(
        devices, HISTORY, _p(devices, GroupId="GID_orders", BeginTime=T0 + 1, EndTime=T0)
    )
    assert error_code(response, 400) == "BIZ_FIELD_CHECK_INVALID"


@pytest.fixture
def traffic(devices):
    add = functools.partial(add_message_sample, devices.store)
    inst = devices.instance_id
    add(inst, "orders", T0, trans_type="PUB", tps=2.5, total=150, msg_type="SUB", qos=1)
    add(
        inst,
        "orders",
        T0,
        trans_type="PUB",
        tps=1,
        total=60,
        msg_type="P2P",
        qos=0,
        sub_topic="/room/1/",
    )
    add(inst, "orders", T0 + HOUR, trans_type="PUB", tps=4, total=240, msg_type="SUB", qos=1)
    add(inst, "orders", T0, trans_type="SUB", tps=7, total=420, msg_type="SUB", qos=1)
    return devices


def _trend(emulator, **extra):
    params = _p(
        emulator,
        ParentTopic="orders",
        BeginTime=T0,
        EndTime=T0 + DAY,
        TpsType="TPS",
        TransType="PUB",
    )
    params.update({k: str(v) for k, v in extra.items()})
    return call(emulator, TREND, params)


def _points(response):
    return [(p["X"], p["Y"]) for p in ok(response)["Data"]["Records"]["StatsDataDo"]]


def test_trend_rates_and_totals_per_type_qos_and_sub_topic(traffic):
    assert _points(_trend(traffic)) == [(T0, 3.5), (T0 + HOUR, 4)]
    assert _points(_trend(traffic, TpsType="SUM")) == [(T0, 210), (T0 + HOUR, 240)]
    assert _points(_trend(traffic, TransType="SUB")) == [(T0, 7)]
    assert _points(_trend(traffic, MsgType="P2P")) == [(T0, 1)]
    assert _points(_trend(traffic, Qos=1)) == [(T0, 2.5), (T0 + HOUR, 4)]
    assert _points(_trend(traffic, SubTopic="/room/1/")) == [(T0, 1)]
    assert _points(_trend(traffic, BeginTime=T0 + 1)) == [(T0 + HOUR, 4)]


@pytest.mark.parametrize(
    ("extra", "code"),
    [
        ({"TpsType": "AVG"}, "BIZ_FIELD_CHECK_INVALID"),
        ({"TransType": "BOTH"}, "BIZ_FIELD_CHECK_INVALID"),
        ({"MsgType": "FANOUT"}, "BIZ_FIELD_CHECK_INVALID"),
        ({"Qos": "3"}, "BIZ_FIELD_CHECK_INVALID"),
        ({"ParentTopic": "nope"}, "BIZ_TOPIC_NOT_FOUND"),
        ({"InstanceId": ""}, "MissingParameter"),
    ],
)
def test_trend_rejects_bad_parameters(traffic, extra, code):
    assert error_code(_trend(traffic, **extra), 400) == code


def test_query_actions_are_throttled_at_30_per_minute_by_default(devices, monkeypatch):
    # The default throttles on a clock that stands still: on a loaded machine 31 calls can
    # take long enough for the bucket to earn a token back (one every two seconds).
    monkeypatch.setattr(devices.server._service, "throttler", Throttler(clock=lambda: 0.0))
    params = _p(devices, GroupId="GID_orders")
    statuses = [call(devices, BY_GROUP, params).status_code for _ in range(31)]
    assert statuses == [200] * 30 + [400]
    response = call(devices, BY_GROUP, params)
    assert error_code(response, 400) == "Throttling.User"
    # Each action has its own bucket; group management is not throttled by default.
    ok(call(devices, BY_TOPIC, _p(devices, ParentTopic="orders", SubTopic="")))
    for _ in range(40):
        ok(call(devices, "OnsMqttGroupIdList", _p(devices)))


def test_throttle_can_be_set_per_action(devices):
    devices.server.set_throttle("OnsMqttGroupIdList", Rate(2, 60))
    devices.server.set_throttle(BY_GROUP, None)
    statuses = [call(devices, "OnsMqttGroupIdList", _p(devices)).status_code for _ in range(3)]
    assert statuses == [200, 200, 400]
    for _ in range(40):
        ok(call(devices, BY_GROUP, _p(devices, GroupId="GID_orders")))


def test_throttled_calls_are_counted_per_access_key(devices):
    devices.store.add_account("LTAI-second", "second-secret")
    devices.server.set_throttle(BY_GROUP, Rate(1, 60))
    params = _p(devices, GroupId="GID_orders")
    ok(call(devices, BY_GROUP, params))
    assert error_code(call(devices, BY_GROUP, params), 400) == "Throttling.User"
    ok(call(devices, BY_GROUP, params, key="LTAI-second", secret="second-secret"))
