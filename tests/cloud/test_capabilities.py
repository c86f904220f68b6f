"""Both clients offer a plan and an apply the same capabilities
(``reconciler.cloud.capabilities``), each shown against the real emulator over both APIs: a
create or delete confirms "already existed" / "already gone" itself, the dry-run description of
a call is what the client sends, and a GID's online clients are counted or said uncountable."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from reconciler.cloud.capabilities import GroupCapabilities, online_check
from reconciler.cloud.client import OnsClient
from reconciler.cloud.credentials import resolve_credentials
from reconciler.cloud.onsmqtt import OnsMqttClient
from reconciler.cloud.retry import RetryPolicy
from reconciler.errors import CloudApiError, NotFoundError, ParameterError
from reconciler.models import Api
from tests.fixtures.emulator import (
    TEST_ACCESS_KEY_ID,
    TEST_ACCESS_KEY_SECRET,
    TEST_INSTANCE_ID,
    TEST_REGION,
    TEST_TOPIC,
    RunningEmulator,
)
from tests.fixtures.scripted_server import Reply, scripted

APIS: tuple[Api, ...] = ("ons", "onsmqtt")
FAST_RETRY = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.05, deadline=10)


def client_of(api: Api, url: str) -> OnsClient | OnsMqttClient:
    creds = resolve_credentials(
        access_key_id=TEST_ACCESS_KEY_ID, access_key_secret=TEST_ACCESS_KEY_SECRET, env={}
    )
    options: dict[str, Any] = {"region": TEST_REGION, "endpoint": url, "retry": FAST_RETRY}
    return OnsClient(creds, **options) if api == "ons" else OnsMqttClient(creds, **options)


@pytest.fixture(params=APIS)
def api(request: pytest.FixtureRequest) -> Api:
    chosen: Api = request.param
    return chosen


@pytest.fixture
def client(api: Api, emulator: RunningEmulator) -> Iterator[GroupCapabilities]:
    with client_of(api, emulator.url) as opened:
        yield opened


def test_create_and_delete_confirm_what_already_happened(client: GroupCapabilities) -> None:
    first = client.create_group("GID_twice", instance_id=TEST_INSTANCE_ID, topic=TEST_TOPIC)
    again = client.create_group("GID_twice", instance_id=TEST_INSTANCE_ID, topic=TEST_TOPIC)
    assert (first.detail, again.detail) == ("created", "already existed")
    assert first.request_id and again.request_id
    deleted = client.delete_group("GID_twice", instance_id=TEST_INSTANCE_ID)
    gone = client.delete_group("GID_twice", instance_id=TEST_INSTANCE_ID)
    assert (deleted.detail, gone.detail) == ("deleted", "already gone")
    assert client.list_group_ids(TEST_INSTANCE_ID) == []


def test_a_refused_create_raises_its_own_error(client: GroupCapabilities) -> None:
    with pytest.raises(ParameterError):
        client.create_group("no-gid-prefix", instance_id=TEST_INSTANCE_ID, topic=TEST_TOPIC)


def test_a_delete_on_an_unknown_instance_raises_not_already_gone(
    client: GroupCapabilities,
) -> None:
    # The GID is absent from every listing there is, yet nothing was deleted: the instance
    # does not exist (a typo in the file), which must fail, not count as done.
    with pytest.raises(NotFoundError):
        client.delete_group("GID_absent", instance_id="post-cn-unknown01")


def test_the_dry_run_description_is_what_is_sent(api: Api) -> None:
    answer = Reply(body={"RequestId": "req-1"})
    with scripted([], default=answer) as server, client_of(api, server.url) as client:
        create = client.create_call("GID_new", instance_id=TEST_INSTANCE_ID, topic="orders")
        delete = client.delete_call("GID_old", instance_id=TEST_INSTANCE_ID)
        client.create_group("GID_new", instance_id=TEST_INSTANCE_ID, topic="orders")
        client.delete_group("GID_old", instance_id=TEST_INSTANCE_ID)
    sent_create, sent_delete = server.requests
    for described, sent in ((create, sent_create), (delete, sent_delete)):
        assert sent.params["Action"] == described.action
        assert {name: sent.params.get(name) for name in described.params} == dict(described.params)
        # Every parameter of the action itself is described (the rest are common ones).
        own = set(sent.params) - COMMON_PARAMETERS
        assert own <= set(described.params), own - set(described.params)


COMMON_PARAMETERS = {
    "Action",
    "Format",
    "Version",
    "AccessKeyId",
    "SignatureMethod",
    "SignatureVersion",
    "SignatureNonce",
    "Timestamp",
    "RegionId",
    "Signature",
}


def test_online_clients_are_counted_or_said_uncountable(
    api: Api, client: GroupCapabilities, emulator: RunningEmulator
) -> None:
    client.create_group("GID_live", instance_id=TEST_INSTANCE_ID, topic=TEST_TOPIC)
    emulator.store.add_client("GID_live@@@on", instance_id=TEST_INSTANCE_ID)
    emulator.store.add_client("GID_live@@@off", instance_id=TEST_INSTANCE_ID, online=False)
    known = ["GID_live@@@on", "GID_live@@@off"]

    asked = client.online_clients("GID_live", instance_id=TEST_INSTANCE_ID, known_ids=known)
    unknown = client.online_clients("GID_live", instance_id=TEST_INSTANCE_ID, known_ids=[])

    check = online_check(api)
    assert asked.count == 1
    if check.counts_groups:  # a count per GID: no ids, and nothing to know beforehand
        assert (asked.ids, unknown.count, unknown.reason) == ((), 1, None)
    else:  # only the known ids are asked about, and without them nothing can be counted
        assert asked.ids == ("GID_live@@@on",)
        assert unknown.count is None
        assert unknown.reason == check.note([])
        assert unknown.reason and "cannot count" in unknown.reason
    # What the plan says before any call agrees with what the client can do.
    assert check.asks([]) is (unknown.count is not None)


def test_a_gid_deleted_since_the_listing_has_no_one_online(client: GroupCapabilities) -> None:
    found = client.online_clients(
        "GID_gone", instance_id=TEST_INSTANCE_ID, known_ids=["GID_gone@@@dev1"]
    )
    assert (found.count, found.ids) == (0, ())


def test_a_failed_online_look_up_raises(api: Api) -> None:
    # Not an answer of zero: the plan must not let a delete through on a look-up that failed.
    refused = Reply(status=400, body={"Code": "InvalidParameter", "Message": "no"})
    with (
        scripted([], default=refused) as server,
        client_of(api, server.url) as client,
        pytest.raises(CloudApiError),
    ):
        client.online_clients("GID_gone", instance_id=TEST_INSTANCE_ID, known_ids=["GID_gone@@@1"])
