"""The store on disk, the embedded emulator, and server lifecycle."""

from __future__ import annotations

import sqlite3

import pytest
import requests

from reconciler.emulator.embedded import DEV_ACCESS_KEY_ID, DEV_ACCESS_KEY_SECRET, start_embedded
from reconciler.emulator.server import EmulatorServer
from reconciler.emulator.store import EmulatorStore
from reconciler.errors import EmulatorError
from tests.fixtures.emulator_store import group_ids, topics
from tests.fixtures.wire import signed_call


def _dev_list(url, instance_id):
    response = signed_call(
        url,
        "OnsMqttGroupIdList",
        {"InstanceId": instance_id},
        key=DEV_ACCESS_KEY_ID,
        secret=DEV_ACCESS_KEY_SECRET,
    )
    assert response.status_code == 200, response.text
    return [
        (r["GroupId"], r["IndependentNaming"]) for r in response.json()["Data"]["MqttGroupIdDo"]
    ]


def test_embedded_creates_instances_and_keeps_data_across_starts(tmp_path):
    db = tmp_path / "work" / "emulator.sqlite"
    server = start_embedded(
        db,
        [
            ("cn-hangzhou", "post-cn-emb1", True, ["orders"]),
            ("cn-shanghai", "MQ_INST_emb2", False, []),
        ],
    )
    try:
        response = signed_call(
            server.url,
            "OnsMqttGroupIdCreate",
            {"GroupId": "GID_emb", "InstanceId": "post-cn-emb1", "Topic": "orders"},
            key=DEV_ACCESS_KEY_ID,
            secret=DEV_ACCESS_KEY_SECRET,
        )
        assert response.status_code == 200
        assert _dev_list(server.url, "MQ_INST_emb2") == []
    finally:
        server.stop()
    again = start_embedded(db, [("cn-hangzhou", "post-cn-emb1", True, ["orders", "billing"])])
    try:
        assert _dev_list(again.url, "post-cn-emb1") == [("GID_emb", True)]
        assert topics(again.store, "post-cn-emb1") == ["billing", "orders"]
        assert again.store.instance("MQ_INST_emb2") is not None
    finally:
        again.stop()


def test_embedded_reports_an_unusable_database(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(EmulatorError, match="cannot open the embedded emulator database"):
        start_embedded(blocker / "emulator.sqlite", [])


def test_port_in_use_is_an_emulator_error(emulator):
    with pytest.raises(EmulatorError, match="cannot listen"):
        EmulatorServer(EmulatorStore(None), port=emulator.server.port)


def test_stop_closes_keep_alive_connections(emulator):
    session = requests.Session()
    response = signed_call(
        emulator.url,
        "OnsMqttGroupIdList",
        {"InstanceId": emulator.instance_id},
        key=emulator.access_key_id,
        secret=emulator.access_key_secret,
        session=session,
    )
    assert response.status_code == 200
    emulator.server.stop()
    with pytest.raises(requests.ConnectionError):
        signed_call(
            emulator.url,
            "OnsMqttGroupIdList",
            {"InstanceId": emulator.instance_id},
            key=emulator.access_key_id,
            secret=emulator.access_key_secret,
            session=session,
        )


def test_store_rejects_seeding_mistakes():
    store = EmulatorStore(None)
    with pytest.raises(ValueError, match="unknown instance"):
        store.add_group("post-cn-none", "GID_abc")
    store.add_instance("post-cn-a")
    store.add_instance("post-cn-b")
    store.add_group("post-cn-a", "GID_both")
    store.add_group("post-cn-b", "GID_both")
    with pytest.raises(ValueError, match="GROUP_ID@@@DEVICE_ID"):
        store.add_client("GID_both", instance_id="post-cn-a")
    assert store.add_group("post-cn-a", "GID_both") is False


def test_a_hundred_instances_of_a_thousand_gids_fit(tmp_path):
    store = EmulatorStore(str(tmp_path / "big.sqlite"))
    with store.transaction() as db:
        for i in range(100):
            db.execute(
                "INSERT INTO instances (instance_id, region, independent_naming)"
                " VALUES (?, 'cn-hangzhou', 1)",
                (f"post-cn-{i:03d}",),
            )
            db.executemany(
                "INSERT INTO groups VALUES (?, ?, NULL, 1, 1)",
                [(f"post-cn-{i:03d}", f"GID_g{n:04d}") for n in range(1000)],
            )
    assert len(group_ids(store, "post-cn-042")) == 1000
    assert store.instances_holding("GID_g0999")[:2] == ["post-cn-000", "post-cn-001"]
    plan = store._query(
        "EXPLAIN QUERY PLAN SELECT * FROM groups WHERE instance_id = ?"
        " ORDER BY instance_id, group_id",
        ("x",),
    )
    assert "USING INDEX" in str(plan)
    store.close()


def test_a_broken_database_answers_internal_error(emulator):
    emulator.store.close()
    response = signed_call(
        emulator.url,
        "OnsMqttGroupIdList",
        {"InstanceId": emulator.instance_id},
        key=emulator.access_key_id,
        secret=emulator.access_key_secret,
    )
    assert response.status_code == 500
    assert response.json()["Code"] == "InternalError"


def test_a_database_from_before_editions_is_upgraded_in_place(tmp_path):
    # The instances table as written before instances had owners, editions or capacities.
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.execute(
        "CREATE TABLE instances (instance_id TEXT PRIMARY KEY, region TEXT NOT NULL,"
        " independent_naming INTEGER NOT NULL)"
    )
    db.execute("INSERT INTO instances VALUES ('post-cn-old', 'cn-hangzhou', 1)")
    db.commit()
    db.close()
    with EmulatorStore(str(path)) as store:
        old = store.instance("post-cn-old")
        assert old is not None
        assert (old.owner, old.edition, old.custom_auth_capacity) == (None, "professional", 1000)
        assert old.has_custom_auth
        store.add_instance("post-cn-new", edition="standard", custom_auth_capacity=5)
        new = store.instance("post-cn-new")
        assert new is not None and (new.edition, new.custom_auth_capacity) == ("standard", 5)
        assert not new.has_custom_auth
        with pytest.raises(ValueError, match="edition 'gold' is not one of"):
            store.add_instance("post-cn-x", edition="gold")  # type: ignore[arg-type]
