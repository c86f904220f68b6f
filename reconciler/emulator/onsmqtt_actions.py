"""The OnsMqtt 2020-04-20 actions over the same store as the ONS ones: the same instances, GIDs
and devices, seen through the newer API.

``OnsMqttActions.handlers`` maps each action name to its handler; a handler takes the request's
parameters and the calling account (its AccessKeyId) and returns the success body without
``RequestId`` (the server adds it), or raises ``ApiError`` with the code and HTTP status the
service documents. A call sees only its account's instances: another account's instance is
``InstanceNotFound``, as a missing one is. More actions of this product
are added by adding entries there.

Where the service documents nothing, the emulator picks a plausible answer, marked as such:
DeleteGroupId of a GID that does not exist answers ``ParameterFieldCheckFailed`` (no
"not found" code is documented); tags in either wire form, refused as ``InvalidParameter.Tags``
(``group_tags``); Get/Refresh/UnRegisterDeviceCredential of a device without a
credential answer ``DeviceCredentialNotFound`` (400); ListInstances invents status, type,
kernel and dates. The CustomAuth actions are ``custom_auth_actions``'.
"""

from __future__ import annotations

import re
import secrets
import string
import zlib
from collections.abc import Callable, Mapping
from typing import Any

from reconciler.emulator.custom_auth_actions import CUSTOM_AUTH_ACTIONS, CustomAuthActions
from reconciler.emulator.group_listing import listing_records
from reconciler.emulator.group_tags import requested_tags
from reconciler.emulator.protocol import ApiError, optional, required
from reconciler.emulator.store import (
    DeviceCredentialRecord,
    EmulatorStore,
    InstanceRecord,
)
from reconciler.models import GROUP_ID_RE, GROUP_ID_RULE, client_id_problem
from reconciler.ratelimit import Rate

VERSION = "2020-04-20"
SERVICE = "onsmqtt"
GROUP_ACTIONS = ("CreateGroupId", "DeleteGroupId", "ListGroupId")
SESSION_ACTIONS = ("QuerySessionByClientId", "BatchQuerySessionByClientIds")
CREDENTIAL_ACTIONS = (
    "RegisterDeviceCredential",
    "GetDeviceCredential",
    "RefreshDeviceCredential",
    "UnRegisterDeviceCredential",
)
# Every action served (the keys of OnsMqttActions.handlers), for option checking.
ALL_ACTIONS = (
    *GROUP_ACTIONS,
    *SESSION_ACTIONS,
    "ListInstances",
    *CREDENTIAL_ACTIONS,
    *CUSTOM_AUTH_ACTIONS,
)
# The documented limits per account (calls a second).
DEFAULT_THROTTLES: dict[str, Rate] = {
    **{action: Rate(10, 1.0) for action in GROUP_ACTIONS},
    "QuerySessionByClientId": Rate(500, 1.0),
    "BatchQuerySessionByClientIds": Rate(100, 1.0),
    **{action: Rate(500, 1.0) for action in CREDENTIAL_ACTIONS},
}
MAX_BATCH_CLIENT_IDS = 10
# ListInstances fields nothing in the store records: a running Professional instance on a
# 3.x kernel, bought at the start of 2023 for ten years.
INSTANCE_RUNNING = 5
INSTANCE_TYPE = 2
KERNEL_VERSION = "V3.3.0"
INSTANCE_CREATE_TIME = 1_672_531_200_000
INSTANCE_EXPIRE_TIME = 1_988_150_400_000
_LIST_ITEM = re.compile(r"^ClientIdList\.([1-9][0-9]*)$")
# Device keys look like the service's: ``DC.`` and 22 letters or digits.
_KEY_ALPHABET = string.ascii_letters + string.digits
_KEY_LENGTH = 22

Params = Mapping[str, str]
Body = dict[str, Any]
Handler = Callable[[Params, str], Body]


def throttled(action: str, rate: Rate, wait: float) -> ApiError:
    """The answer to a call over the account's limit, with ``x-acs-retry-after`` in ms (what
    the Tea SDK reads). The group actions hit the gateway's flow control; the session look-ups
    answer the product's own ``SystemOverFlow`` (500), as their error lists say."""
    headers = {"x-acs-retry-after": str(max(1, round(wait * 1000)))}
    if action in SESSION_ACTIONS:
        return ApiError(
            500,
            "SystemOverFlow",
            f"The system is overloaded: {action} is limited to {rate} per account.",
            headers=headers,
        )
    return ApiError(
        400,
        "Throttling.User",
        f"Request was denied due to user flow control ({action}: {rate} per account).",
        headers=headers,
    )


def _missing(name: str) -> ApiError:
    # The gateway's shape for this product: Missing<Param>.
    return ApiError(400, f"Missing{name}", f"{name} is mandatory for this action.")


def _req(params: Params, name: str) -> str:
    return required(params, name, _missing)


def _check_group_id(group_id: str) -> None:
    if not GROUP_ID_RE.match(group_id):
        raise ApiError(
            400,
            "ParameterFieldCheckFailed",
            f"GroupId {group_id} is invalid: it {GROUP_ID_RULE}.",
        )


def _check_client_id(client_id: str) -> None:
    problem = client_id_problem(client_id)
    if problem is not None:
        raise ApiError(400, "ParameterCheckFailed", f"The ClientId is invalid: {problem}.")


class OnsMqttActions:
    def __init__(self, store: EmulatorStore) -> None:
        self.store = store
        self.handlers: dict[str, Handler] = {
            "CreateGroupId": self.create_group_id,
            "DeleteGroupId": self.delete_group_id,
            "ListGroupId": self.list_group_id,
            "QuerySessionByClientId": self.query_session_by_client_id,
            "BatchQuerySessionByClientIds": self.batch_query_session_by_client_ids,
            "ListInstances": self.list_instances,
            "RegisterDeviceCredential": self.register_device_credential,
            "GetDeviceCredential": self.get_device_credential,
            "RefreshDeviceCredential": self.refresh_device_credential,
            "UnRegisterDeviceCredential": self.unregister_device_credential,
            **CustomAuthActions(store, self._instance).handlers,
        }

    def _instance(self, params: Params, account: str) -> InstanceRecord:
        """The account's instance named by ``InstanceId`` (required by every action but
        ListInstances); a ``RegionId`` that is not the instance's means that region's endpoint
        was asked."""
        instance_id = _req(params, "InstanceId")
        instance = self.store.owned_instance(account, instance_id)
        region = optional(params, "RegionId")
        if instance is None or (region is not None and region != instance.region):
            raise ApiError(400, "InstanceNotFound", f"The instance {instance_id} does not exist.")
        return instance

    # --- groups ---------------------------------------------------------------------------

    def create_group_id(self, params: Params, account: str) -> Body:
        group_id = _req(params, "GroupId")
        instance = self._instance(params, account)
        _check_group_id(group_id)
        tags = requested_tags(params)
        with self.store.transaction() as db:
            if not instance.independent_naming:
                taken = self.store.shared_namespace_holder(db, instance.instance_id, group_id)
                if taken is not None:
                    raise ApiError(
                        400,
                        "GroupIdAlreadyUsedByOtherUsers",
                        f"The group ID {group_id} is already used by other users.",
                    )
            if not self.store.insert_group(db, instance.instance_id, group_id, None, tags=tags):
                raise ApiError(
                    400, "GroupIdAlreadyExsited", f"The group ID {group_id} already exists."
                )
        return {}

    def delete_group_id(self, params: Params, account: str) -> Body:
        group_id = _req(params, "GroupId")
        instance = self._instance(params, account)
        _check_group_id(group_id)
        with self.store.transaction() as db:
            if not self.store.delete_group(db, instance.instance_id, group_id):
                raise ApiError(
                    400,
                    "ParameterFieldCheckFailed",
                    f"The group ID {group_id} does not exist in {instance.instance_id}.",
                )
        return {}

    def list_group_id(self, params: Params, account: str) -> Body:
        instance = self._instance(params, account)
        # ``Tags`` here is a filter: the GIDs holding every tag it names.
        wanted = set(requested_tags(params))
        columns = self.store.group_columns([instance.instance_id])
        if wanted:
            columns = columns.rows(
                [n for n, tags in enumerate(columns.tags) if wanted <= set(tags)]
            )
        naming = {instance.instance_id: instance.independent_naming}
        return {"Data": listing_records(columns, naming, with_tags=True)}

    # --- sessions -------------------------------------------------------------------------

    def _online(self, instance: InstanceRecord, client_id: str) -> bool:
        """Live MQTT sessions and the fixture's online devices alike."""
        _check_client_id(client_id)
        return self.store.client_online(instance.instance_id, client_id)

    def query_session_by_client_id(self, params: Params, account: str) -> Body:
        client_id = _req(params, "ClientId")
        instance = self._instance(params, account)
        return {"OnlineStatus": self._online(instance, client_id)}

    def batch_query_session_by_client_ids(self, params: Params, account: str) -> Body:
        numbered = sorted(
            (int(match.group(1)), value)
            for name, value in params.items()
            if (match := _LIST_ITEM.match(name)) and value.strip()
        )
        if not numbered:
            raise _missing("ClientIdList")
        if len(numbered) > MAX_BATCH_CLIENT_IDS:
            raise ApiError(
                400,
                "ParameterCheckFailed",
                f"ClientIdList takes at most {MAX_BATCH_CLIENT_IDS} client IDs,"
                f" not {len(numbered)}.",
            )
        instance = self._instance(params, account)
        statuses = [
            {"ClientId": client_id, "OnlineStatus": self._online(instance, client_id)}
            for _, client_id in numbered
        ]
        return {"OnlineStatusList": statuses}

    # --- device credentials ---------------------------------------------------------------

    def _device(self, params: Params, account: str) -> tuple[InstanceRecord, str]:
        client_id = _req(params, "ClientId")
        instance = self._instance(params, account)
        _check_client_id(client_id)
        return instance, client_id

    def _registered(self, params: Params, account: str) -> DeviceCredentialRecord:
        instance, client_id = self._device(params, account)
        found = self.store.device_credential(instance.instance_id, client_id)
        if found is None:
            raise _not_registered(instance, client_id)
        return found

    def register_device_credential(self, params: Params, account: str) -> Body:
        """Issue the device's credential; asked again, a new one replaces it (a device holds
        one credential, the last issued)."""
        instance, client_id = self._device(params, account)
        issued = self.store.put_device_credential(
            instance.instance_id, client_id, _new_key(), _new_key()
        )
        return _credential_body(issued)

    def get_device_credential(self, params: Params, account: str) -> Body:
        return _credential_body(self._registered(params, account))

    def refresh_device_credential(self, params: Params, account: str) -> Body:
        """A new secret for the same key id; connects signed with the old one are refused."""
        instance, client_id = self._device(params, account)
        refreshed = self.store.replace_device_secret(instance.instance_id, client_id, _new_key())
        if refreshed is None:
            raise _not_registered(instance, client_id)
        return _credential_body(refreshed)

    def unregister_device_credential(self, params: Params, account: str) -> Body:
        """Delete the credential: new connects with it are refused; live sessions stay."""
        instance, client_id = self._device(params, account)
        if not self.store.remove_device_credential(instance.instance_id, client_id):
            raise _not_registered(instance, client_id)
        return {}

    # --- instances ------------------------------------------------------------------------

    def list_instances(self, params: Params, account: str) -> Body:
        """The account's instances (of the region, when ``RegionId`` says one)."""
        region = optional(params, "RegionId")
        instances = [
            {
                "InstanceId": inst.instance_id,
                "InstanceName": inst.instance_id,
                "InstanceStatus": INSTANCE_RUNNING,
                "InstanceType": INSTANCE_TYPE,
                "KernelVersion": KERNEL_VERSION,
                "RegionId": inst.region,
                "CreateTime": INSTANCE_CREATE_TIME,
                "ExpireTime": INSTANCE_EXPIRE_TIME,
                "OrderId": f"2023{zlib.crc32(inst.instance_id.encode()):011d}",
                "Specific": "",
                "MqttTags": [],
            }
            for inst in self.store.owned_instances(account)
            if region is None or inst.region == region
        ]
        return {
            "Code": "200",
            "Success": "true",
            "Message": "operation success.",
            "Instances": instances,
        }


def _new_key() -> str:
    return "DC." + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(_KEY_LENGTH))


def _not_registered(instance: InstanceRecord, client_id: str) -> ApiError:
    return ApiError(
        400,
        "DeviceCredentialNotFound",
        f"The device {client_id} has no access credential in {instance.instance_id}.",
    )


def _credential_body(record: DeviceCredentialRecord) -> Body:
    return {
        "DeviceCredential": {
            "ClientId": record.client_id,
            "InstanceId": record.instance_id,
            "DeviceAccessKeyId": record.access_key_id,
            "DeviceAccessKeySecret": record.access_key_secret,
            "CreateTime": record.create_time,
            "UpdateTime": record.update_time,
        }
    }
