"""Who may connect: the service's ClientId rules, its HMAC-of-ClientId passwords, custom
authentication and the connect blacklist.

The username is ``MODE|KEY_ID|INSTANCE_ID`` and the password
``Base64(HMAC-SHA1(secret, ClientId))``. Each mode is a ``SecretLookup`` that finds the secret
of a key id: ``Signature`` looks up the emulator's AccessKeys, ``DeviceCredential`` the
credentials the 2020-04-20 ``RegisterDeviceCredential`` issued (bound to one ClientId on one
instance). More modes plug in with ``register_mode``. Checks only read the store: a refused
attempt never touches a session.

A username without a mode prefix (``MODE_PREFIXES``) is a custom-auth identity's: the CLIENT
identity of that username and ClientId, else the USER identity of the username; its password is
the secret itself (ORIGIN) or Base64(HMAC-SHA1(secret, ClientId)) (SIGNED), and its ClientId may
be any client id (no GID needed). The service gives each instance its own endpoint; the
emulator serves every instance on one port, so the instance is the one holding an identity the
password proves (the first by instance id, should several). Such a connection carries the
identities whose permissions decide its PUBLISH and SUBSCRIBE (``Admission.identities``).

Whatever the mode, a ClientId on its instance's connect blacklist is refused (CONNACK 5).

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
from reconciler.emulator.store import EmulatorStore, IdentityRecord
from reconciler.models import (
    client_id_problem,
    custom_client_id_problem,
    group_of_client_id,
)

SIGNATURE_MODE = "Signature"
DEVICE_CREDENTIAL_MODE = "DeviceCredential"
CUSTOM_AUTH_MODE = "CustomAuth"
# A username starting with one of these names its mode; any other is a custom-auth identity's.
MODE_PREFIXES = ("Signature|", "Token|", "DeviceCredential|")

# (key id, instance id, client id) -> the key's secret, or None when the key is unknown (or,
# for a mode binding keys to devices, not this device's).
SecretLookup = Callable[[str, str, str], str | None]


@dataclass(frozen=True)
class Admission:
    """A connection allowed in: where it belongs and how it proved it."""

    instance_id: str
    group_id: str  # "" for a custom-auth ClientId that names no GID of the instance
    client_id: str
    mode: str
    key_id: str  # the username, for a custom-auth identity
    # Custom auth: the (IdentityType, Identity) pairs whose permissions apply; None: any other
    # mode, whose PUBLISH and SUBSCRIBE no permission limits.
    identities: tuple[tuple[str, str], ...] | None = None


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
        if username is not None and not username.startswith(MODE_PREFIXES):
            admission = self._custom_auth(client_id, username, password)
        else:
            admission = self._signed(client_id, username, password)
        if self._store.is_blacklisted(admission.instance_id, client_id):
            raise Refused(
                ConnectReturnCode.NOT_AUTHORIZED,
                f"{client_id} is on the connect blacklist of {admission.instance_id}",
            )
        return admission

    def _custom_auth(self, client_id: str, username: str, password: bytes | None) -> Admission:
        problem = custom_client_id_problem(client_id)
        if problem is not None:
            raise Refused(ConnectReturnCode.IDENTIFIER_REJECTED, problem)
        if password is None:
            raise Refused(ConnectReturnCode.NOT_AUTHORIZED, "no password")
        found = False
        for instance_id in self._store.instances_with_username(username):
            instance = self._store.instance(instance_id)
            identity = self._store.login_identity(instance_id, username, client_id)
            if instance is None or not instance.has_custom_auth or identity is None:
                continue
            found = True
            if _proves(identity, client_id, password):
                return Admission(
                    instance_id,
                    self._group_of(instance_id, client_id),
                    client_id,
                    CUSTOM_AUTH_MODE,
                    username,
                    identities=(("USER", username), ("CLIENT", client_id)),
                )
        if not found:
            raise Refused(
                ConnectReturnCode.NOT_AUTHORIZED,
                f"no custom-auth identity {username!r} for {client_id} on any instance",
            )
        raise Refused(
            ConnectReturnCode.NOT_AUTHORIZED,
            f"the password does not prove the custom-auth identity {username!r}",
        )

    def _group_of(self, instance_id: str, client_id: str) -> str:
        """The GID a custom-auth ClientId names, when it is one of the instance's; else ""."""
        if client_id_problem(client_id) is not None:
            return ""
        group_id = group_of_client_id(client_id)
        return group_id if self._store.group(instance_id, group_id) is not None else ""

    def _signed(self, client_id: str, username: str | None, password: bytes | None) -> Admission:
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


def _proves(identity: IdentityRecord, client_id: str, password: bytes) -> bool:
    """Whether the password is the identity's: its secret (ORIGIN) or the secret's HMAC of the
    ClientId (SIGNED)."""
    if identity.sign_mode == "SIGNED":
        expected = sign_client_id(identity.secret, client_id)
    else:
        expected = identity.secret
    return hmac.compare_digest(expected.encode("utf-8"), password)
