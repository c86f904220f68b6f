"""The access kinds (identity, permission, blacklist entry) over a client's custom-auth calls.

``CustomAuthCalls`` (``cloud/custom_auth.py``, which ``OnsMqttClient`` inherits) gives each
call as a ``WireCall`` and sends it; here each kind is a ``ResourceCapability``: the call for
a ``ResourceTarget`` (the key's text parsed back into the wire's fields, the file's
lower-case words turned into the wire's upper-case ones), and that call sent and confirmed.
The service documents no "already exists" or "not found" answer for these actions, so
nothing here reads an error's code: a call that failed, or whose answer was lost, is judged
by a fresh listing of the instance (an add is done when the entry is there, a delete when it
is gone, a permission's update when the entry shows the values sent; a secret cannot be read
back, so an identity's update is confirmed only by its answer), and otherwise fails with the
service's own words (``Customauth.over.capacity`` among them).

``list_access`` adds an instance's entries to its inventory (``KIND_LISTINGS``); an edition
without custom auth (``FeatureNotSupportedError``) lists as ``unsupported`` with the
service's words, which the plan says once per instance that declares or records access
entries.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from reconciler.cloud.capabilities import (
    CallDetail,
    Confirmed,
    GroupCapabilities,
    ResourceCapability,
    ResourceTarget,
    WireCall,
)
from reconciler.cloud.custom_auth import CustomAuthCalls
from reconciler.errors import CloudError, FeatureNotSupportedError
from reconciler.models import (
    BLACKLIST_KIND_NAME,
    IDENTITY_KIND_NAME,
    PERMISSION_KIND_NAME,
    AccessListing,
    InstanceInventory,
    ListedBlacklistEntry,
    ListedIdentity,
    ListedPermission,
    parse_blacklist_key,
    parse_identity_key,
    parse_permission_key,
)


def _wire(value: str | None) -> str | None:
    return value.upper() if value is not None else None


def _file(value: str | None) -> Any:
    # The wire's upper-case words as the file's (the Literal types of both are checked by
    # the models built from them).
    return value.lower() if value is not None else None


# An entry of any access kind as a listing shows it.
Listed = ListedIdentity | ListedPermission | ListedBlacklistEntry


def _calls(client: GroupCapabilities) -> CustomAuthCalls:
    if not isinstance(client, CustomAuthCalls):
        raise TypeError("this instance's client has no custom-auth calls (api: onsmqtt has)")
    return client


# --- listing ---------------------------------------------------------------------------------


def access_listing(calls: CustomAuthCalls, instance_id: str) -> AccessListing:
    """The instance's entries, in the file's words (each query follows NextToken to its end)."""
    try:
        identities = calls.list_auth_identities(instance_id)
        permissions = calls.list_auth_permissions(instance_id)
        blacklist = calls.list_connect_blacklist(instance_id)
    except FeatureNotSupportedError as err:
        return AccessListing(
            unsupported=f"custom authentication is not available on its edition ({err.code}: "
            f"{err.api_message})"
        )
    return AccessListing(
        identities=tuple(
            ListedIdentity(
                identity_type=_file(row.identity_type),
                username=row.username,
                client_id=row.client_id if row.identity_type == "CLIENT" else None,
                sign_mode=_file(row.sign_mode),
            )
            for row in identities
        ),
        permissions=tuple(
            ListedPermission(
                identity_type=_file(row.identity_type),
                identity=row.identity,
                topic=row.topic,
                effect=_file(row.effect),
                permit_action=_file(row.permit_action),
            )
            for row in permissions
        ),
        blacklist=tuple(ListedBlacklistEntry(client_id=row.client_id) for row in blacklist),
    )


def list_access(client: GroupCapabilities, inventory: InstanceInventory) -> InstanceInventory:
    """``KIND_LISTINGS``' entry for the access kinds: the inventory with its access listing,
    unchanged for a client without custom auth (an ons instance)."""
    if not isinstance(client, CustomAuthCalls):
        return inventory
    listing = access_listing(client, inventory.instance_id)
    return inventory.model_copy(update={"access": listing})


# --- sent and confirmed ----------------------------------------------------------------------


class _Confirming:
    """Sends a kind's call; when it fails, or its answer is lost, a fresh listing decides.

    A kind gives its calls, its entries in a listing, and whether an entry as listed shows what
    was sent (``_as_sent``: by default, that it is listed; ``_update_readable`` False when an
    update's values cannot be read back, so a failed update is never taken as done)."""

    _update_readable = True

    def __init__(self, client: GroupCapabilities) -> None:
        self._client = _calls(client)

    def create_call(self, target: ResourceTarget) -> WireCall:
        raise NotImplementedError

    def update_call(self, target: ResourceTarget) -> WireCall:
        raise NotImplementedError

    def delete_call(self, target: ResourceTarget) -> WireCall:
        raise NotImplementedError

    def _entries(self, listing: AccessListing) -> Sequence[Listed]:
        raise NotImplementedError

    def _found(self, target: ResourceTarget, listing: AccessListing) -> Listed | None:
        return next((item for item in self._entries(listing) if item.key_text == target.key), None)

    def _as_sent(self, target: ResourceTarget, listing: AccessListing) -> bool:
        return self._found(target, listing) is not None

    def create(self, target: ResourceTarget) -> Confirmed:
        return self._send(
            self.create_call(target),
            target,
            "created",
            settled=lambda listing: self._as_sent(target, listing),
            settled_as="already existed",
        )

    def update(self, target: ResourceTarget) -> Confirmed:
        readable = self._update_readable
        return self._send(
            self.update_call(target),
            target,
            "updated",
            settled=lambda listing: readable and self._as_sent(target, listing),
            settled_as="updated",
        )

    def delete(self, target: ResourceTarget) -> Confirmed:
        return self._send(
            self.delete_call(target),
            target,
            "deleted",
            settled=lambda listing: self._found(target, listing) is None,
            settled_as="already gone",
        )

    def _send(
        self,
        call: WireCall,
        target: ResourceTarget,
        done: CallDetail,
        *,
        settled: Callable[[AccessListing], bool],
        settled_as: CallDetail,
    ) -> Confirmed:
        try:
            return Confirmed(done, self._client.send_call(call))
        except CloudError as err:
            try:
                confirmed = settled(access_listing(self._client, target.instance_id))
            except CloudError:
                raise err from None
            if not confirmed:
                raise
            return Confirmed(settled_as, getattr(err, "request_id", None))


class IdentityResources(_Confirming):
    """Identities: key ``identity:user:USERNAME`` / ``identity:client:USERNAME:CLIENT_ID``;
    mutable ``sign_mode``; write-only ``secret``. Listed after a failed add, the add landed
    (its secret is the one sent: nobody else sends it); a secret cannot be read back, so a
    failed update is never taken as done."""

    _update_readable = False

    def _fields(self, target: ResourceTarget) -> dict[str, Any]:
        identity_type, username, client_id = parse_identity_key(target.key)
        return {
            "identity_type": identity_type.upper(),
            "username": username,
            "client_id": client_id,
        }

    def _values(self, target: ResourceTarget) -> dict[str, Any]:
        return {
            **self._fields(target),
            "secret": target.write_only.get("secret", ""),
            "sign_mode": _wire(target.attributes.get("sign_mode")),
        }

    def _entries(self, listing: AccessListing) -> Sequence[Listed]:
        return listing.identities

    def create_call(self, target: ResourceTarget) -> WireCall:
        return self._client.add_identity_call(target.instance_id, **self._values(target))

    def update_call(self, target: ResourceTarget) -> WireCall:
        return self._client.update_identity_call(target.instance_id, **self._values(target))

    def delete_call(self, target: ResourceTarget) -> WireCall:
        return self._client.delete_identity_call(target.instance_id, **self._fields(target))


class PermissionResources(_Confirming):
    """Permissions: key ``permission:TYPE:IDENTITY/TOPIC``; mutable ``effect`` and
    ``permit_action`` (the file's ``action``), which a listing shows."""

    def _fields(self, target: ResourceTarget) -> dict[str, Any]:
        identity_type, identity, topic = parse_permission_key(target.key)
        return {"identity_type": identity_type.upper(), "identity": identity, "topic": topic}

    def _values(self, target: ResourceTarget) -> dict[str, Any]:
        return {
            **self._fields(target),
            "effect": _wire(target.attributes.get("effect")),
            "permit_action": _wire(target.attributes.get("permit_action")),
        }

    def _entries(self, listing: AccessListing) -> Sequence[Listed]:
        return listing.permissions

    def _as_sent(self, target: ResourceTarget, listing: AccessListing) -> bool:
        found = self._found(target, listing)
        return isinstance(found, ListedPermission) and (found.effect, found.permit_action) == (
            target.attributes.get("effect"),
            target.attributes.get("permit_action"),
        )

    def create_call(self, target: ResourceTarget) -> WireCall:
        return self._client.add_permission_call(target.instance_id, **self._values(target))

    def update_call(self, target: ResourceTarget) -> WireCall:
        return self._client.update_permission_call(target.instance_id, **self._values(target))

    def delete_call(self, target: ResourceTarget) -> WireCall:
        return self._client.delete_permission_call(target.instance_id, **self._fields(target))


class BlacklistResources(_Confirming):
    """Blacklist entries: key ``blacklist:CLIENT_ID``; nothing to update."""

    def _entries(self, listing: AccessListing) -> Sequence[Listed]:
        return listing.blacklist

    def create_call(self, target: ResourceTarget) -> WireCall:
        return self._client.add_blacklist_call(
            target.instance_id, client_id=parse_blacklist_key(target.key)
        )

    def update_call(self, target: ResourceTarget) -> WireCall:
        raise TypeError(f"a blacklist entry has no attribute an update changes ({target.key})")

    def delete_call(self, target: ResourceTarget) -> WireCall:
        return self._client.delete_blacklist_call(
            target.instance_id, client_id=parse_blacklist_key(target.key)
        )


ACCESS_CAPABILITIES: dict[str, Callable[[GroupCapabilities], ResourceCapability]] = {
    IDENTITY_KIND_NAME: IdentityResources,
    PERMISSION_KIND_NAME: PermissionResources,
    BLACKLIST_KIND_NAME: BlacklistResources,
}
