"""``OnsMqttClient``'s CustomAuth calls against the emulator: listings across pages, every write
as the WireCall it sends, the errors by type, and the Secret in no log line or message."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from reconciler.cloud.access_responses import AuthIdentity, AuthPermission, BlacklistEntry
from reconciler.cloud.capabilities import WireCall
from reconciler.cloud.credentials import resolve_credentials
from reconciler.cloud.custom_auth import PAGE_SIZE
from reconciler.cloud.onsmqtt import OnsMqttClient
from reconciler.cloud.retry import RetryPolicy
from reconciler.emulator.store import IdentityRecord, PermissionRecord
from reconciler.errors import (
    CloudApiError,
    CloudError,
    FeatureNotSupportedError,
    ParameterError,
)
from tests.fixtures.emulator import TEST_ACCESS_KEY_ID, TEST_ACCESS_KEY_SECRET, RunningEmulator

SECRET = "identity-secret-9f3a/+= &x"


def _client(emulator: RunningEmulator, *, secret: str = TEST_ACCESS_KEY_SECRET) -> OnsMqttClient:
    creds = resolve_credentials(
        access_key_id=TEST_ACCESS_KEY_ID, access_key_secret=secret, security_token=None, env={}
    )
    return OnsMqttClient(
        creds,
        region=emulator.region,
        endpoint=emulator.url,
        retry=RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.01, deadline=5),
    )


def _attempts(caplog: pytest.LogCaptureFixture, action: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith(f"{action} ")]


def test_listings_follow_next_token_to_the_end(
    emulator: RunningEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    store, inst = emulator.store, emulator.instance_id
    count = 2 * PAGE_SIZE + 17
    for n in range(count):
        store.add_identity(IdentityRecord(inst, "USER", f"user-{n:03d}", "", "s", "ORIGIN"))
        store.add_permission(
            PermissionRecord(inst, "CLIENT", f"client-{n:03d}", "orders/#", "ALLOW", "SUB")
        )
        store.add_blacklisted(inst, f"rogue-{n:03d}")
    caplog.set_level(logging.DEBUG, logger="reconciler.cloud")
    with _client(emulator) as client:
        identities = client.list_auth_identities(inst)
        permissions = client.list_auth_permissions(inst)
        blacklist = client.list_connect_blacklist(inst)
    assert [i.username for i in identities] == [f"user-{n:03d}" for n in range(count)]
    assert identities[0] == AuthIdentity(
        identity_type="USER", username="user-000", client_id=None, sign_mode="ORIGIN"
    )
    assert [p.identity for p in permissions] == [f"client-{n:03d}" for n in range(count)]
    assert permissions[0] == AuthPermission(
        identity_type="CLIENT",
        identity="client-000",
        topic="orders/#",
        effect="ALLOW",
        permit_action="SUB",
    )
    assert blacklist[-1] == BlacklistEntry(client_id=f"rogue-{count - 1:03d}")
    for action in (
        "QueryCustomAuthIdentity",
        "QueryCustomAuthPermission",
        "QueryCustomAuthConnectBlack",
    ):
        assert len(_attempts(caplog, action)) == 3  # 100 + 100 + 17


def test_every_write_is_the_call_it_sends(emulator: RunningEmulator) -> None:
    inst = emulator.instance_id
    with _client(emulator) as client:
        user = client.add_identity_call(
            inst,
            identity_type="USER",
            username="fleet",
            client_id=None,
            secret=SECRET,
            sign_mode="ORIGIN",
        )
        assert user == WireCall(
            "AddCustomAuthIdentity",
            {
                "InstanceId": inst,
                "IdentityType": "USER",
                "Username": "fleet",
                "Secret": SECRET,
                "SignMode": "ORIGIN",
            },
        )
        device = {"identity_type": "CLIENT", "username": "fleet", "client_id": "sensor-1"}
        calls = [
            user,
            client.add_identity_call(inst, **device, secret=SECRET, sign_mode="SIGNED"),
            client.update_identity_call(inst, **device, secret="rotated", sign_mode="ORIGIN"),
            client.add_permission_call(
                inst,
                identity_type="USER",
                identity="fleet",
                topic="orders/#",
                effect="ALLOW",
                permit_action="PUB",
            ),
            client.update_permission_call(
                inst,
                identity_type="USER",
                identity="fleet",
                topic="orders/#",
                effect="DENY",
                permit_action="PUB_SUB",
            ),
            client.add_blacklist_call(inst, client_id="rogue-1"),
        ]
        request_ids = [client.send_call(call) for call in calls]
        assert all(request_ids) and len(set(request_ids)) == len(calls)
        assert [
            (i.identity_type, i.client_id, i.sign_mode) for i in client.list_auth_identities(inst)
        ] == [
            ("CLIENT", "sensor-1", "ORIGIN"),
            ("USER", None, "ORIGIN"),
        ]
        [permission] = client.list_auth_permissions(inst)
        assert (permission.effect, permission.permit_action) == ("DENY", "PUB_SUB")
        assert client.list_connect_blacklist(inst) == [BlacklistEntry(client_id="rogue-1")]
        for call in (
            client.delete_identity_call(inst, **device),
            client.delete_identity_call(
                inst, identity_type="USER", username="fleet", client_id=None
            ),
            client.delete_permission_call(
                inst, identity_type="USER", identity="fleet", topic="orders/#"
            ),
            client.delete_blacklist_call(inst, client_id="rogue-1"),
        ):
            client.send_call(call)
        assert client.list_auth_identities(inst) == []
        assert client.list_auth_permissions(inst) == []
        assert client.list_connect_blacklist(inst) == []


def test_a_client_id_goes_with_client_identities_only(emulator: RunningEmulator) -> None:
    with _client(emulator) as client:
        with pytest.raises(ValueError, match="CLIENT identity needs a client id"):
            client.delete_identity_call("i", identity_type="CLIENT", username="u", client_id=None)
        with pytest.raises(ValueError, match="USER identity has no client id"):
            client.delete_identity_call("i", identity_type="USER", username="u", client_id="c")
        with pytest.raises(ValueError, match="not a CustomAuth write"):
            client.send_call(WireCall("CreateGroupId", {"InstanceId": "i", "GroupId": "GID_x"}))


def test_an_edition_without_custom_auth_is_feature_not_supported(
    emulator: RunningEmulator,
) -> None:
    emulator.store.add_instance("post-cn-basic0001", edition="basic")
    with _client(emulator) as client:
        with pytest.raises(FeatureNotSupportedError) as caught:
            client.list_auth_permissions("post-cn-basic0001")
        assert (caught.value.code, caught.value.status) == ("ApiNotSupport", 404)
        assert isinstance(caught.value, CloudApiError)
        call = client.add_blacklist_call("post-cn-basic0001", client_id="c-1")
        with pytest.raises(FeatureNotSupportedError):
            client.send_call(call)


def test_over_capacity_is_a_failed_call_with_the_services_words(
    emulator: RunningEmulator,
) -> None:
    emulator.store.add_instance("post-cn-small0001", custom_auth_capacity=1, topics=["orders"])
    with _client(emulator) as client:
        client.send_call(client.add_blacklist_call("post-cn-small0001", client_id="c-1"))
        with pytest.raises(CloudApiError) as caught:
            client.send_call(client.add_blacklist_call("post-cn-small0001", client_id="c-2"))
    err = caught.value
    assert type(err) is CloudApiError
    assert err.code == "Customauth.over.capacity"
    assert "Over custom auth capacity" in err.api_message


def test_the_secret_is_in_no_log_line_nor_message(
    emulator: RunningEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    inst = emulator.instance_id
    texts: list[str] = []
    identity: dict[str, Any] = {
        "identity_type": "USER",
        "username": "fleet",
        "client_id": None,
        "secret": SECRET,
        "sign_mode": "ORIGIN",
    }
    with _client(emulator) as client:
        client.send_call(client.add_identity_call(inst, **identity))
        # Refused: an "already exists" message, and a bad SignMode's.
        for call in (
            client.add_identity_call(inst, **identity),
            client.update_identity_call(inst, **{**identity, "sign_mode": "PLAIN"}),
        ):
            with pytest.raises(ParameterError) as refused:
                client.send_call(call)
            texts.append(str(refused.value))
    # A signature the service refuses: its message quotes the string to sign, which holds
    # every parameter, the Secret among them.
    wrong = _client(emulator, secret="not-the-account-secret")
    with wrong, pytest.raises(CloudError) as caught:
        wrong.send_call(wrong.add_identity_call(inst, **identity))
    texts.append(str(caught.value))
    texts += [record.getMessage() for record in caplog.records]
    assert any("AddCustomAuthIdentity attempt" in text for text in texts)
    assert any("SignatureDoesNotMatch" in text for text in texts)
    leaked = [text for text in texts if "identity-secret-9f3a" in text or "9f3a%2F" in text]
    assert leaked == []


def test_a_repeated_next_token_stops_the_listing(
    emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    inst = emulator.instance_id
    for n in range(3):
        emulator.store.add_blacklisted(inst, f"rogue-{n}")
    monkeypatch.setattr("reconciler.cloud.custom_auth.PAGE_SIZE", 1)
    with _client(emulator) as client:
        real = client._typed

        def replaying(action: str, params: Any, model: Any) -> Any:
            # A broken service: every page answers the first page's token.
            return real(action, {**params, "NextToken": ""}, model)

        monkeypatch.setattr(client, "_typed", replaying)
        with pytest.raises(CloudError, match="answered a NextToken it had already given"):
            client.list_connect_blacklist(inst)
