"""The credentials file of Alibaba's SDKs: ``ALIBABA_CLOUD_CREDENTIALS_FILE``, else
``~/.alibabacloud/credentials`` (the Go SDK's name) when it exists, else
``~/.alibabacloud/credentials.ini`` (the official Python library's), an INI file whose
section is the profile (``provider.profile``, else ``ALIBABA_CLOUD_PROFILE``, else ``default``)
and whose ``type`` is ``access_key``, ``ram_role_arn``, ``oidc_role_arn`` or ``ecs_ram_role``.
As in the library, what follows a ``#`` in a value is a comment.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from reconciler.cloud.credentials.model import CredentialsProvider, StaticProvider
from reconciler.cloud.credentials.roles import (
    RoleSettings,
    SourceContext,
    assumed_role,
    ecs_role,
    oidc_role,
)
from reconciler.cloud.credentials.static import nonblank, pair
from reconciler.errors import CredentialsError

ENV_CREDENTIALS_FILE = "ALIBABA_CLOUD_CREDENTIALS_FILE"
SUPPORTED_TYPES = ("access_key", "ram_role_arn", "oidc_role_arn", "ecs_ram_role")


def default_credentials_file() -> Path:
    # The SDKs disagree on the name; a team's file works under either.
    folder = Path.home() / ".alibabacloud"
    plain = folder / "credentials"
    return plain if plain.is_file() else folder / "credentials.ini"


def read_sections(path: Path) -> dict[str, dict[str, str]]:
    import configparser  # noqa: PLC0415 - only when the file exists: start-up with a static key

    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(path.read_text(encoding="utf-8"), source=str(path))
    except OSError as exc:
        raise CredentialsError(f"cannot read the credentials file {path}: {exc.strerror}") from None
    except configparser.Error as exc:
        line = getattr(exc, "lineno", None)
        where = f"{path}:{line}" if line else str(path)
        reason = type(exc).__name__.removesuffix("Error").replace("Duplicate", "duplicate ")
        raise CredentialsError(f"{where}: not a valid INI file ({reason.lower()})") from None
    return {
        name: {key: value.split("#", 1)[0].strip() for key, value in parser.items(name)}
        for name in parser.sections()
    }


def ini_provider(path: Path, section_name: str, ctx: SourceContext) -> CredentialsProvider | None:
    """The section's credentials; None when the file has no such section."""
    section = read_sections(path).get(section_name)
    if section is None:
        return None
    where = f"section [{section_name}] of {path}"
    kind = section.get("type", "")
    if kind in ("access_key", "ram_role_arn"):
        key = _key(section, where)
        if kind == "access_key":
            return key
        return assumed_role(key, _role(section, where), None, ctx)
    if kind == "oidc_role_arn":
        return oidc_role(
            _role(section, where),
            nonblank(section.get("oidc_provider_arn")),
            nonblank(section.get("oidc_token_file_path")),
            ctx,
        )
    if kind == "ecs_ram_role":
        return ecs_role(nonblank(section.get("role_name")), ctx)
    raise CredentialsError(
        f"{where}: type {kind!r} is not supported (use one of {', '.join(SUPPORTED_TYPES)})"
    )


def _key(section: Mapping[str, str], where: str) -> StaticProvider:
    found = pair(
        section.get("access_key_id"),
        section.get("access_key_secret"),
        None,
        names=(f"{where}: access_key_id", "access_key_secret"),
        source=where,
    )
    if found is None:
        raise CredentialsError(f"{where}: access_key_id and access_key_secret are empty")
    return StaticProvider(found)


def _role(section: Mapping[str, str], where: str) -> RoleSettings:
    return RoleSettings(
        where=where,
        role_arn=nonblank(section.get("role_arn")),
        session_name=nonblank(section.get("role_session_name")),
        policy=nonblank(section.get("policy")),
    )
