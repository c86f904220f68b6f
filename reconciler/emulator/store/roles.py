"""RAM as STS sees it: each account's id (the uid in ARNs), its roles and whom they trust, its
OIDC providers, and the settings of what the emulator issues (``StsSettings``). Who may assume
what is decided in ``sts_actions``; this keeps rows."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from enum import Enum

from reconciler.emulator.store.database import Database

DEFAULT_MAX_SESSION_SECONDS = 3600


def derived_account_id(access_key_id: str) -> str:
    """The 16-digit uid of an account the fixture gives none: stable across restarts."""
    digest = hashlib.sha256(access_key_id.encode("utf-8")).digest()
    return str(int.from_bytes(digest[:8], "big") % 10**16).zfill(16)


def role_arn(account_id: str, name: str) -> str:
    return f"acs:ram::{account_id}:role/{name.lower()}"


def oidc_provider_arn(account_id: str, name: str) -> str:
    return f"acs:ram::{account_id}:oidc-provider/{name}"


_ROLE_ARN = re.compile(r"^acs:ram::(?P<account>[^:/]+):role/(?P<name>[^/]+)$")
_PROVIDER_ARN = re.compile(r"^acs:ram::(?P<account>[^:/]+):oidc-provider/(?P<name>[^/]+)$")


def parse_role_arn(arn: str) -> tuple[str, str] | None:
    """(account uid, role name) of ``acs:ram::<uid>:role/<name>``, or None."""
    match = _ROLE_ARN.match(arn.strip())
    return None if match is None else (match["account"], match["name"].lower())


def parse_oidc_provider_arn(arn: str) -> tuple[str, str] | None:
    """(account uid, provider name) of ``acs:ram::<uid>:oidc-provider/<name>``, or None."""
    match = _PROVIDER_ARN.match(arn.strip())
    return None if match is None else (match["account"], match["name"])


@dataclass(frozen=True)
class RoleRecord:
    account_id: str
    name: str  # RAM role names are case-insensitive: kept lower-case, as ARNs show them
    max_session_duration: int = DEFAULT_MAX_SESSION_SECONDS
    external_id: str | None = None  # when set, AssumeRole must send it
    trusted_accounts: tuple[str, ...] = ()  # other accounts' uids that may assume it
    oidc_providers: tuple[str, ...] = ()  # names of its account's providers it trusts

    @property
    def arn(self) -> str:
        return role_arn(self.account_id, self.name)

    @property
    def role_id(self) -> str:
        """A stable numeric id, as AssumedRoleId shows it."""
        return derived_account_id(self.arn)[:17]


@dataclass(frozen=True)
class OidcProviderRecord:
    account_id: str
    name: str
    issuer: str
    client_ids: tuple[str, ...]
    # The issuer's signing key: a PEM public key, or a JSON Web Key Set (JSON text).
    public_key: str | None = None
    jwks: str | None = None

    @property
    def arn(self) -> str:
        return oidc_provider_arn(self.account_id, self.name)


@dataclass(frozen=True)
class StsSettings:
    """What the emulator issues: ``duration`` (seconds), when set, is the lifetime of every
    credential it issues whatever DurationSeconds asked (a test needs 30-second credentials,
    which STS's 900-second minimum forbids asking for); the RAM role of the emulated ECS
    instance (served by the metadata endpoint) and of the credentials URI, as role ARNs;
    ``metadata_hardened`` makes the metadata endpoint require an IMDSv2 token."""

    duration: int | None = None
    instance_role: str | None = None
    credentials_uri_role: str | None = None
    metadata_hardened: bool = False


class Keep(Enum):
    """``update_sts_settings``'s default: leave the setting as it is."""

    KEEP = 0


class Roles(Database):
    SCHEMA = """
CREATE TABLE IF NOT EXISTS account_ids (
    access_key_id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS account_ids_by_uid ON account_ids (account_id);
CREATE TABLE IF NOT EXISTS roles (
    account_id TEXT NOT NULL,
    name TEXT NOT NULL,
    max_session_duration INTEGER NOT NULL,
    external_id TEXT,
    trusted_accounts TEXT NOT NULL,
    oidc_providers TEXT NOT NULL,
    PRIMARY KEY (account_id, name)
);
CREATE TABLE IF NOT EXISTS oidc_providers (
    account_id TEXT NOT NULL,
    name TEXT NOT NULL,
    issuer TEXT NOT NULL,
    client_ids TEXT NOT NULL,
    public_key TEXT,
    jwks TEXT,
    PRIMARY KEY (account_id, name)
);
CREATE TABLE IF NOT EXISTS sts_settings (
    name TEXT PRIMARY KEY,
    value TEXT
);
"""

    def set_account_id(self, access_key_id: str, account_id: str) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO account_ids VALUES (?, ?)", (access_key_id, account_id)
            )

    def account_id(self, access_key_id: str) -> str:
        """The account's uid: the one the fixture gave, else derived from its key."""
        rows = self._query(
            "SELECT account_id FROM account_ids WHERE access_key_id = ?", (access_key_id,)
        )
        return str(rows[0][0]) if rows else derived_account_id(access_key_id)

    def account_key(self, account_id: str) -> str | None:
        """The AccessKeyId of the account with this uid (given or derived), or None."""
        rows = self._query(
            "SELECT access_key_id FROM account_ids WHERE account_id = ?", (account_id,)
        )
        if rows:
            return str(rows[0][0])
        keys = self._query("SELECT access_key_id FROM accounts")
        return next(
            (str(key) for (key,) in keys if derived_account_id(str(key)) == account_id), None
        )

    def put_role(self, role: RoleRecord) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO roles VALUES (?, ?, ?, ?, ?, ?)",
                (
                    role.account_id,
                    role.name.lower(),
                    role.max_session_duration,
                    role.external_id,
                    json.dumps(list(role.trusted_accounts)),
                    json.dumps(list(role.oidc_providers)),
                ),
            )

    def role(self, account_id: str, name: str) -> RoleRecord | None:
        rows = self._query(
            "SELECT account_id, name, max_session_duration, external_id, trusted_accounts,"
            " oidc_providers FROM roles WHERE account_id = ? AND name = ?",
            (account_id, name.lower()),
        )
        if not rows:
            return None
        account, role_name, max_duration, external_id, trusted, providers = rows[0]
        return RoleRecord(
            account,
            role_name,
            int(max_duration),
            external_id,
            tuple(json.loads(trusted)),
            tuple(json.loads(providers)),
        )

    def put_oidc_provider(self, provider: OidcProviderRecord) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO oidc_providers VALUES (?, ?, ?, ?, ?, ?)",
                (
                    provider.account_id,
                    provider.name,
                    provider.issuer,
                    json.dumps(list(provider.client_ids)),
                    provider.public_key,
                    provider.jwks,
                ),
            )

    def oidc_provider(self, account_id: str, name: str) -> OidcProviderRecord | None:
        rows = self._query(
            "SELECT account_id, name, issuer, client_ids, public_key, jwks FROM oidc_providers"
            " WHERE account_id = ? AND name = ?",
            (account_id, name),
        )
        if not rows:
            return None
        account, provider_name, issuer, client_ids, public_key, jwks = rows[0]
        return OidcProviderRecord(
            account, provider_name, issuer, tuple(json.loads(client_ids)), public_key, jwks
        )

    def sts_settings(self) -> StsSettings:
        values = dict(self._query("SELECT name, value FROM sts_settings"))
        duration = values.get("duration")
        return StsSettings(
            duration=None if duration is None else int(duration),
            instance_role=values.get("instance_role"),
            credentials_uri_role=values.get("credentials_uri_role"),
            metadata_hardened=values.get("metadata_hardened") == "true",
        )

    def update_sts_settings(
        self,
        *,
        duration: int | Keep | None = Keep.KEEP,
        instance_role: str | Keep | None = Keep.KEEP,
        credentials_uri_role: str | Keep | None = Keep.KEEP,
        metadata_hardened: bool | Keep = Keep.KEEP,
    ) -> None:
        """Change the settings given (None clears one)."""
        given = {
            "duration": duration,
            "instance_role": instance_role,
            "credentials_uri_role": credentials_uri_role,
            "metadata_hardened": metadata_hardened,
        }
        with self.transaction() as db:
            for name, value in given.items():
                if value is Keep.KEEP:
                    continue
                if value is None:
                    db.execute("DELETE FROM sts_settings WHERE name = ?", (name,))
                    continue
                text = ("true" if value else "false") if isinstance(value, bool) else str(value)
                db.execute("INSERT OR REPLACE INTO sts_settings VALUES (?, ?)", (name, text))
