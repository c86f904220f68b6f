"""Every call the emulator serves finds its rows through an index (issue 18: the emulator scales).

A call on one instance must cost the same whether the account holds one instance or a hundred
of a thousand GIDs each, so that the benchmarks measure the tool, not the emulator. Timings
belong to ``bench/bench_emulator.py``; this pins the reason: SQLite's own plan of every
statement the management actions run names an index for the tables that grow with the estate
(GIDs, devices, subscriptions, history), never a scan of the whole table.
"""

from __future__ import annotations

import sqlite3
import threading

from tests.fixtures.emulator import RunningEmulator
from tests.fixtures.wire import call, ok

# Tables whose size grows with the GIDs and devices of every instance of the store.
GROWING = (
    "groups",
    "clients",
    "subscriptions",
    "online_history",
    "message_history",
    "device_credentials",
    "auth_identities",
    "auth_permissions",
    "auth_blacklist",
)
SHARED = ("post-cn-shared0001", "post-cn-shared0002")
ONSMQTT = "2020-04-20"


def _seed(emulator: RunningEmulator) -> None:
    store = emulator.store
    for shared in SHARED:
        store.add_instance(shared, region=emulator.region, independent_naming=False)
    with store.transaction() as db:
        for instance in (emulator.instance_id, *SHARED):
            for n in range(20):
                store.insert_group(db, instance, f"GID_seed_{n:02d}", emulator.topic)
    store.add_client(
        "GID_seed_00@@@device1",
        instance_id=emulator.instance_id,
        subscriptions=[(emulator.topic, "", 1)],
    )


def _serve_every_group_and_device_call(emulator: RunningEmulator) -> None:
    instance = {"InstanceId": emulator.instance_id}
    # A named instance, and (no InstanceId) the shared-namespace ones, which see each other's names.
    for params, owner in ((instance, instance), ({}, {"InstanceId": SHARED[0]})):
        ok(call(emulator, "OnsMqttGroupIdList", params))
        ok(call(emulator, "OnsMqttGroupIdCreate", {**owner, "GroupId": "GID_new"}))
        ok(call(emulator, "OnsMqttQueryClientByGroupId", {**params, "GroupId": "GID_new"}))
        ok(call(emulator, "OnsMqttGroupIdDelete", {**params, "GroupId": "GID_new"}))
    ok(call(emulator, "OnsMqttQueryClientByTopic", {**instance, "ParentTopic": emulator.topic}))
    client = {**instance, "ClientId": "GID_seed_00@@@device1"}
    ok(call(emulator, "OnsMqttQueryClientByClientId", client))
    for shared in (instance, {"InstanceId": SHARED[0]}):
        ok(call(emulator, "ListGroupId", shared, version=ONSMQTT))
        ok(call(emulator, "CreateGroupId", {**shared, "GroupId": "GID_second"}, version=ONSMQTT))
        ok(call(emulator, "DeleteGroupId", {**shared, "GroupId": "GID_second"}, version=ONSMQTT))
    ok(call(emulator, "QuerySessionByClientId", client, version=ONSMQTT))
    ok(call(emulator, "RegisterDeviceCredential", client, version=ONSMQTT))
    ok(call(emulator, "GetDeviceCredential", client, version=ONSMQTT))
    _serve_every_custom_auth_call(emulator)


def _serve_every_custom_auth_call(emulator: RunningEmulator) -> None:
    instance = {"InstanceId": emulator.instance_id}
    user = {**instance, "IdentityType": "USER", "Username": "fleet"}
    identity = {**user, "Secret": "s3cret", "SignMode": "ORIGIN"}
    permission = {**instance, "IdentityType": "USER", "Identity": "fleet", "Topic": "orders/#"}
    rule = {**permission, "Effect": "ALLOW", "PermitAction": "PUB"}
    blacklisted = {**instance, "ClientId": "rogue-1"}
    page = {**instance, "Size": "1"}
    for action, params in (
        ("AddCustomAuthIdentity", identity),
        ("AddCustomAuthIdentity", {**identity, "Username": "other"}),
        ("UpdateCustomAuthIdentity", identity),
        ("AddCustomAuthPermission", rule),
        ("AddCustomAuthPermission", {**rule, "Topic": "orders/x"}),
        ("UpdateCustomAuthPermission", rule),
        ("AddCustomAuthConnectBlack", blacklisted),
        ("AddCustomAuthConnectBlack", {**blacklisted, "ClientId": "rogue-2"}),
    ):
        ok(call(emulator, action, params, version=ONSMQTT))
    for action, filters in (
        ("QueryCustomAuthIdentity", {"Username": "fleet"}),
        ("QueryCustomAuthPermission", {"Identity": "fleet"}),
        ("QueryCustomAuthConnectBlack", {"ClientId": "rogue-1"}),
    ):
        first = ok(call(emulator, action, page, version=ONSMQTT))["Data"]
        assert first["NextToken"]
        ok(call(emulator, action, {**page, "NextToken": first["NextToken"]}, version=ONSMQTT))
        ok(call(emulator, action, {**page, **filters}, version=ONSMQTT))
    # What the MQTT listener asks of a custom-auth CONNECT, PUBLISH and SUBSCRIBE.
    store, inst = emulator.store, emulator.instance_id
    assert store.instances_with_username("fleet") == [inst]
    assert store.login_identity(inst, "fleet", "sensor-1") is not None
    assert store.permissions_for(inst, [("USER", "fleet"), ("CLIENT", "sensor-1")])
    assert store.is_blacklisted(inst, "rogue-1")
    for action, params in (
        ("DeleteCustomAuthIdentity", user),
        ("DeleteCustomAuthPermission", permission),
        ("DeleteCustomAuthConnectBlack", blacklisted),
    ):
        ok(call(emulator, action, params, version=ONSMQTT))


def _scans(db: sqlite3.Connection, statement: str) -> list[str]:
    """The steps of SQLite's plan for ``statement`` that read a growing table in full."""
    plan = db.execute(f"EXPLAIN QUERY PLAN {statement}").fetchall()
    return [
        f"{step[3]}  <-  {statement}"
        for step in plan
        if any(
            step[3] == f"SCAN {table}" or step[3].startswith(f"SCAN {table} ") for table in GROWING
        )
    ]


def test_every_management_call_reads_the_growing_tables_through_an_index(
    emulator: RunningEmulator,
) -> None:
    _seed(emulator)
    statements: list[str] = []
    traced = threading.Lock()

    def trace(statement: str) -> None:
        with traced:
            statements.append(statement)

    db = emulator.store._db
    with emulator.store._lock:
        db.set_trace_callback(trace)
    try:
        _serve_every_group_and_device_call(emulator)
    finally:
        with emulator.store._lock:
            db.set_trace_callback(None)

    queries = sorted(
        {s for s in statements if s.split(None, 1)[0].upper() in {"SELECT", "DELETE", "UPDATE"}}
    )
    tables_read = {table for table in GROWING for s in queries if f" {table} " in f"{s} "}
    # the calls above did reach the store
    assert {"groups", "clients", "auth_identities", "auth_permissions", "auth_blacklist"} <= (
        tables_read
    )
    with emulator.store._lock:
        scans = [line for statement in queries for line in _scans(db, statement)]
    assert scans == []
