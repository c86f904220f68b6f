"""``CustomAuthCalls``: the CustomAuth actions of OnsMqtt 2020-04-20 (an instance's identities,
topic permissions and connect blacklist), a part of ``OnsMqttClient`` on the shared request core.

Listings follow ``NextToken`` to the end at the largest page the service takes (``Size`` 100).
Each write is built as the ``WireCall`` it sends (``*_call``), so a dry run lists exactly what an
apply sends, and sent by ``send_call``. The service documents no "already exists" or "not
found" answer for these actions, so nothing here reads one: the engine lists before it writes
and lists again to confirm a write whose answer was lost.

An identity's ``Secret`` travels only in its call's parameters: the core masks the parameter in
every DEBUG line and its value in every error message (``rpc.SECRET_PARAMETERS``). An edition
without custom authentication answers ``ApiNotSupport``, raised as ``FeatureNotSupportedError``
(``error_codes``) so the engine can catch it by type.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, TypeVar

from pydantic import SecretStr

from reconciler.cloud.capabilities import WireCall
from reconciler.cloud.responses import RequestIdResponse
from reconciler.cloud.rpc import RpcClient
from reconciler.errors import CloudError

if TYPE_CHECKING:
    # The answers' models are imported by the listings that read them (as the query
    # answers are, ``cloud.query_responses``): a run that lists no access entries, every
    # plan of an ons instance among them, never creates their classes.
    from reconciler.cloud.access_responses import (
        AuthIdentity,
        AuthPermission,
        BlacklistEntry,
        BlacklistPage,
        Effect,
        IdentityPage,
        IdentityType,
        PermissionPage,
        PermitAction,
        SignMode,
    )

ADD_IDENTITY = "AddCustomAuthIdentity"
UPDATE_IDENTITY = "UpdateCustomAuthIdentity"
DELETE_IDENTITY = "DeleteCustomAuthIdentity"
QUERY_IDENTITY = "QueryCustomAuthIdentity"
ADD_PERMISSION = "AddCustomAuthPermission"
UPDATE_PERMISSION = "UpdateCustomAuthPermission"
DELETE_PERMISSION = "DeleteCustomAuthPermission"
QUERY_PERMISSION = "QueryCustomAuthPermission"
ADD_BLACKLIST = "AddCustomAuthConnectBlack"
DELETE_BLACKLIST = "DeleteCustomAuthConnectBlack"
QUERY_BLACKLIST = "QueryCustomAuthConnectBlack"

CUSTOM_AUTH_WRITES = frozenset(
    {
        ADD_IDENTITY,
        UPDATE_IDENTITY,
        DELETE_IDENTITY,
        ADD_PERMISSION,
        UPDATE_PERMISSION,
        DELETE_PERMISSION,
        ADD_BLACKLIST,
        DELETE_BLACKLIST,
    }
)
CUSTOM_AUTH_ACTIONS = CUSTOM_AUTH_WRITES | {QUERY_IDENTITY, QUERY_PERMISSION, QUERY_BLACKLIST}
# The largest page the service answers.
PAGE_SIZE = 100

_PageT = TypeVar("_PageT", "IdentityPage", "PermissionPage", "BlacklistPage")


class CustomAuthCalls(RpcClient):
    """The CustomAuth calls of an OnsMqtt 2020-04-20 client (``OnsMqttClient`` inherits them)."""

    # -- listings ----------------------------------------------------------------------------

    def list_auth_identities(self, instance_id: str) -> list[AuthIdentity]:
        """Every identity of the instance (never a secret)."""
        from reconciler.cloud.access_responses import IdentityPage  # noqa: PLC0415

        return [
            item
            for page in self._pages(QUERY_IDENTITY, instance_id, IdentityPage)
            for item in page.data.results
        ]

    def list_auth_permissions(self, instance_id: str) -> list[AuthPermission]:
        from reconciler.cloud.access_responses import PermissionPage  # noqa: PLC0415

        return [
            item
            for page in self._pages(QUERY_PERMISSION, instance_id, PermissionPage)
            for item in page.data.results
        ]

    def list_connect_blacklist(self, instance_id: str) -> list[BlacklistEntry]:
        from reconciler.cloud.access_responses import BlacklistPage  # noqa: PLC0415

        return [
            item
            for page in self._pages(QUERY_BLACKLIST, instance_id, BlacklistPage)
            for item in page.data.results
        ]

    def _pages(self, action: str, instance_id: str, model: type[_PageT]) -> list[_PageT]:
        """Every page of a query, following ``NextToken`` until it is blank."""
        pages: list[_PageT] = []
        seen: set[str] = set()
        token = ""
        while True:
            params = {"InstanceId": instance_id, "Size": str(PAGE_SIZE)}
            if token:
                params["NextToken"] = token
            page = self._typed(action, params, model)
            pages.append(page)
            token = page.data.next_token or ""
            if not token:
                return pages
            if token in seen:
                # A service answering a token it gave before would page forever.
                raise CloudError(
                    f"{action}: {self.endpoint} answered a NextToken it had already given"
                    f" (page {len(pages)}); the listing of {instance_id} cannot be finished",
                    action=action,
                )
            seen.add(token)

    # -- the calls of writes -----------------------------------------------------------------

    def add_identity_call(
        self,
        instance_id: str,
        *,
        identity_type: IdentityType,
        username: str,
        client_id: str | None,
        secret: str | SecretStr,
        sign_mode: SignMode,
    ) -> WireCall:
        params = _identity_key(instance_id, identity_type, username, client_id)
        return WireCall(ADD_IDENTITY, {**params, **_identity_values(secret, sign_mode)})

    def update_identity_call(
        self,
        instance_id: str,
        *,
        identity_type: IdentityType,
        username: str,
        client_id: str | None,
        secret: str | SecretStr,
        sign_mode: SignMode,
    ) -> WireCall:
        params = _identity_key(instance_id, identity_type, username, client_id)
        return WireCall(UPDATE_IDENTITY, {**params, **_identity_values(secret, sign_mode)})

    def delete_identity_call(
        self,
        instance_id: str,
        *,
        identity_type: IdentityType,
        username: str,
        client_id: str | None,
    ) -> WireCall:
        return WireCall(
            DELETE_IDENTITY, _identity_key(instance_id, identity_type, username, client_id)
        )

    def add_permission_call(
        self,
        instance_id: str,
        *,
        identity_type: IdentityType,
        identity: str,
        topic: str,
        effect: Effect,
        permit_action: PermitAction,
    ) -> WireCall:
        params = _permission_key(instance_id, identity_type, identity, topic)
        return WireCall(ADD_PERMISSION, {**params, "Effect": effect, "PermitAction": permit_action})

    def update_permission_call(
        self,
        instance_id: str,
        *,
        identity_type: IdentityType,
        identity: str,
        topic: str,
        effect: Effect,
        permit_action: PermitAction,
    ) -> WireCall:
        params = _permission_key(instance_id, identity_type, identity, topic)
        return WireCall(
            UPDATE_PERMISSION, {**params, "Effect": effect, "PermitAction": permit_action}
        )

    def delete_permission_call(
        self, instance_id: str, *, identity_type: IdentityType, identity: str, topic: str
    ) -> WireCall:
        return WireCall(
            DELETE_PERMISSION, _permission_key(instance_id, identity_type, identity, topic)
        )

    def add_blacklist_call(self, instance_id: str, *, client_id: str) -> WireCall:
        return WireCall(ADD_BLACKLIST, {"InstanceId": instance_id, "ClientId": client_id})

    def delete_blacklist_call(self, instance_id: str, *, client_id: str) -> WireCall:
        return WireCall(DELETE_BLACKLIST, {"InstanceId": instance_id, "ClientId": client_id})

    def send_call(self, call: WireCall) -> str:
        """Send a write built by a ``*_call`` method (paced, retried, its Secret masked in
        every log line and message); returns the RequestId."""
        if call.action not in CUSTOM_AUTH_WRITES:
            raise ValueError(f"{call.action} is not a CustomAuth write")
        return self._typed(call.action, call.params, RequestIdResponse).request_id


def _identity_key(
    instance_id: str, identity_type: IdentityType, username: str, client_id: str | None
) -> dict[str, str]:
    """The parameters naming an identity: ``ClientId`` for a CLIENT identity only."""
    params = {"InstanceId": instance_id, "IdentityType": identity_type, "Username": username}
    if identity_type == "CLIENT":
        if not client_id:
            raise ValueError("a CLIENT identity needs a client id")
        params["ClientId"] = client_id
    elif client_id is not None:
        raise ValueError("a USER identity has no client id")
    return params


def _identity_values(secret: str | SecretStr, sign_mode: SignMode) -> Mapping[str, str]:
    value = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
    return {"Secret": value, "SignMode": sign_mode}


def _permission_key(
    instance_id: str, identity_type: IdentityType, identity: str, topic: str
) -> dict[str, str]:
    return {
        "InstanceId": instance_id,
        "IdentityType": identity_type,
        "Identity": identity,
        "Topic": topic,
    }
