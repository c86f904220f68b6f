"""Who may connect: the service's ClientId rules and its HMAC-of-ClientId passwords.

The username is ``MODE|KEY_ID|INSTANCE_ID`` and the password
``Base64(HMAC-SHA1(secret, ClientId))``. Each mode is a ``SecretLookup`` that finds the secret
of a key id: ``Signature`` looks up the emulator's AccessKeys, ``DeviceCredential`` the
credentials the 2020-04-20 ``RegisterDeviceCredential`` issued (bound to one ClientId on one
instance). More modes plug in with ``register_mode``. Checks only read the store: a refused
attempt never touches a session.

An account's AccessKey (``Signature``) opens only that account's instances: another account's
instance is refused as an unknown one, so a CONNECT cannot tell it exists.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass

from reconciler.emulator.mqtt.codec import ConnectReturnCode
from reconciler.emulator.store import EmulatorStore
from reconciler.models import client_id_problem, group_of_client_id

SIGNATURE_MODE = "Signature"
DEVICE_CREDENTIAL_MODE = "DeviceCredential"

# (key id, instance id, client id) -> the key's secret, or None when the key is unknown (or,
# for a mode binding keys to devices, not this device's).
SecretLookup = Callable[[str, str, str], str | None]


@dataclass(frozen=True)
class Admission:
    """A connection allowed in: where it belongs and how it proved it."""

    instance_id: str
    group_id: str
    client_id: str
    mode: str
    key_id: str


class Refused(Exception):
    """The CONNACK return code to answer with, and why (for the log; never a secret)."""

    def __init__(self, return_code: ConnectReturnCode, reason: str) -> None:
        self.return_code = return_code
        self.reason = reason
        super().__init__(reason)


def sign_client_id(secret: str, client_id: str) -> str:
    """The password a device sends: Base64(HMAC-SHA1(secret, ClientId))."""
    digest = hmac.new(secret.encode(), client_id.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


class DeviceAuthenticator:
    def __init__(self, store: EmulatorStore) -> None:
        self._store = store
        self._modes: dict[str, SecretLookup] = {
            SIGNATURE_MODE: lambda key_id, _instance, _client: store.account_secret(key_id),
            DEVICE_CREDENTIAL_MODE: store.device_credential_secret,
        }
        # Modes whose key is an account's AccessKey: the key must own the instance. (A device
        # credential is bound to its instance by its look-up.)
        self._account_modes = {SIGNATURE_MODE}

    def register_mode(self, mode: str, lookup: SecretLookup, *, account_key: bool = False) -> None:
        self._modes[mode] = lookup
        if account_key:
            self._account_modes.add(mode)

    def admit(self, client_id: str, username: str | None, password: bytes | None) -> Admission:
        """The admission of a CONNECT, or ``Refused`` saying why."""
        problem = client_id_problem(client_id)
        if problem is not None:
            raise Refused(ConnectReturnCode.IDENTIFIER_REJECTED, problem)
        if username is None or password is None:
            raise Refused(ConnectReturnCode.NOT_AUTHORIZED, "no username or password")
        parts = username.split("|")
        if len(parts) != 3 or not all(parts):
            raise Refused(
                ConnectReturnCode.NOT_AUTHORIZED, "username is not MODE|KEY_ID|INSTANCE_ID"
            )
        mode, key_id, instance_id = parts
        lookup = self._modes.get(mode)
        if lookup is None:
            supported = ", ".join(sorted(self._modes))
            raise Refused(
                ConnectReturnCode.NOT_AUTHORIZED,
                f"authentication mode {mode!r} is not supported (only {supported})",
            )
        secret = lookup(key_id, instance_id, client_id)
        if secret is None:
            scope = "" if mode == SIGNATURE_MODE else f" for {client_id} on {instance_id}"
            raise Refused(ConnectReturnCode.NOT_AUTHORIZED, f"unknown {mode} key {key_id}{scope}")
        expected = sign_client_id(secret, client_id).encode("ascii")
        if not hmac.compare_digest(expected, password):
            raise Refused(
                ConnectReturnCode.NOT_AUTHORIZED,
                f"the password is not the {mode} signature of the ClientId",
            )
        instance = (
            self._store.owned_instance(key_id, instance_id)
            if mode in self._account_modes
            else self._store.instance(instance_id)
        )
        if instance is None:
            raise Refused(ConnectReturnCode.NOT_AUTHORIZED, f"unknown instance {instance_id}")
        group_id = group_of_client_id(client_id)
        if self._store.group(instance_id, group_id) is None:
            raise Refused(
                ConnectReturnCode.NOT_AUTHORIZED,
                f"group {group_id} does not exist on instance {instance_id}",
            )
        return Admission(instance_id, group_id, client_id, mode, key_id)
