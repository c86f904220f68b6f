"""STS 2015-04-01 as the credential chains use it: ``AssumeRole`` (signed with a key, or with
temporary credentials: role chaining) and ``AssumeRoleWithOIDC`` (anonymous: the OIDC token is
the proof). Both answer ``Credentials`` (an ``STS.`` key, secret, token and ``Expiration``) and
``AssumedRoleUser``; the credentials act for the role's account on every MQTT action.

Who may assume a role: its own account, the accounts its ``trusted_accounts`` name, and with
OIDC the providers of its account its ``oidc_providers`` name. A role that sets
``external_id`` requires AssumeRole to send it (the confused-deputy guard of a trust policy's
``sts:ExternalId`` condition): missing or different is ``NoPermission``, as a trust policy's
failed condition is. ``Policy`` is checked for grammar and size and otherwise accepted: the
emulator grants every action to every account's credentials, so a session policy narrows
nothing here.

Codes and statuses are the documented ones (AssumeRole's table; AssumeRoleWithOIDC's codes as
STS returns them, statuses as AssumeRoleWithSAML documents the same failures):
``MissingParameter.<Name>`` 400, ``InvalidParameter.RoleArn|RoleSessionName|DurationSeconds|
ExternalId|PolicyGrammar|PolicySize|OIDCProviderArn`` 400, ``NoPermission`` 403,
``EntityNotExist.Role`` 404, ``AuthenticationFail.NoPermission`` 403 (no such OIDC provider, or
the role does not trust it), ``AuthenticationFail.OIDCToken.*`` 401 (``oidc``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from reconciler.emulator import oidc
from reconciler.emulator.issuing import DEFAULT_DURATION_SECONDS, CredentialIssuer, expiration_text
from reconciler.emulator.protocol import ApiError, optional, required
from reconciler.emulator.store import (
    EmulatorStore,
    IssuedRecord,
    OidcProviderRecord,
    RoleRecord,
)
from reconciler.emulator.store.roles import parse_oidc_provider_arn, parse_role_arn
from reconciler.ratelimit import Rate

VERSION = "2015-04-01"
SERVICE = "sts"
ASSUME_ROLE = "AssumeRole"
ASSUME_ROLE_WITH_OIDC = "AssumeRoleWithOIDC"
ALL_ACTIONS = (ASSUME_ROLE, ASSUME_ROLE_WITH_OIDC)
# Answered without a signature: the token is the caller's proof.
ANONYMOUS_ACTIONS = frozenset({ASSUME_ROLE_WITH_OIDC})
MIN_DURATION_SECONDS = 900
MAX_SESSION_SECONDS = 43_200  # the largest MaxSessionDuration a role can have
MAX_POLICY_LENGTH = 2048
_SESSION_NAME = re.compile(r"^[A-Za-z0-9.@_-]{2,64}$")
_EXTERNAL_ID = re.compile(r"^[\w+=,.@:/-]{2,1224}$")
_NOT_AUTHORIZED = "You are not authorized to do this action. You should be authorized by RAM."

Handler = Callable[[Mapping[str, str], str], dict[str, Any]]


def _missing(name: str) -> ApiError:
    return ApiError(400, f"MissingParameter.{name}", f"Parameter {name} is required.")


def _wrongly_formed(name: str) -> ApiError:
    return ApiError(400, f"InvalidParameter.{name}", f"The parameter {name} is wrongly formed.")


def throttled(action: str, rate: Rate, wait: float) -> ApiError:
    """STS's flow control (no limit is set by default; ``--throttle`` can set one)."""
    return ApiError(
        400,
        "Throttling.User",
        f"Request was denied due to user flow control: {action} is limited to {rate}.",
        headers={"x-acs-retry-after": str(max(1, round(wait * 1000)))},
    )


def _hours(seconds: int) -> str:
    return f"{seconds // 3600}hr" if seconds % 3600 == 0 else f"{seconds}s"


class StsActions:
    def __init__(self, store: EmulatorStore, issuer: CredentialIssuer) -> None:
        self._store = store
        self._issuer = issuer
        self.handlers: dict[str, Handler] = {
            ASSUME_ROLE: self.assume_role,
            ASSUME_ROLE_WITH_OIDC: self.assume_role_with_oidc,
        }

    def assume_role(self, params: Mapping[str, str], access_key_id: str) -> dict[str, Any]:
        """The caller (its account, from the key that signed) assumes ``RoleArn``."""
        role_arn = required(params, "RoleArn", _missing)
        session_name = self._session_name(params)
        requested = self._requested_duration(params)
        _check_policy(params)
        external_id = optional(params, "ExternalId")
        if external_id is not None and not _EXTERNAL_ID.match(external_id):
            raise _wrongly_formed("ExternalId")
        role = self._role(role_arn)
        duration = _within_role(requested, role)
        caller = self._store.account_id(access_key_id)
        if caller != role.account_id and caller not in role.trusted_accounts:
            raise ApiError(403, "NoPermission", _NOT_AUTHORIZED)
        if role.external_id is not None and external_id != role.external_id:
            raise ApiError(403, "NoPermission", _NOT_AUTHORIZED)
        issued = self._issuer.issue(
            role, session_name=session_name, duration_seconds=duration, source=ASSUME_ROLE
        )
        return _answer(issued, role)

    def assume_role_with_oidc(self, params: Mapping[str, str], _caller: str) -> dict[str, Any]:
        """Anonymous: the OIDC token, checked against the provider, is the proof."""
        provider_arn = required(params, "OIDCProviderArn", _missing)
        role_arn = required(params, "RoleArn", _missing)
        token = required(params, "OIDCToken", _missing)
        session_name = self._session_name(params)
        requested = self._requested_duration(params)
        _check_policy(params)
        provider = self._provider(provider_arn)
        verified = oidc.verify_token(token, provider)
        role = self._role(role_arn)
        duration = _within_role(requested, role)
        if provider.account_id != role.account_id or provider.name not in role.oidc_providers:
            raise ApiError(403, "AuthenticationFail.NoPermission", "There is no permission.")
        issued = self._issuer.issue(
            role, session_name=session_name, duration_seconds=duration, source=ASSUME_ROLE_WITH_OIDC
        )
        return {
            **_answer(issued, role),
            "OIDCTokenInfo": {
                "Subject": verified.subject,
                "Issuer": verified.issuer,
                "ClientIds": ",".join(verified.audience),
                "IssuanceTime": expiration_text(verified.issued_at * 1000),
                "ExpirationTime": expiration_text(verified.expires_at * 1000),
            },
        }

    @staticmethod
    def _session_name(params: Mapping[str, str]) -> str:
        name = required(params, "RoleSessionName", _missing)
        if not _SESSION_NAME.match(name):
            raise _wrongly_formed("RoleSessionName")
        return name

    @staticmethod
    def _requested_duration(params: Mapping[str, str]) -> int:
        """DurationSeconds as asked (default 3600), within STS's absolute bounds."""
        text = optional(params, "DurationSeconds")
        if text is None:
            return DEFAULT_DURATION_SECONDS
        try:
            seconds = int(text)
        except ValueError:
            seconds = 0
        if not MIN_DURATION_SECONDS <= seconds <= MAX_SESSION_SECONDS:
            raise _duration_error(MAX_SESSION_SECONDS)
        return seconds

    def _role(self, arn: str) -> RoleRecord:
        parsed = parse_role_arn(arn)
        if parsed is None:
            raise _wrongly_formed("RoleArn")
        role = self._store.role(*parsed)
        if role is None:
            raise ApiError(404, "EntityNotExist.Role", f"The specified Role not exists: {arn}.")
        return role

    def _provider(self, arn: str) -> OidcProviderRecord:
        parsed = parse_oidc_provider_arn(arn)
        if parsed is None:
            raise _wrongly_formed("OIDCProviderArn")
        provider = self._store.oidc_provider(*parsed)
        if provider is None:
            raise ApiError(
                403, "AuthenticationFail.NoPermission", "No such OIDC Provider registered."
            )
        return provider


def _duration_error(max_seconds: int) -> ApiError:
    return ApiError(
        400,
        "InvalidParameter.DurationSeconds",
        f"The Min/Max value of DurationSeconds is 15min/{_hours(max_seconds)}.",
    )


def _within_role(requested: int, role: RoleRecord) -> int:
    if requested > role.max_session_duration:
        raise _duration_error(role.max_session_duration)
    return requested


def _check_policy(params: Mapping[str, str]) -> None:
    """A session policy must be a policy document (Version and Statement) of at most 2048
    characters."""
    text = optional(params, "Policy")
    if text is None:
        return
    if len(text) > MAX_POLICY_LENGTH:
        raise ApiError(
            400,
            "InvalidParameter.PolicySize",
            f"The size of Policy must be smaller than {MAX_POLICY_LENGTH} bytes.",
        )
    try:
        document = json.loads(text)
    except ValueError:
        document = None
    if (
        not isinstance(document, dict)
        or "Version" not in document
        or not isinstance(document.get("Statement"), list)
    ):
        raise ApiError(
            400,
            "InvalidParameter.PolicyGrammar",
            "The parameter Policy has not passed grammar check.",
        )


def _answer(issued: IssuedRecord, role: RoleRecord) -> dict[str, Any]:
    return {
        "Credentials": {
            "AccessKeyId": issued.access_key_id,
            "AccessKeySecret": issued.access_key_secret,
            "SecurityToken": issued.security_token,
            "Expiration": expiration_text(issued.expires_ms),
        },
        "AssumedRoleUser": {
            "AssumedRoleId": f"{role.role_id}:{issued.session_name}",
            "Arn": f"{role.arn}/{issued.session_name}",
        },
    }
