"""The 11 CustomAuth actions of OnsMqtt 2020-04-20: identities, topic permissions and the
connect blacklist of an instance (``OnsMqttActions`` serves them beside its own).

Documented: Add/Update/Delete are form POSTs, Query* GETs (the server takes either); answers
carry ``Code`` (200), ``Success`` and ``Message``, queries ``Data{NextToken, Results}``; ``Size``
is 1-100; ``InvalidParameter.<Field>``, ``Customauth.over.capacity``, only Professional and
Platinum editions have the feature; identities, and permissions plus blacklist entries
together, may not exceed the instance's capacity.

Chosen where the service documents nothing (README, "Custom authentication in the emulator"):
an edition without the feature answers 404 ``ApiNotSupport``; an Add of an existing key and an
Update or Delete of a missing one answer 400 ``InvalidParameter`` saying so; an Add of an
identity past the capacity answers ``Customauth.over.capacity`` too; ``ClientId`` is refused for
a USER identity; a username may not start with a prefix the listener reads as another mode
(``Signature|``...); a permission's topic is an MQTT filter whose parent topic exists on the
instance; ``PermitAction`` takes PUB, SUB and PUB_SUB; ``NextToken`` is an opaque bookmark
(the last key of the page), blank on the last page; the identity query answers ``Secret``
masked; a blacklist row answers ``Effect`` DENY and ``PermitAction`` PUB_SUB.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from reconciler.emulator.mqtt.auth import MODE_PREFIXES
from reconciler.emulator.mqtt.topics import check_topic_filter, malformed_topic_filter, parent_of
from reconciler.emulator.protocol import ApiError, optional, required
from reconciler.emulator.store import (
    EmulatorStore,
    IdentityRecord,
    InstanceRecord,
    PermissionRecord,
)
from reconciler.emulator.store.custom_auth import PageKey
from reconciler.models import custom_client_id_problem

IDENTITY_ACTIONS = (
    "AddCustomAuthIdentity",
    "UpdateCustomAuthIdentity",
    "DeleteCustomAuthIdentity",
    "QueryCustomAuthIdentity",
)
PERMISSION_ACTIONS = (
    "AddCustomAuthPermission",
    "UpdateCustomAuthPermission",
    "DeleteCustomAuthPermission",
    "QueryCustomAuthPermission",
)
BLACKLIST_ACTIONS = (
    "AddCustomAuthConnectBlack",
    "DeleteCustomAuthConnectBlack",
    "QueryCustomAuthConnectBlack",
)
CUSTOM_AUTH_ACTIONS = (*IDENTITY_ACTIONS, *PERMISSION_ACTIONS, *BLACKLIST_ACTIONS)

IDENTITY_TYPES = ("USER", "CLIENT")
SIGN_MODES = ("ORIGIN", "SIGNED")
EFFECTS = ("ALLOW", "DENY")
PERMIT_ACTIONS = ("PUB", "SUB", "PUB_SUB")
MAX_PAGE_SIZE = 100
MAX_USERNAME_LENGTH = 64
# What the identity query answers in place of a secret.
MASKED_SECRET = "******"  # noqa: S105 (a mask, no secret)
NOT_SUPPORTED_MESSAGE = (
    "The instance {instance} is of the {edition} edition, which does not support custom"
    " authentication (Professional and Platinum editions do)."
)

# Each query's filter parameters and the store columns they filter.
_IDENTITY_FILTERS = {
    "IdentityType": "identity_type",
    "Username": "username",
    "ClientId": "client_id",
}

Params = Mapping[str, str]
Body = dict[str, Any]
Handler = Callable[[Params, str], Body]
InstanceOf = Callable[[Params, str], InstanceRecord]


def _invalid(field: str, message: str) -> ApiError:
    return ApiError(400, f"InvalidParameter.{field}", message)


def _missing(name: str) -> ApiError:
    # The gateway's shape for this product: Missing<Param>.
    return ApiError(400, f"Missing{name}", f"{name} is mandatory for this action.")


def _req(params: Params, name: str) -> str:
    return required(params, name, _missing)


def _one_of(params: Params, name: str, allowed: Sequence[str]) -> str:
    value = _req(params, name)
    if value not in allowed:
        raise _invalid(name, f"{name} must be one of {', '.join(allowed)}, not {value!r}.")
    return value


def _success(**extra: Any) -> Body:
    return {"Code": 200, "Success": True, "Message": "operation success.", **extra}


def _exists(what: str) -> ApiError:
    return ApiError(400, "InvalidParameter", f"The {what} already exists.")


def _absent(what: str) -> ApiError:
    return ApiError(400, "InvalidParameter", f"The {what} does not exist.")


def _over_capacity(instance: InstanceRecord) -> ApiError:
    return ApiError(
        400,
        "Customauth.over.capacity",
        f"Over custom auth capacity ({instance.custom_auth_capacity}).",
    )


def _client_id(value: str, field: str = "ClientId") -> str:
    problem = custom_client_id_problem(value)
    if problem is not None:
        raise _invalid(field, f"The {field} is invalid: {problem}.")
    return value


def _username(value: str, field: str = "Username") -> str:
    if len(value) > MAX_USERNAME_LENGTH:
        raise _invalid(field, f"{field} is longer than {MAX_USERNAME_LENGTH} characters.")
    if value.startswith(MODE_PREFIXES):
        # The MQTT listener would read such a username as another authentication mode.
        raise _invalid(field, f"{field} must not start with {' or '.join(MODE_PREFIXES)}.")
    return value


def _identity_key(params: Params) -> tuple[str, str, str]:
    """(IdentityType, Username, ClientId or "" for USER), checked."""
    identity_type = _one_of(params, "IdentityType", IDENTITY_TYPES)
    username = _username(_req(params, "Username"))
    client_id = optional(params, "ClientId")
    if identity_type == "USER":
        if client_id is not None:
            raise _invalid("ClientId", "ClientId is only for an identity of type CLIENT.")
        return identity_type, username, ""
    if client_id is None:
        raise _missing("ClientId")
    return identity_type, username, _client_id(client_id)


def _identity_words(key: PageKey) -> str:
    identity_type, username, client_id = key
    suffix = f" and client {client_id}" if client_id else ""
    return f"{identity_type} identity of username {username}{suffix}"


class CustomAuthActions:
    """The handlers; ``instance_of`` is the product's look-up of the caller's instance (its
    own errors for a missing or foreign one)."""

    def __init__(self, store: EmulatorStore, instance_of: InstanceOf) -> None:
        self.store = store
        self._instance_of = instance_of
        self.handlers: dict[str, Handler] = {
            "AddCustomAuthIdentity": self.add_identity,
            "UpdateCustomAuthIdentity": self.update_identity,
            "DeleteCustomAuthIdentity": self.delete_identity,
            "QueryCustomAuthIdentity": self.query_identities,
            "AddCustomAuthPermission": self.add_permission,
            "UpdateCustomAuthPermission": self.update_permission,
            "DeleteCustomAuthPermission": self.delete_permission,
            "QueryCustomAuthPermission": self.query_permissions,
            "AddCustomAuthConnectBlack": self.add_blacklisted,
            "DeleteCustomAuthConnectBlack": self.delete_blacklisted,
            "QueryCustomAuthConnectBlack": self.query_blacklist,
        }

    def _instance(self, params: Params, account: str) -> InstanceRecord:
        instance = self._instance_of(params, account)
        if not instance.has_custom_auth:
            message = NOT_SUPPORTED_MESSAGE.format(
                instance=instance.instance_id, edition=instance.edition
            )
            raise ApiError(404, "ApiNotSupport", message)
        return instance

    # --- identities -------------------------------------------------------------------------

    def _identity(self, params: Params, account: str) -> tuple[InstanceRecord, IdentityRecord]:
        instance = self._instance(params, account)
        identity_type, username, client_id = _identity_key(params)
        secret = _req(params, "Secret")
        sign_mode = _one_of(params, "SignMode", SIGN_MODES)
        record = IdentityRecord(
            instance.instance_id, identity_type, username, client_id, secret, sign_mode
        )
        return instance, record

    def add_identity(self, params: Params, account: str) -> Body:
        instance, record = self._identity(params, account)
        with self.store.transaction() as db:
            if self.store.identity_count(db, instance.instance_id) >= (
                instance.custom_auth_capacity
            ):
                raise _over_capacity(instance)
            if not self.store.insert_identity(db, record):
                raise _exists(_identity_words(record.key))
        return _success()

    def update_identity(self, params: Params, account: str) -> Body:
        _, record = self._identity(params, account)
        with self.store.transaction() as db:
            if not self.store.update_identity(db, record):
                raise _absent(_identity_words(record.key))
        return _success()

    def delete_identity(self, params: Params, account: str) -> Body:
        instance = self._instance(params, account)
        key = _identity_key(params)
        with self.store.transaction() as db:
            if not self.store.delete_identity(db, instance.instance_id, key):
                raise _absent(_identity_words(key))
        return _success()

    def query_identities(self, params: Params, account: str) -> Body:
        instance = self._instance(params, account)
        size, after = _page_request(params, key_length=3)
        filters = _filters(params, _IDENTITY_FILTERS)
        rows = self.store.identities_page(
            instance.instance_id, after=after, size=size + 1, filters=filters
        )
        results = [
            {
                "IdentityType": row.identity_type,
                "Username": row.username,
                "ClientId": row.client_id or None,
                "SignMode": row.sign_mode,
                "Secret": MASKED_SECRET,
            }
            for row in rows[:size]
        ]
        return _success(Data=_page(results, [row.key for row in rows], size))

    # --- permissions ------------------------------------------------------------------------

    def _permission(self, params: Params, account: str) -> tuple[InstanceRecord, PermissionRecord]:
        instance = self._instance(params, account)
        identity_type, identity, topic = _permission_key(params)
        if not self.store.has_topic(instance.instance_id, parent_of(topic)):
            raise _invalid(
                "Topic",
                f"The parent topic {parent_of(topic)} of {topic} does not exist on"
                f" {instance.instance_id}.",
            )
        effect = _one_of(params, "Effect", EFFECTS)
        permit_action = _one_of(params, "PermitAction", PERMIT_ACTIONS)
        record = PermissionRecord(
            instance.instance_id, identity_type, identity, topic, effect, permit_action
        )
        return instance, record

    def add_permission(self, params: Params, account: str) -> Body:
        instance, record = self._permission(params, account)
        with self.store.transaction() as db:
            if self.store.rule_count(db, instance.instance_id) >= instance.custom_auth_capacity:
                raise _over_capacity(instance)
            if not self.store.insert_permission(db, record):
                raise _exists(_permission_words(record.key))
        return _success()

    def update_permission(self, params: Params, account: str) -> Body:
        _, record = self._permission(params, account)
        with self.store.transaction() as db:
            if not self.store.update_permission(db, record):
                raise _absent(_permission_words(record.key))
        return _success()

    def delete_permission(self, params: Params, account: str) -> Body:
        instance = self._instance(params, account)
        key = _permission_key(params)
        with self.store.transaction() as db:
            if not self.store.delete_permission(db, instance.instance_id, key):
                raise _absent(_permission_words(key))
        return _success()

    def query_permissions(self, params: Params, account: str) -> Body:
        instance = self._instance(params, account)
        size, after = _page_request(params, key_length=3)
        filters = _filters(
            params, {"IdentityType": "identity_type", "Identity": "identity", "Topic": "topic"}
        )
        rows = self.store.permissions_page(
            instance.instance_id, after=after, size=size + 1, filters=filters
        )
        results = [
            {
                "IdentityType": row.identity_type,
                "Identity": row.identity,
                "Topic": row.topic,
                "Effect": row.effect,
                "PermitAction": row.permit_action,
            }
            for row in rows[:size]
        ]
        return _success(Data=_page(results, [row.key for row in rows], size))

    # --- the connect blacklist --------------------------------------------------------------

    def add_blacklisted(self, params: Params, account: str) -> Body:
        instance = self._instance(params, account)
        client_id = _client_id(_req(params, "ClientId"))
        with self.store.transaction() as db:
            if self.store.rule_count(db, instance.instance_id) >= instance.custom_auth_capacity:
                raise _over_capacity(instance)
            if not self.store.insert_blacklisted(db, instance.instance_id, client_id):
                raise _exists(f"blacklist entry of client {client_id}")
        self.store.announce_blacklisted(instance.instance_id, client_id)
        return _success()

    def delete_blacklisted(self, params: Params, account: str) -> Body:
        instance = self._instance(params, account)
        client_id = _client_id(_req(params, "ClientId"))
        with self.store.transaction() as db:
            if not self.store.delete_blacklisted(db, instance.instance_id, client_id):
                raise _absent(f"blacklist entry of client {client_id}")
        return _success()

    def query_blacklist(self, params: Params, account: str) -> Body:
        instance = self._instance(params, account)
        size, after = _page_request(params, key_length=1)
        filters = _filters(params, {"ClientId": "client_id"})
        rows = self.store.blacklist_page(
            instance.instance_id, after=after, size=size + 1, filters=filters
        )
        results = [
            {"ClientId": client_id, "Effect": "DENY", "PermitAction": "PUB_SUB"}
            for client_id in rows[:size]
        ]
        return _success(Data=_page(results, [(client_id,) for client_id in rows], size))


def _permission_key(params: Params) -> PageKey:
    """(IdentityType, Identity, Topic), checked; the parent topic is not looked up."""
    identity_type = _one_of(params, "IdentityType", IDENTITY_TYPES)
    identity = _req(params, "Identity")
    if identity_type == "USER":
        _username(identity, "Identity")
    else:
        _client_id(identity, "Identity")
    topic = _req(params, "Topic")
    problem = malformed_topic_filter(topic) or check_topic_filter(topic)
    if problem is not None:
        raise _invalid("Topic", f"Topic {topic!r} is invalid: {problem}.")
    return identity_type, identity, topic


def _permission_words(key: PageKey) -> str:
    identity_type, identity, topic = key
    return f"permission of {identity_type} {identity} on {topic}"


def _filters(params: Params, columns: Mapping[str, str]) -> dict[str, str]:
    """The query's filter parameters that are set, by the store's column names."""
    return {
        column: value
        for name, column in columns.items()
        if (value := optional(params, name)) is not None
    }


def _page_request(params: Params, *, key_length: int) -> tuple[int, PageKey | None]:
    """``Size`` (1-100) and the bookmark ``NextToken`` carries (None: the first page)."""
    text = _req(params, "Size")
    try:
        size = int(text)
    except ValueError:
        size = 0
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise _invalid("Size", f"Size must be an integer from 1 to {MAX_PAGE_SIZE}, not {text!r}.")
    token = optional(params, "NextToken")
    if token is None:
        return size, None
    try:
        key = json.loads(base64.urlsafe_b64decode(token.encode("ascii")))
    except (ValueError, binascii.Error, UnicodeEncodeError):
        key = None
    if (
        not isinstance(key, list)
        or len(key) != key_length
        or not all(isinstance(part, str) for part in key)
    ):
        raise _invalid("NextToken", "NextToken is not a token this query returned.")
    return size, tuple(key)


def _page(results: list[Body], keys: Sequence[PageKey], size: int) -> Body:
    """``Data`` of a query: the page, and a token for the next one when more rows follow
    (``keys`` holds one more row than the page when they do)."""
    more = len(keys) > size
    token = _token(keys[size - 1]) if more else ""
    return {"NextToken": token, "Results": results}


def _token(key: PageKey) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode("utf-8")).decode("ascii")
