"""OnsMqttGroupIdCreate / Delete / List: naming rules, namespaces, regions and BIZ_* codes."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.fixtures.wire import call, error_code, ok

CREATE, DELETE, LIST = "OnsMqttGroupIdCreate", "OnsMqttGroupIdDelete", "OnsMqttGroupIdList"


def _listed(emulator, **params):
    body = ok(call(emulator, LIST, params))
    return body["Data"]["MqttGroupIdDo"]


def test_create_list_delete_round_trip_keeps_times(emulator):
    before = int(time.time() * 1000)
    ok(
        call(
            emulator,
            CREATE,
            {"GroupId": "GID_orders", "InstanceId": emulator.instance_id, "Topic": "orders"},
        )
    )
    rows = _listed(emulator, InstanceId=emulator.instance_id)
    assert [r["GroupId"] for r in rows] == ["GID_orders"]
    row = rows[0]
    assert row["InstanceId"] == emulator.instance_id
    assert row["IndependentNaming"] is True
    assert row["CreateTime"] >= before
    assert row["UpdateTime"] == row["CreateTime"]
    ok(call(emulator, DELETE, {"GroupId": "GID_orders", "InstanceId": emulator.instance_id}))
    assert _listed(emulator, InstanceId=emulator.instance_id) == []


def test_duplicate_create_is_biz_subscription_existed(emulator):
    params = {"GroupId": "GID_twice", "InstanceId": emulator.instance_id}
    ok(call(emulator, CREATE, params))
    assert error_code(call(emulator, CREATE, params), 400) == "BIZ_SUBSCRIPTION_EXISTED"


def test_delete_of_missing_gid_is_biz_subscription_not_found(emulator):
    response = call(
        emulator, DELETE, {"GroupId": "GID_nothere", "InstanceId": emulator.instance_id}
    )
    assert error_code(response, 400) == "BIZ_SUBSCRIPTION_NOT_FOUND"


def test_create_with_unknown_topic_is_biz_topic_not_found(emulator):
    params = {"GroupId": "GID_x123", "InstanceId": emulator.instance_id, "Topic": "nope"}
    assert error_code(call(emulator, CREATE, params), 400) == "BIZ_TOPIC_NOT_FOUND"
    assert _listed(emulator, InstanceId=emulator.instance_id) == []


def test_unknown_instance_is_404(emulator):
    response = call(emulator, LIST, {"InstanceId": "post-cn-missing"})
    assert error_code(response, 404) == "BIZ_INSTANCE_NOT_FOUND"


def test_missing_group_id_is_missing_parameter(emulator):
    response = call(emulator, CREATE, {"InstanceId": emulator.instance_id})
    assert error_code(response, 400) == "MissingParameter"
    assert "GroupId" in response.json()["Message"]


@pytest.mark.parametrize(
    "group_id",
    [
        "GID_ab",
        "gid_abcd",
        "GIDabcde",
        "GID_has space",
        "GID_ümlaut",
        "GID_a.b.c",
        "GID_" + "x" * 61,
    ],
)
def test_invalid_group_ids_are_biz_field_check_invalid(emulator, group_id):
    response = call(emulator, CREATE, {"GroupId": group_id, "InstanceId": emulator.instance_id})
    assert error_code(response, 400) == "BIZ_FIELD_CHECK_INVALID"


@pytest.mark.parametrize("group_id", ["GID_abc", "GID-abc", "GID_" + "x" * 60, "GID-a_b-C9"])
def test_valid_group_ids_are_accepted(emulator, group_id):
    ok(call(emulator, CREATE, {"GroupId": group_id, "InstanceId": emulator.instance_id}))


def test_namespaced_instances_may_share_a_name_and_need_instance_id(emulator):
    emulator.store.add_instance("post-cn-test0002", region="cn-hangzhou")
    for instance_id in (emulator.instance_id, "post-cn-test0002"):
        ok(call(emulator, CREATE, {"GroupId": "GID_same", "InstanceId": instance_id}))
    # No shared-namespace instance exists, so InstanceId is required.
    response = call(emulator, CREATE, {"GroupId": "GID_other"})
    assert error_code(response, 400) == "MissingParameter"


def test_shared_namespace_names_are_unique_across_the_account(emulator):
    emulator.store.add_instance("MQ_INST_shared1", region="cn-hangzhou", independent_naming=False)
    emulator.store.add_instance("MQ_INST_shared2", region="cn-shanghai", independent_naming=False)
    ok(call(emulator, CREATE, {"GroupId": "GID_global", "InstanceId": "MQ_INST_shared1"}))
    response = call(emulator, CREATE, {"GroupId": "GID_global", "InstanceId": "MQ_INST_shared2"})
    assert error_code(response, 400) == "BIZ_SUBSCRIPTION_EXISTED"
    # A namespaced instance does not see the shared names.
    ok(call(emulator, CREATE, {"GroupId": "GID_global", "InstanceId": emulator.instance_id}))


def test_shared_namespace_instance_may_be_addressed_without_instance_id(emulator):
    emulator.store.add_instance("MQ_INST_shared1", region="cn-hangzhou", independent_naming=False)
    ok(call(emulator, CREATE, {"GroupId": "GID_implicit"}, region_id="cn-hangzhou"))
    rows = _listed(emulator)
    assert [(r["GroupId"], r["InstanceId"], r["IndependentNaming"]) for r in rows] == [
        ("GID_implicit", "MQ_INST_shared1", False)
    ]
    ok(call(emulator, DELETE, {"GroupId": "GID_implicit"}))
    assert _listed(emulator) == []


def test_implicit_create_is_refused_when_several_shared_instances_could_take_it(emulator):
    emulator.store.add_instance("MQ_INST_a", independent_naming=False)
    emulator.store.add_instance("MQ_INST_b", independent_naming=False)
    assert error_code(call(emulator, CREATE, {"GroupId": "GID_which"}), 400) == "MissingParameter"


def test_region_that_disagrees_with_the_instance_is_an_error(emulator):
    params = {"GroupId": "GID_region", "InstanceId": emulator.instance_id}
    response = call(emulator, CREATE, params, region_id="cn-beijing")
    assert error_code(response, 404) == "BIZ_INSTANCE_NOT_FOUND"
    assert "cn-beijing" in response.json()["Message"]
    ok(call(emulator, CREATE, params, region_id="cn-hangzhou"))


def test_unknown_region_is_biz_region_not_found(emulator):
    response = call(emulator, LIST, {"InstanceId": emulator.instance_id}, region_id="mars-north-1")
    assert error_code(response, 400) == "BIZ_REGION_NOT_FOUND"


def test_list_without_instance_id_is_limited_to_the_region(emulator):
    emulator.store.add_instance("MQ_INST_hz", region="cn-hangzhou", independent_naming=False)
    emulator.store.add_instance("MQ_INST_sh", region="cn-shanghai", independent_naming=False)
    emulator.store.add_group("MQ_INST_hz", "GID_hz1")
    emulator.store.add_group("MQ_INST_sh", "GID_sh1")
    assert [r["GroupId"] for r in _listed(emulator)] == ["GID_hz1", "GID_sh1"]
    ok_rows = ok(call(emulator, LIST, {}, region_id="cn-shanghai"))["Data"]["MqttGroupIdDo"]
    assert [r["GroupId"] for r in ok_rows] == ["GID_sh1"]


def test_list_of_a_thousand_gids_is_sorted_and_complete(emulator):
    for n in range(1000):
        emulator.store.add_group(emulator.instance_id, f"GID_g{n:04d}")
    rows = _listed(emulator, InstanceId=emulator.instance_id)
    assert [r["GroupId"] for r in rows] == [f"GID_g{n:04d}" for n in range(1000)]


def test_create_is_atomic_under_concurrency(emulator):
    def attempt(n):
        return call(
            emulator, CREATE, {"GroupId": "GID_race", "InstanceId": emulator.instance_id}
        ).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = sorted(pool.map(attempt, range(16)))
    assert statuses == [200] + [400] * 15
