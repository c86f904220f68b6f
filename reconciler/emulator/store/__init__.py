"""The emulator's world in SQLite: accounts, instances and topics, GIDs, devices and their live
sessions, device credentials, custom authentication, history, RAM roles and OIDC providers,
the temporary credentials issued; one module per aggregate over one ``Database``.

Business rules (naming, regions, error codes) live in each API's actions; the store only keeps
rows and answers indexed look-ups, raising ValueError for seeding mistakes (an unknown
instance, a malformed client id).
"""

from __future__ import annotations

from reconciler.emulator.store.accounts import Accounts
from reconciler.emulator.store.credentials import DeviceCredentialRecord, DeviceCredentials
from reconciler.emulator.store.custom_auth import CustomAuth, IdentityRecord, PermissionRecord
from reconciler.emulator.store.devices import (
    DEFAULT_SOCKET,
    ClientRecord,
    Devices,
    Subscription,
)
from reconciler.emulator.store.groups import GroupColumns, GroupRecord, Groups
from reconciler.emulator.store.history import History, MessageCount, StatsPoint
from reconciler.emulator.store.instances import InstanceRecord, Instances
from reconciler.emulator.store.issued import IssuedCredentials, IssuedRecord
from reconciler.emulator.store.roles import OidcProviderRecord, RoleRecord, Roles, StsSettings
from reconciler.emulator.store.sessions import LiveSessions

__all__ = [
    "DEFAULT_SOCKET",
    "ClientRecord",
    "DeviceCredentialRecord",
    "EmulatorStore",
    "GroupColumns",
    "GroupRecord",
    "IdentityRecord",
    "InstanceRecord",
    "IssuedRecord",
    "MessageCount",
    "OidcProviderRecord",
    "PermissionRecord",
    "RoleRecord",
    "StatsPoint",
    "StsSettings",
    "Subscription",
]


class EmulatorStore(
    Accounts,
    Instances,
    Groups,
    Devices,
    LiveSessions,
    DeviceCredentials,
    CustomAuth,
    History,
    Roles,
    IssuedCredentials,
):
    """Every aggregate over one connection (see ``database``)."""
