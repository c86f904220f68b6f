"""Pydantic models of the CustomAuth query answers of OnsMqtt 2020-04-20 (identities, topic
permissions, the connect blacklist), wire names kept as aliases, unknown fields ignored.

An identity's ``Secret`` is never modelled: whatever the service answers for it (in clear,
hashed or masked: undocumented) is dropped when the answer is read, so it cannot reach a log, a
plan or the state from here.
"""

from __future__ import annotations

from typing import Generic, Literal, TypeVar

from pydantic import Field, field_validator

from reconciler.cloud.responses import RequestIdResponse, WireModel

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


Item = TypeVar("Item", bound=WireModel)


class _Page(WireModel, Generic[Item]):
    next_token: str | None = Field(default=None, alias="NextToken")
    results: list[Item] = Field(default_factory=list, alias="Results")


class IdentityPage(RequestIdResponse):
    data: _Page[AuthIdentity] = Field(default_factory=_Page[AuthIdentity], alias="Data")


class PermissionPage(RequestIdResponse):
    data: _Page[AuthPermission] = Field(default_factory=_Page[AuthPermission], alias="Data")


class BlacklistPage(RequestIdResponse):
    data: _Page[BlacklistEntry] = Field(default_factory=_Page[BlacklistEntry], alias="Data")
