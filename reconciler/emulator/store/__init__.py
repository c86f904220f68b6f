"""The emulator's world in SQLite: accounts, instances and topics, GIDs, devices and their live
sessions, device credentials, custom authentication, history; one module per aggregate over one
``Database``.

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
from reconciler.emulator.store.groups import GroupRecord, Groups
from reconciler.emulator.store.history import History, MessageCount, StatsPoint
from reconciler.emulator.store.instances import InstanceRecord, Instances
from reconciler.emulator.store.sessions import LiveSessions

__all__ = [
    "DEFAULT_SOCKET",
    "ClientRecord",
    "DeviceCredentialRecord",
    "EmulatorStore",
    "GroupRecord",
    "IdentityRecord",
    "InstanceRecord",
    "MessageCount",
    "PermissionRecord",
    "StatsPoint",
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
):
    """Every aggregate over one connection (see ``database``)."""
