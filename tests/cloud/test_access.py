"""The access capabilities against the emulator: each write confirmed by a fresh listing when
its answer is lost or it fails, never by an error code; the service's own words otherwise."""

from __future__ import annotations

import pytest

from reconciler.cloud.access import ACCESS_CAPABILITIES, list_access
from reconciler.cloud.capabilities import ResourceTarget, WireCall, capability_for
from reconciler.cloud.onsmqtt import OnsMqttClient
from reconciler.emulator.store import IdentityRecord, PermissionRecord
from reconciler.errors import CloudApiError, CloudConnectionError
from reconciler.models import InstanceInventory
from tests.fixtures.access import listed_access, listed_keys, onsmqtt_client, with_telemetry
from tests.fixtures.apply_kit import client_for_url
from tests.fixtures.emulator import TEST_INSTANCE_ID, TEST_REGION, RunningEmulator

GRANT = "permission:user:alice/telemetry/#"


class LostAnswers(OnsMqttClient):
    """Sends each call, then loses its answer (the connection drops after the write)."""

    def send_call(self, call: WireCall) -> str:
        super().send_call(call)
        raise CloudConnectionError(f"{call.action}: connection reset", action=call.action)


def lossy_client(emulator: RunningEmulator) -> OnsMqttClient:
    return onsmqtt_client(emulator.url, LostAnswers)


def target(key: str, **attributes: str) -> ResourceTarget:
    return ResourceTarget(instance_id=TEST_INSTANCE_ID, key=key, attributes=attributes)


def test_a_write_whose_answer_was_lost_is_confirmed_by_listing(emulator: RunningEmulator) -> None:
    with_telemetry(emulator)
    client = lossy_client(emulator)
    permissions = capability_for("permission", client)
    grant = target(GRANT, effect="allow", permit_action="pub")
    assert permissions.create(grant).detail == "already existed"
    deny = target(GRANT, effect="deny", permit_action="pub")
    assert permissions.update(deny).detail == "updated"
    (listed,) = listed_access(emulator).permissions
    assert listed.effect == "deny"
    blacklist = capability_for("blacklist", client)
    assert blacklist.create(target("blacklist:dev-9")).detail == "already existed"
    assert blacklist.delete(target("blacklist:dev-9")).detail == "already gone"
    assert permissions.delete(deny).detail == "already gone"
    assert listed_keys(emulator) == set()


def test_a_lost_identity_update_is_not_taken_as_done(emulator: RunningEmulator) -> None:
    """Its secret cannot be read back: only the call's own answer confirms it."""
    emulator.store.add_identity(
        IdentityRecord(TEST_INSTANCE_ID, "USER", "alice", "", "old", "SIGNED")
    )
    identities = capability_for("identity", lossy_client(emulator))
    rotated = ResourceTarget(
        instance_id=TEST_INSTANCE_ID,
        key="identity:user:alice",
        attributes={"sign_mode": "signed"},
        write_only={"secret": "new-secret-value"},
    )
    with pytest.raises(CloudConnectionError) as raised:
        identities.update(rotated)
    assert "new-secret-value" not in str(raised.value)


def test_a_failed_write_the_listing_does_not_confirm_keeps_the_services_words(
    emulator: RunningEmulator,
) -> None:
    emulator.store.add_instance("post-cn-small0001", custom_auth_capacity=1)
    emulator.store.add_permission(
        PermissionRecord("post-cn-small0001", "USER", "x", "t/#", "ALLOW", "PUB")
    )
    with onsmqtt_client(emulator.url) as client:
        blacklist = capability_for("blacklist", client)
        entry = ResourceTarget(instance_id="post-cn-small0001", key="blacklist:dev-9")
        with pytest.raises(CloudApiError) as raised:
            blacklist.create(entry)
    assert raised.value.code == "Customauth.over.capacity"
    assert "capacity" in raised.value.api_message.lower()


def test_the_listing_reads_pages_and_an_ons_client_lists_nothing(
    emulator: RunningEmulator,
) -> None:
    for number in range(130):
        emulator.store.add_permission(
            PermissionRecord(TEST_INSTANCE_ID, "USER", f"u{number}", "t/#", "DENY", "SUB")
        )
    empty = InstanceInventory(region=TEST_REGION, instance_id=TEST_INSTANCE_ID)
    with onsmqtt_client(emulator.url) as client:
        listed = list_access(client, empty).access
    assert listed is not None and len(listed.permissions) == 130
    assert {(p.effect, p.permit_action) for p in listed.permissions} == {("deny", "sub")}
    with client_for_url(emulator.url) as ons:
        assert list_access(ons, empty) == empty
    assert set(ACCESS_CAPABILITIES) == {"identity", "permission", "blacklist"}


def test_a_client_without_custom_auth_has_no_access_capability(
    emulator: RunningEmulator,
) -> None:
    with client_for_url(emulator.url) as ons, pytest.raises(TypeError, match="custom-auth"):
        capability_for("blacklist", ons)
