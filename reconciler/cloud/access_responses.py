"""Pydantic models of the CustomAuth query answers of OnsMqtt 2020-04-20 (identities, topic
permissions, the connect blacklist), wire names kept as aliases, unknown fields ignored.

An identity's ``Secret`` is never modelled: whatever the service answers for it (in clear,
hashed or masked: undocumented) is dropped when the answer is read, so it cannot reach a log, a
plan or the state from here.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from reconciler.cloud.responses import RequestIdResponse, WireModel
from reconciler.models import empty_list

IdentityType = Literal["USER", "CLIENT"]
SignMode = Literal["SIGNED", "ORIGIN"]
Effect = Literal["ALLOW", "DENY"]
PermitAction = Literal["PUB", "SUB", "PUB_SUB"]


class AuthIdentity(WireModel):
    """One identity of ``QueryCustomAuthIdentity``."""

    identity_type: IdentityType = Field(alias="IdentityType")
    username: str = Field(alias="Username")
    client_id: str | None = Field(default=None, alias="ClientId")  # CLIENT only
    sign_mode: SignMode | None = Field(default=None, alias="SignMode")  # None: not answered

    @field_validator("client_id", "sign_mode", mode="before")
    @classmethod
    def blank_is_absent(cls, value: object) -> object:
        return None if value == "" else value


class AuthPermission(WireModel):
    """One permission of ``QueryCustomAuthPermission``."""

    identity_type: IdentityType = Field(alias="IdentityType")
    identity: str = Field(alias="Identity")  # a username (USER) or a client id (CLIENT)
    topic: str = Field(alias="Topic")
    effect: Effect = Field(alias="Effect")
    permit_action: PermitAction = Field(alias="PermitAction")


class BlacklistEntry(WireModel):
    """One entry of ``QueryCustomAuthConnectBlack``."""

    client_id: str = Field(alias="ClientId")


# One ``Data`` model per query (not a generic one: a parametrised pydantic generic is built
# when its module is imported, and a plan that lists only GIDs must not pay for that).


class _PageData(WireModel):
    next_token: str | None = Field(default=None, alias="NextToken")


class IdentityData(_PageData):
    results: list[AuthIdentity] = Field(default_factory=empty_list, alias="Results")


class PermissionData(_PageData):
    results: list[AuthPermission] = Field(default_factory=empty_list, alias="Results")


class BlacklistData(_PageData):
    results: list[BlacklistEntry] = Field(default_factory=empty_list, alias="Results")


class IdentityPage(RequestIdResponse):
    data: IdentityData = Field(default_factory=IdentityData, alias="Data")


class PermissionPage(RequestIdResponse):
    data: PermissionData = Field(default_factory=PermissionData, alias="Data")


class BlacklistPage(RequestIdResponse):
    data: BlacklistData = Field(default_factory=BlacklistData, alias="Data")
