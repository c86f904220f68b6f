"""The YAML fixture seeds accounts, instances, GIDs, devices and history; mistakes are located."""

from __future__ import annotations

import pytest

from reconciler.emulator.fixture import load_fixture, load_fixture_text
from reconciler.emulator.store import EmulatorStore, Subscription
from reconciler.errors import ConfigError
from tests.fixtures.emulator_store import group_ids, topics

FIXTURE = """\
version: 1
accounts:
  - access_key_id: LTAI-fixture
    access_key_secret: fixture-secret
    sts_tokens: [tok-a, {token: tok-b, expires: 2030-01-01T00:00:00Z}]
instances:
  - instance_id: post-cn-fix1
    region: cn-shanghai
    topics: [orders, telemetry]
    groups:
      - GID_orders
      - {group_id: GID_billing, topic: orders, create_time: 1700000000000}
    devices:
      - client_id: GID_orders@@@dev1
        last_touch: 1700000000000
        socket: /10.0.0.7:50112
        subscriptions: [{parent_topic: orders, sub_topic: /room/1/, qos: 1}]
      - client_id: GID_orders@@@dev2
        online: false
    online_history:
      - {group_id: GID_orders, at: 1699999000000, count: 3}
    message_history:
      - {parent_topic: orders, at: 1700000000000, trans_type: PUB, tps: 2.5, total: 150, qos: 1}
  - instance_id: MQ_INST_shared
    independent_naming: false
    groups: [GID_shared]
"""


def test_fixture_seeds_everything(tmp_path):
    path = tmp_path / "world.yaml"
    path.write_text(FIXTURE)
    store = EmulatorStore(None)
    load_fixture(path, store)
    assert store.account_secret("LTAI-fixture") == "fixture-secret"
    assert store.sts_tokens("LTAI-fixture") == {"tok-a": None, "tok-b": 1893456000000}
    shared, fix1 = store.instances()  # sorted by id; upper case first
    assert (fix1.instance_id, fix1.region, fix1.independent_naming) == (
        "post-cn-fix1",
        "cn-shanghai",
        True,
    )
    assert (shared.instance_id, shared.region, shared.independent_naming) == (
        "MQ_INST_shared",
        "cn-hangzhou",
        False,
    )
    assert topics(store, "post-cn-fix1") == ["orders", "telemetry"]
    assert group_ids(store, "post-cn-fix1") == ["GID_billing", "GID_orders"]
    billing = store.group("post-cn-fix1", "GID_billing")
    assert billing is not None and (billing.topic, billing.create_time) == ("orders", 1700000000000)
    dev1 = store.client("post-cn-fix1", "GID_orders@@@dev1")
    assert dev1 is not None
    assert (dev1.online, dev1.last_touch, dev1.socket) == (True, 1700000000000, "/10.0.0.7:50112")
    assert dev1.subscriptions == (Subscription("orders", "/room/1/", 1),)
    assert store.online_count_by_group("post-cn-fix1", "GID_orders") == 1
    history = store.online_history("post-cn-fix1", "GID_orders", 0, 1700000000000)
    assert [(p.x, p.y) for p in history] == [(1699999000000, 3), (1700000000000, 1)]
    trend = store.message_trend(
        "post-cn-fix1", "orders", 0, 2 * 10**12, trans_type="PUB", summed=True
    )
    assert [(p.x, p.y) for p in trend] == [(1700000000000, 150)]


def test_relative_times_are_accepted():
    store = EmulatorStore(None)
    load_fixture_text(
        "instances:\n  - instance_id: post-cn-rel\n"
        "    groups: [{group_id: GID_recent, create_time: now-1h}]\n",
        "rel.yaml",
        store,
    )
    group = store.group("post-cn-rel", "GID_recent")
    assert group is not None and group.create_time > 1_700_000_000_000


@pytest.mark.parametrize(
    ("text", "where", "words"),
    [
        (
            "instances:\n  - instance_id: x\n    colour: red\n",
            "bad.yaml:3:5",
            "unknown key 'colour'",
        ),
        ("instances:\n  - region: cn-hangzhou\n", "bad.yaml:2:5", "needs instance_id"),
        ("accounts:\n  - access_key_id: k\n", "bad.yaml:2:5", "needs access_key_secret"),
        (
            "instances:\n  - instance_id: x\n    independent_naming: maybe\n",
            "bad.yaml:3:25",
            "true or false",
        ),
        (
            "instances:\n  - instance_id: x\n    devices: [{client_id: no-separator}]\n",
            "bad.yaml:3:27",
            "GROUP_ID@@@DEVICE_ID",
        ),
        (
            "instances:\n  - instance_id: x\n    groups: [GID_ok1, bogus]\n",
            "bad.yaml:3:23",
            "group_id 'bogus' is invalid: it must start with GID_ or GID-",
        ),
        (
            "instances:\n  - instance_id: x\n    groups:\n      - {group_id: GID_e1}\n",
            "bad.yaml:4:20",
            "group_id 'GID_e1' is invalid",
        ),
        (
            "instances:\n  - instance_id: x\n"
            "    online_history: [{group_id: GID_has space, at: 1, count: 1}]\n",
            "bad.yaml:3:33",
            "group_id 'GID_has space' is invalid",
        ),
        (
            "instances:\n  - instance_id: x\n    devices: [{client_id: bogus@@@dev1}]\n",
            "bad.yaml:3:27",
            "has an invalid group 'bogus': a GID must start with GID_ or GID-",
        ),
        (
            "instances:\n  - instance_id: x\n    devices: [{client_id: GID_orders@@@}]\n",
            "bad.yaml:3:27",
            "has no device id after @@@",
        ),
        (
            "instances:\n  - instance_id: x\n"
            f"    devices: [{{client_id: GID_orders@@@{'d' * 60}}}]\n",
            "bad.yaml:3:27",
            "is 73 characters long; the service allows at most 64",
        ),
        (
            "instances:\n  - instance_id: x\n    edition: enterprise\n",
            "bad.yaml:3:14",
            "edition must be 'basic', 'standard', 'professional' or 'platinum'",
        ),
        (
            "instances:\n  - instance_id: x\n"
            "    identities: [{type: CLIENT, username: u, secret: s}]\n",
            "bad.yaml:3:18",
            "an identity of type CLIENT needs client_id",
        ),
        (
            "instances:\n  - instance_id: x\n"
            "    permissions: [{identity_type: USER, identity: u, topic: t, effect: MAYBE}]\n",
            "bad.yaml:3:72",
            "effect must be 'ALLOW' or 'DENY'",
        ),
        (
            "instances:\n  - instance_id: x\n    topics: [t]\n"
            "    permissions: [{identity_type: USER, identity: u, topic: 't/#/x'}]\n",
            "bad.yaml:4:61",
            "topic 't/#/x' is not a topic filter: '#' must be a whole level and the last one",
        ),
        (
            "instances:\n  - instance_id: x\n    topics: [t]\n"
            "    permissions: [{identity_type: USER, identity: u, topic: other/#}]\n",
            "bad.yaml:4:61",
            "the parent topic 'other' of 'other/#' is not one of the instance's topics",
        ),
        (
            "instances:\n  - instance_id: x\n    blacklist: ['has space']\n",
            "bad.yaml:3:17",
            "client id 'has space' contains a space",
        ),
        ("version: 2\n", "bad.yaml:1:10", "version must be 1"),
        ("instances: [\n", "bad.yaml:2:1", "not valid YAML"),
        ("instances: {a: 1}\n", "bad.yaml:1:12", "must be a list"),
    ],
)
def test_mistakes_name_file_line_and_column(text, where, words):
    with pytest.raises(ConfigError) as caught:
        load_fixture_text(text, "bad.yaml", EmulatorStore(None))
    message = str(caught.value)
    assert message.startswith(where), message
    assert words in message
    assert "\n" not in message


CUSTOM_AUTH = """\
instances:
  - instance_id: post-cn-auth1
    edition: platinum
    custom_auth_capacity: 5
    topics: [telemetry]
    identities:
      - {type: USER, username: fleet, secret: user-secret}
      - {type: CLIENT, username: fleet, client_id: sensor-1, secret: k, sign_mode: SIGNED}
    permissions:
      - {identity_type: USER, identity: fleet, topic: telemetry/#}
      - {identity_type: CLIENT, identity: sensor-1, topic: telemetry/x, effect: DENY,
         permit_action: PUB}
    blacklist: [rogue-1, {client_id: rogue-2}]
  - instance_id: post-cn-basic1
    edition: basic
"""


def test_fixture_seeds_custom_auth():
    store = EmulatorStore(None)
    load_fixture_text(CUSTOM_AUTH, "auth.yaml", store)
    auth1 = store.instance("post-cn-auth1")
    assert auth1 is not None
    assert (auth1.edition, auth1.custom_auth_capacity, auth1.has_custom_auth) == (
        "platinum",
        5,
        True,
    )
    basic = store.instance("post-cn-basic1")
    assert basic is not None and not basic.has_custom_auth
    assert basic.custom_auth_capacity == 1000
    identities = store.identities_page("post-cn-auth1", after=None, size=10, filters={})
    rows = [(i.identity_type, i.username, i.client_id, i.secret, i.sign_mode) for i in identities]
    assert rows == [
        ("CLIENT", "fleet", "sensor-1", "k", "SIGNED"),
        ("USER", "fleet", "", "user-secret", "ORIGIN"),
    ]
    permissions = store.permissions_page("post-cn-auth1", after=None, size=10, filters={})
    assert [(p.identity, p.topic, p.effect, p.permit_action) for p in permissions] == [
        ("sensor-1", "telemetry/x", "DENY", "PUB"),
        ("fleet", "telemetry/#", "ALLOW", "PUB_SUB"),
    ]
    assert store.blacklist_page("post-cn-auth1", after=None, size=10, filters={}) == [
        "rogue-1",
        "rogue-2",
    ]


def test_missing_fixture_file_is_one_line_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read the fixture"):
        load_fixture(tmp_path / "absent.yaml", EmulatorStore(None))


def test_fixture_secret_never_appears_in_errors():
    with pytest.raises(ConfigError) as caught:
        load_fixture_text(
            "accounts:\n  - {access_key_id: k, access_key_secret: s3cr3t-value, extra: 1}\n",
            "bad.yaml",
            EmulatorStore(None),
        )
    assert "s3cr3t-value" not in str(caught.value)
    with pytest.raises(ConfigError) as identity:
        load_fixture_text(
            "instances:\n  - instance_id: x\n"
            "    identities: [{type: USER, username: u, secret: s3cr3t-value, colour: 1}]\n",
            "bad.yaml",
            EmulatorStore(None),
        )
    assert "unknown key 'colour' in an identity" in str(identity.value)
    assert "s3cr3t-value" not in str(identity.value)


def test_reapplying_a_fixture_to_the_same_database_changes_nothing(tmp_path):
    path = tmp_path / "world.yaml"
    path.write_text(FIXTURE)
    db = str(tmp_path / "emulator.sqlite")
    for _ in range(2):
        store = EmulatorStore(db)
        load_fixture(path, store)
        trend = store.message_trend(
            "post-cn-fix1", "orders", 0, 2 * 10**12, trans_type="PUB", summed=True
        )
        assert [(p.x, p.y) for p in trend] == [(1700000000000, 150)]
        assert group_ids(store, "post-cn-fix1") == ["GID_billing", "GID_orders"]
        store.close()


def test_a_fixture_with_any_mistake_writes_nothing():
    # The whole file is checked before the store is touched: no half-seeded emulator.
    text = (
        "accounts:\n  - {access_key_id: k, access_key_secret: s}\n"
        "instances:\n  - instance_id: post-cn-good\n    groups: [GID_fine]\n"
        "  - instance_id: post-cn-bad\n    devices: [{client_id: GID_fine@@@a b}]\n"
    )
    with EmulatorStore(None) as store:
        with pytest.raises(ConfigError) as caught:
            load_fixture_text(text, "half.yaml", store)
        assert str(caught.value).startswith("half.yaml:7:27: client id 'GID_fine@@@a b' contains")
        assert store.account_ids() == []
        assert store.instances() == []


@pytest.mark.parametrize(
    ("sample", "where", "words"),
    [
        ("{parent_topic: o, at: 1, trans_type: BOTH}", "4:46", "trans_type must be 'PUB' or 'SUB'"),
        ("{parent_topic: o, at: 1, trans_type: PUB, qos: 3}", "4:56", "qos must be 0, 1 or 2"),
        ("{parent_topic: o, at: 1, trans_type: PUB, tps: [1, x]}", "4:60", "tps must be a number"),
        (
            "{parent_topic: o, at: 1, trans_type: PUB, colour: red}",
            "4:51",
            "unknown key 'colour' in a message sample (allowed: at, every, from, msg_type,"
            " parent_topic, qos, sub_topic, to, total, tps, trans_type)",
        ),
        ("{parent_topic: '{x}', at: '{y}', trans_type: PUB}", "4:35", "at must be ms since"),
    ],
)
def test_each_value_of_a_message_sample_is_checked_where_it_is(sample, where, words):
    text = f"instances:\n  - instance_id: post-cn-x\n    message_history:\n      - {sample}\n"
    with pytest.raises(ConfigError) as caught:
        load_fixture_text(text, "m.yaml", EmulatorStore(None))
    assert str(caught.value).startswith(f"m.yaml:{where}: {words}")
