"""The aliyun CLI file ``~/.aliyun/config.json``: the profile named by the ``profile`` argument
(``provider.profile``), else ``ALIBABA_CLOUD_PROFILE``, else the file's ``current``.

Modes, with the fields the aliyun CLI writes (and the official library reads):

- ``AK``: ``access_key_id``, ``access_key_secret`` (a profile without a mode is one);
- ``StsToken``: the same plus ``sts_token``;
- ``RamRoleArn``: a key, and ``ram_role_arn``, ``ram_session_name``, ``expired_seconds``,
  ``policy``, ``external_id``, ``sts_region``, ``enable_vpc``: the role assumed with the key;
- ``ChainableRamRoleArn``: the same role fields, assumed with ``source_profile``'s credentials;
- ``EcsRamRole``: ``ram_role_name`` (else discovered) from the ECS metadata service;
- ``OIDC``: ``ram_role_arn``, ``oidc_provider_arn``, ``oidc_token_file``, ``role_session_name``,
  ``expired_seconds``, ``policy``, ``sts_region``, ``enable_vpc``;
- ``CredentialsURI``: ``credentials_uri``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from reconciler.cloud.credentials.model import CredentialsProvider, StaticProvider
from reconciler.cloud.credentials.roles import (
    RoleSettings,
    SourceContext,
    assumed_role,
    credentials_uri,
    ecs_role,
    oidc_role,
)
from reconciler.cloud.credentials.static import nonblank, pair
from reconciler.errors import CredentialsError

ENV_PROFILE = "ALIBABA_CLOUD_PROFILE"
ENV_DISABLED = "ALIBABA_CLOUD_CLI_PROFILE_DISABLED"


class UnknownProfileError(CredentialsError):
    """The file has no profile of that name (the chain then asks the INI file for it)."""


SUPPORTED_MODES = (
    "AK",
    "StsToken",
    "RamRoleArn",
    "ChainableRamRoleArn",
    "EcsRamRole",
    "OIDC",
    "CredentialsURI",
)


def default_config_path() -> Path:
    return Path.home() / ".aliyun" / "config.json"


def cli_profile_provider(path: Path, chosen: str | None, ctx: SourceContext) -> CredentialsProvider:
    """The chosen profile's credentials (the file's ``current`` when none is chosen)."""
    document = _read(path)
    profiles = document.get("profiles")
    if not isinstance(profiles, list):
        raise CredentialsError(f"{path}: no 'profiles' list")
    name = chosen or nonblank(_text(document, "current")) or "default"
    by_name = {p.get("name"): p for p in profiles if isinstance(p, dict)}
    return _Profiles(path, by_name, ctx).provider(name, chain=())


def _read(path: Path) -> dict[str, Any]:
    try:
        document: Any = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise CredentialsError(
            f"{path}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}"
        ) from exc
    except OSError as exc:
        raise CredentialsError(f"cannot read aliyun CLI config {path}: {exc.strerror}") from exc
    if not isinstance(document, dict):
        raise CredentialsError(f"{path}: expected a JSON object with 'profiles'")
    return document


class _Profiles:
    def __init__(self, path: Path, by_name: dict[Any, Any], ctx: SourceContext) -> None:
        self._path = path
        self._by_name = by_name
        self._ctx = ctx

    def provider(self, name: str, *, chain: tuple[str, ...]) -> CredentialsProvider:
        entry = self._by_name.get(name)
        if entry is None:
            known = ", ".join(sorted(str(n) for n in self._by_name)) or "none"
            # Only the chosen profile may be looked for elsewhere, not a source_profile.
            error = UnknownProfileError if not chain else CredentialsError
            raise error(f"{self._path}: no profile named {name!r} (profiles: {known})")
        where = f"profile {name!r} in {self._path}"
        mode = _text(entry, "mode") or "AK"
        if mode in ("AK", "StsToken", "RamRoleArn"):
            key = self._key(entry, where, with_token=mode == "StsToken")
            if mode != "RamRoleArn":
                return key
            return assumed_role(key, _role(entry, where), _text(entry, "external_id"), self._ctx)
        if mode == "ChainableRamRoleArn":
            source = nonblank(_text(entry, "source_profile"))
            if source is None:
                raise CredentialsError(f"{where}: mode ChainableRamRoleArn needs source_profile")
            if source in (*chain, name):
                loop = " -> ".join((*chain, name, source))
                raise CredentialsError(f"{where}: source_profile loops back ({loop})")
            base = self.provider(source, chain=(*chain, name))
            return assumed_role(base, _role(entry, where), _text(entry, "external_id"), self._ctx)
        if mode == "EcsRamRole":
            return ecs_role(nonblank(_text(entry, "ram_role_name")), self._ctx)
        if mode == "OIDC":
            role = _role(entry, where, session_field="role_session_name")
            return oidc_role(
                role, _text(entry, "oidc_provider_arn"), _text(entry, "oidc_token_file"), self._ctx
            )
        if mode == "CredentialsURI":
            return credentials_uri(_text(entry, "credentials_uri"), where)
        raise CredentialsError(
            f"{where}: mode {mode!r} is not supported (use one of {', '.join(SUPPORTED_MODES)})"
        )

    def _key(self, entry: dict[str, Any], where: str, *, with_token: bool) -> StaticProvider:
        token = _text(entry, "sts_token") if with_token else None
        if with_token and not nonblank(token):
            raise CredentialsError(f"{where}: mode StsToken but sts_token is empty")
        found = pair(
            _text(entry, "access_key_id"),
            _text(entry, "access_key_secret"),
            token,
            names=(f"{where}: access_key_id", "access_key_secret"),
            source=where,
        )
        if found is None:
            raise CredentialsError(f"{where}: access_key_id and access_key_secret are empty")
        return StaticProvider(found)


def _role(
    entry: dict[str, Any], where: str, *, session_field: str = "ram_session_name"
) -> RoleSettings:
    return RoleSettings(
        where=where,
        role_arn=nonblank(_text(entry, "ram_role_arn")),
        session_name=nonblank(_text(entry, session_field)),
        duration=_text(entry, "expired_seconds"),
        policy=nonblank(_text(entry, "policy")),
        sts_region=nonblank(_text(entry, "sts_region")),
        vpc=_text(entry, "enable_vpc"),
    )


def _text(entry: dict[str, Any], key: str) -> str | None:
    value = entry.get(key)
    if isinstance(value, bool):
        return "true" if value else "false"
    return None if value is None else str(value)
