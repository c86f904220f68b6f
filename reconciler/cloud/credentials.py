"""Where the AccessKey comes from: arguments, environment, or the aliyun CLI profile file.

Precedence, first match wins (the order of Alibaba's own default chain and of Terraform's
alicloud provider):

1. explicit ``access_key_id`` / ``access_key_secret`` (/ ``security_token``) arguments;
2. ``ALIBABA_CLOUD_ACCESS_KEY_ID`` / ``ALIBABA_CLOUD_ACCESS_KEY_SECRET``
   / ``ALIBABA_CLOUD_SECURITY_TOKEN``;
3. the legacy ``ALICLOUD_ACCESS_KEY`` / ``ALICLOUD_SECRET_KEY`` / ``ALICLOUD_SECURITY_TOKEN``;
4. the aliyun CLI file ``~/.aliyun/config.json``: the profile named by the ``profile`` argument,
   else ``ALIBABA_CLOUD_PROFILE``, else the file's ``current``; modes ``AK`` and ``StsToken``.

Half a key pair (an id without its secret) is an error, never silently skipped: it is a typo.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, SecretStr

from reconciler.errors import CredentialsError

ENV_ACCESS_KEY_ID = "ALIBABA_CLOUD_ACCESS_KEY_ID"
ENV_ACCESS_KEY_SECRET = "ALIBABA_CLOUD_ACCESS_KEY_SECRET"  # noqa: S105 - a variable name
ENV_SECURITY_TOKEN = "ALIBABA_CLOUD_SECURITY_TOKEN"  # noqa: S105 - a variable name
LEGACY_ACCESS_KEY_ID = "ALICLOUD_ACCESS_KEY"
LEGACY_ACCESS_KEY_SECRET = "ALICLOUD_SECRET_KEY"  # noqa: S105 - a variable name
LEGACY_SECURITY_TOKEN = "ALICLOUD_SECURITY_TOKEN"  # noqa: S105 - a variable name
ENV_PROFILE = "ALIBABA_CLOUD_PROFILE"
SUPPORTED_MODES = ("AK", "StsToken")


def default_config_path() -> Path:
    return Path.home() / ".aliyun" / "config.json"


class Credentials(BaseModel):
    """An AccessKey pair (plus an STS token for temporary credentials) and where it came from."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    access_key_id: str
    access_key_secret: SecretStr
    security_token: SecretStr | None = None
    source: str

    def secret_values(self) -> tuple[str, ...]:
        """The strings that must never be shown (for redaction)."""
        values = [self.access_key_secret.get_secret_value()]
        if self.security_token is not None:
            values.append(self.security_token.get_secret_value())
        return tuple(value for value in values if value)


def resolve_credentials(
    *,
    access_key_id: str | None = None,
    access_key_secret: str | None = None,
    security_token: str | None = None,
    profile: str | None = None,
    env: Mapping[str, str] = os.environ,
    config_path: str | Path | None = None,
) -> Credentials:
    """The first complete credentials in the chain; CredentialsError naming every place looked."""
    looked: list[str] = []

    found = _from_pair(
        access_key_id,
        access_key_secret,
        security_token,
        names=("access_key_id argument", "access_key_secret argument"),
        source="arguments",
    )
    if found:
        return found
    looked.append("arguments (none given)")

    for id_name, secret_name, token_name in (
        (ENV_ACCESS_KEY_ID, ENV_ACCESS_KEY_SECRET, ENV_SECURITY_TOKEN),
        (LEGACY_ACCESS_KEY_ID, LEGACY_ACCESS_KEY_SECRET, LEGACY_SECURITY_TOKEN),
    ):
        found = _from_pair(
            env.get(id_name),
            env.get(secret_name),
            env.get(token_name),
            names=(f"environment variable {id_name}", f"environment variable {secret_name}"),
            source=f"environment ({id_name})",
        )
        if found:
            return found
        looked.append(f"environment {id_name}/{secret_name} (unset)")

    path = Path(config_path) if config_path is not None else default_config_path()
    chosen = _nonblank(profile) or _nonblank(env.get(ENV_PROFILE))
    if path.is_file():
        return _from_profile_file(path, chosen)
    if chosen:
        raise CredentialsError(
            f"profile {chosen!r} was asked for but the aliyun CLI config {path} does not exist"
        )
    looked.append(f"aliyun CLI config {path} (not found)")
    raise CredentialsError(
        "no Alibaba Cloud credentials found; looked at: "
        + "; ".join(looked)
        + f". Set {ENV_ACCESS_KEY_ID} and {ENV_ACCESS_KEY_SECRET}, or run `aliyun configure`"
    )


def _nonblank(value: str | None) -> str | None:
    return value if value and value.strip() else None


def _from_pair(
    key_id: str | None,
    secret: str | None,
    token: str | None,
    *,
    names: tuple[str, str],
    source: str,
) -> Credentials | None:
    key_id, secret, token = _nonblank(key_id), _nonblank(secret), _nonblank(token)
    if key_id is None and secret is None:
        return None
    if key_id is None or secret is None:
        given, missing = (names[0], names[1]) if key_id else (names[1], names[0])
        raise CredentialsError(f"{given} is set but {missing} is not")
    # Strings of the declared types: no validator to build for them.
    return Credentials.model_construct(
        access_key_id=key_id,
        access_key_secret=SecretStr(secret),
        security_token=SecretStr(token) if token else None,
        source=source,
    )


def _from_profile_file(path: Path, chosen: str | None) -> Credentials:
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
    profiles = document.get("profiles")
    if not isinstance(profiles, list):
        raise CredentialsError(f"{path}: no 'profiles' list")
    name = chosen or _nonblank(_text(document, "current")) or "default"
    by_name = {p.get("name"): p for p in profiles if isinstance(p, dict)}
    entry = by_name.get(name)
    if entry is None:
        known = ", ".join(sorted(str(n) for n in by_name)) or "none"
        raise CredentialsError(f"{path}: no profile named {name!r} (profiles: {known})")
    where = f"profile {name!r} in {path}"
    mode = _text(entry, "mode") or "AK"
    if mode not in SUPPORTED_MODES:
        raise CredentialsError(
            f"{where}: mode {mode!r} is not supported (use {' or '.join(SUPPORTED_MODES)})"
        )
    token = _text(entry, "sts_token") if mode == "StsToken" else None
    if mode == "StsToken" and not _nonblank(token):
        raise CredentialsError(f"{where}: mode StsToken but sts_token is empty")
    found = _from_pair(
        _text(entry, "access_key_id"),
        _text(entry, "access_key_secret"),
        token,
        names=(f"{where}: access_key_id", "access_key_secret"),
        source=where,
    )
    if found is None:
        raise CredentialsError(f"{where}: access_key_id and access_key_secret are empty")
    return found


def _text(entry: dict[str, Any], key: str) -> str | None:
    value = entry.get(key)
    return None if value is None else str(value)
