"""alibabacloud-onsmqtt20200420 1.7.1 drives the 11 CustomAuth actions against the emulator:
writes as form POSTs, queries as GETs with a query string, in both signature modes; pagination
by ``Size`` and ``NextToken``; the errors (an edition without the feature, capacity, each
field's ``InvalidParameter``, account isolation)."""

from __future__ import annotations

import pytest
from alibabacloud_onsmqtt20200420 import models as m
from alibabacloud_onsmqtt20200420.client import Client
from Tea.exceptions import TeaException

from tests.fixtures.sdk import tea_config

MODES = ["v3", "v2"]


def _client(emulator, mode: str = "v3", *, key=None, secret=None) -> Client:
    config = tea_config(emulator, key=key, secret=secret)
    if mode == "v2":
        config.signature_algorithm = "v2"
    return Client(config)


def _error(call) -> tuple[str, int, str]:
    with pytest.raises(TeaException) as caught:
        call()
    err = caught.value
    return err.code, err.data["statusCode"], err.message


def _all_identities(client: Client, instance_id: str, size: int) -> tuple[list, int]:
    rows, pages, token = [], 0, ""
    while True:
        body = client.query_custom_auth_identity(
            m.QueryCustomAuthIdentityRequest(instance_id=instance_id, size=size, next_token=token)
        ).body
        assert (body.code, body.success) == (200, True)
        pages += 1
        rows.extend(body.data.results)
        token = body.data.next_token
        if not token:
            return rows, pages


@pytest.mark.parametrize("mode", MODES)
def test_identities_round_trip(emulator, mode):
    client, inst = _client(emulator, mode), emulator.instance_id
    client.add_custom_auth_identity(
        m.AddCustomAuthIdentityRequest(
            instance_id=inst,
            identity_type="USER",
            username="fleet",
            secret="origin-secret",
            sign_mode="ORIGIN",
        )
    )
    answer = client.add_custom_auth_identity(
        m.AddCustomAuthIdentityRequest(
            instance_id=inst,
            identity_type="CLIENT",
            username="fleet",
            client_id="sensor-1",
            secret="signed-secret",
            sign_mode="SIGNED",
        )
    )
    assert answer.body.request_id and answer.body.success
    client.update_custom_auth_identity(
        m.UpdateCustomAuthIdentityRequest(
            instance_id=inst,
            identity_type="USER",
            username="fleet",
            secret="rotated",
            sign_mode="SIGNED",
        )
    )
    rows, _ = _all_identities(client, inst, 100)
    assert [(r.identity_type, r.username, r.client_id, r.sign_mode) for r in rows] == [
        ("CLIENT", "fleet", "sensor-1", "SIGNED"),
        ("USER", "fleet", None, "SIGNED"),
    ]
    assert all(r.secret not in ("origin-secret", "signed-secret", "rotated") for r in rows)
    client.delete_custom_auth_identity(
        m.DeleteCustomAuthIdentityRequest(
            instance_id=inst, identity_type="CLIENT", username="fleet", client_id="sensor-1"
        )
    )
    filtered = client.query_custom_auth_identity(
        m.QueryCustomAuthIdentityRequest(instance_id=inst, size=10, username="fleet")
    ).body.data
    assert [r.identity_type for r in filtered.results] == ["USER"]
    assert filtered.next_token == ""


@pytest.mark.parametrize("mode", MODES)
def test_permissions_round_trip(emulator, mode):
    client, inst = _client(emulator, mode), emulator.instance_id
    topic = f"{emulator.topic}/+/telemetry/#"
    client.add_custom_auth_permission(
        m.AddCustomAuthPermissionRequest(
            instance_id=inst,
            identity_type="USER",
            identity="fleet",
            topic=topic,
            effect="ALLOW",
            permit_action="PUB_SUB",
        )
    )
    client.update_custom_auth_permission(
        m.UpdateCustomAuthPermissionRequest(
            instance_id=inst,
            identity_type="USER",
            identity="fleet",
            topic=topic,
            effect="DENY",
            permit_action="SUB",
        )
    )
    body = client.query_custom_auth_permission(
        m.QueryCustomAuthPermissionRequest(instance_id=inst, size=100, topic=topic)
    ).body
    [row] = body.data.results
    assert (row.identity_type, row.identity, row.topic, row.effect, row.permit_action) == (
        "USER",
        "fleet",
        topic,
        "DENY",
        "SUB",
    )
    client.delete_custom_auth_permission(
        m.DeleteCustomAuthPermissionRequest(
            instance_id=inst, identity_type="USER", identity="fleet", topic=topic
        )
    )
    empty = client.query_custom_auth_permission(
        m.QueryCustomAuthPermissionRequest(instance_id=inst, size=100)
    ).body.data
    assert (empty.results, empty.next_token) == ([], "")


@pytest.mark.parametrize("mode", MODES)
def test_blacklist_round_trip(emulator, mode):
    client, inst = _client(emulator, mode), emulator.instance_id
    client.add_custom_auth_connect_black(
        m.AddCustomAuthConnectBlackRequest(instance_id=inst, client_id="rogue-1")
    )
    rows = client.query_custom_auth_connect_black(
        m.QueryCustomAuthConnectBlackRequest(instance_id=inst, size=100)
    ).body.data.results
    assert [(r.client_id, r.effect, r.permit_action) for r in rows] == [
        ("rogue-1", "DENY", "PUB_SUB")
    ]
    client.delete_custom_auth_connect_black(
        m.DeleteCustomAuthConnectBlackRequest(instance_id=inst, client_id="rogue-1")
    )
    assert (
        client.query_custom_auth_connect_black(
            m.QueryCustomAuthConnectBlackRequest(instance_id=inst, size=100, client_id="rogue-1")
        ).body.data.results
        == []
    )


def test_queries_page_by_size_and_next_token(emulator):
    client, inst = _client(emulator), emulator.instance_id
    for n in range(7):
        client.add_custom_auth_identity(
            m.AddCustomAuthIdentityRequest(
                instance_id=inst,
                identity_type="USER",
                username=f"user-{n}",
                secret="s3cret-value",
                sign_mode="ORIGIN",
            )
        )
    rows, pages = _all_identities(client, inst, 3)
    assert pages == 3
    assert [r.username for r in rows] == [f"user-{n}" for n in range(7)]
    rows, pages = _all_identities(client, inst, 7)
    assert (len(rows), pages) == (7, 1)


def test_an_edition_without_custom_auth_answers_api_not_support(emulator):
    emulator.store.add_instance("post-cn-basic0001", edition="basic")
    emulator.store.add_instance("post-cn-std0001", edition="standard")
    client = _client(emulator)
    for instance in ("post-cn-basic0001", "post-cn-std0001"):
        code, status, message = _error(
            lambda instance=instance: client.query_custom_auth_connect_black(
                m.QueryCustomAuthConnectBlackRequest(instance_id=instance, size=10)
            )
        )
        assert (code, status) == ("ApiNotSupport", 404)
        assert "does not support custom authentication" in message
    assert _error(
        lambda: client.add_custom_auth_connect_black(
            m.AddCustomAuthConnectBlackRequest(instance_id="post-cn-basic0001", client_id="x-1")
        )
    )[:2] == ("ApiNotSupport", 404)


def test_capacity_counts_identities_and_rules_apart(emulator):
    emulator.store.add_instance(
        "post-cn-small0001", topics=["orders"], custom_auth_capacity=2, edition="platinum"
    )
    client, inst = _client(emulator), "post-cn-small0001"
    for n in range(2):
        client.add_custom_auth_identity(
            m.AddCustomAuthIdentityRequest(
                instance_id=inst,
                identity_type="USER",
                username=f"u{n}",
                secret="secret",
                sign_mode="ORIGIN",
            )
        )
    code, status, message = _error(
        lambda: client.add_custom_auth_identity(
            m.AddCustomAuthIdentityRequest(
                instance_id=inst,
                identity_type="USER",
                username="u2",
                secret="secret",
                sign_mode="ORIGIN",
            )
        )
    )
    assert (code, status) == ("Customauth.over.capacity", 400)
    assert "Over custom auth capacity" in message
    # Permissions and blacklist entries share the other capacity.
    client.add_custom_auth_permission(
        m.AddCustomAuthPermissionRequest(
            instance_id=inst,
            identity_type="USER",
            identity="u0",
            topic="orders/#",
            effect="ALLOW",
            permit_action="PUB",
        )
    )
    client.add_custom_auth_connect_black(
        m.AddCustomAuthConnectBlackRequest(instance_id=inst, client_id="c-1")
    )
    assert _error(
        lambda: client.add_custom_auth_connect_black(
            m.AddCustomAuthConnectBlackRequest(instance_id=inst, client_id="c-2")
        )
    )[:2] == ("Customauth.over.capacity", 400)
    assert _error(
        lambda: client.add_custom_auth_permission(
            m.AddCustomAuthPermissionRequest(
                instance_id=inst,
                identity_type="USER",
                identity="u1",
                topic="orders",
                effect="ALLOW",
                permit_action="SUB",
            )
        )
    )[:2] == ("Customauth.over.capacity", 400)


def _identity(**overrides) -> m.AddCustomAuthIdentityRequest:
    fields = {
        "instance_id": "post-cn-test0001",
        "identity_type": "CLIENT",
        "username": "fleet",
        "client_id": "sensor-1",
        "secret": "secret",
        "sign_mode": "SIGNED",
        **overrides,
    }
    return m.AddCustomAuthIdentityRequest(**fields)


def _permission(**overrides) -> m.AddCustomAuthPermissionRequest:
    fields = {
        "instance_id": "post-cn-test0001",
        "identity_type": "USER",
        "identity": "fleet",
        "topic": "orders/#",
        "effect": "ALLOW",
        "permit_action": "PUB",
        **overrides,
    }
    return m.AddCustomAuthPermissionRequest(**fields)


IDENTITY_MISTAKES = {
    "IdentityType": _identity(identity_type="GROUP"),
    "Username": _identity(username="u" * 65),
    "ClientId": _identity(client_id="has space"),
    "SignMode": _identity(sign_mode="PLAIN"),
}
PERMISSION_MISTAKES = {
    "IdentityType": _permission(identity_type="ANY"),
    "Identity": _permission(identity_type="CLIENT", identity="a/b"),
    "Topic": _permission(topic="orders/#/more"),
    "Effect": _permission(effect="MAYBE"),
    "PermitAction": _permission(permit_action="READ"),
}


@pytest.mark.parametrize("field", list(IDENTITY_MISTAKES))
def test_each_identity_field_is_checked(emulator, field):
    client = _client(emulator)
    code, status, _ = _error(lambda: client.add_custom_auth_identity(IDENTITY_MISTAKES[field]))
    assert (code, status) == (f"InvalidParameter.{field}", 400)


@pytest.mark.parametrize("field", list(PERMISSION_MISTAKES))
def test_each_permission_field_is_checked(emulator, field):
    client = _client(emulator)
    code, status, _ = _error(lambda: client.add_custom_auth_permission(PERMISSION_MISTAKES[field]))
    assert (code, status) == (f"InvalidParameter.{field}", 400)


def test_other_refusals(emulator):
    client, inst = _client(emulator), emulator.instance_id
    # A USER identity takes no ClientId; a reserved prefix is no custom-auth username.
    user_with_client = _identity(identity_type="USER")
    assert _error(lambda: client.add_custom_auth_identity(user_with_client))[0] == (
        "InvalidParameter.ClientId"
    )
    reserved = _identity(username="Signature|LTAI5t")
    assert _error(lambda: client.add_custom_auth_identity(reserved))[0] == (
        "InvalidParameter.Username"
    )
    # A permission's parent topic must exist on the instance.
    unknown_parent = _permission(topic="nowhere/#")
    code, _, message = _error(lambda: client.add_custom_auth_permission(unknown_parent))
    assert code == "InvalidParameter.Topic" and "nowhere" in message
    # A blacklisted ClientId is checked like any custom-auth ClientId.
    bad_client = m.AddCustomAuthConnectBlackRequest(instance_id=inst, client_id="x" * 65)
    assert _error(lambda: client.add_custom_auth_connect_black(bad_client))[:2] == (
        "InvalidParameter.ClientId",
        400,
    )
    # Size is 1-100; a NextToken must be one the query returned.
    for size in (0, 101):
        request = m.QueryCustomAuthPermissionRequest(instance_id=inst, size=size)
        assert _error(lambda request=request: client.query_custom_auth_permission(request))[:2] == (
            "InvalidParameter.Size",
            400,
        )
    forged = m.QueryCustomAuthIdentityRequest(instance_id=inst, size=5, next_token="forged")
    assert _error(lambda: client.query_custom_auth_identity(forged))[0] == (
        "InvalidParameter.NextToken"
    )
    # Add of an existing key, Update or Delete of a missing one: InvalidParameter, saying so.
    client.add_custom_auth_identity(_identity())
    code, status, message = _error(lambda: client.add_custom_auth_identity(_identity()))
    assert (code, status) == ("InvalidParameter", 400) and "already exists" in message
    missing = m.DeleteCustomAuthConnectBlackRequest(instance_id=inst, client_id="never")
    code, status, message = _error(lambda: client.delete_custom_auth_connect_black(missing))
    assert (code, status) == ("InvalidParameter", 400) and "does not exist" in message
    update = m.UpdateCustomAuthPermissionRequest(
        instance_id=inst,
        identity_type="USER",
        identity="nobody",
        topic="orders",
        effect="ALLOW",
        permit_action="SUB",
    )
    code, status, message = _error(lambda: client.update_custom_auth_permission(update))
    assert (code, status) == ("InvalidParameter", 400) and "does not exist" in message


def test_another_accounts_instance_is_not_found(emulator):
    emulator.store.add_account("LTAI5tOther", "other-secret")
    emulator.store.add_instance("post-cn-other0001", owner="LTAI5tOther", topics=["orders"])
    client = _client(emulator)
    code, status, _ = _error(
        lambda: client.query_custom_auth_identity(
            m.QueryCustomAuthIdentityRequest(instance_id="post-cn-other0001", size=10)
        )
    )
    assert (code, status) == ("InstanceNotFound", 400)
    owner = _client(emulator, key="LTAI5tOther", secret="other-secret")
    owner.add_custom_auth_connect_black(
        m.AddCustomAuthConnectBlackRequest(instance_id="post-cn-other0001", client_id="c-1")
    )
