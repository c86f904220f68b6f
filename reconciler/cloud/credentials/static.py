"""Key pairs given outright: the arguments, ``ALIBABA_CLOUD_ACCESS_KEY_ID`` / ``_SECRET``
(+ ``ALIBABA_CLOUD_SECURITY_TOKEN``), and the legacy ``ALICLOUD_*`` names Terraform reads.

Half a key pair (an id without its secret) is an error, never silently skipped: it is a typo.
"""

from __future__ import annotations

from collections.abc import Mapping

from reconciler.cloud.credentials.model import Credentials, make_credentials
from reconciler.errors import CredentialsError

ENV_ACCESS_KEY_ID = "ALIBABA_CLOUD_ACCESS_KEY_ID"
ENV_ACCESS_KEY_SECRET = "ALIBABA_CLOUD_ACCESS_KEY_SECRET"  # noqa: S105 - a variable name
ENV_SECURITY_TOKEN = "ALIBABA_CLOUD_SECURITY_TOKEN"  # noqa: S105 - a variable name
LEGACY_ACCESS_KEY_ID = "ALICLOUD_ACCESS_KEY"
LEGACY_ACCESS_KEY_SECRET = "ALICLOUD_SECRET_KEY"  # noqa: S105 - a variable name
LEGACY_SECURITY_TOKEN = "ALICLOUD_SECURITY_TOKEN"  # noqa: S105 - a variable name
ENVIRONMENT_PAIRS = (
    (ENV_ACCESS_KEY_ID, ENV_ACCESS_KEY_SECRET, ENV_SECURITY_TOKEN),
    (LEGACY_ACCESS_KEY_ID, LEGACY_ACCESS_KEY_SECRET, LEGACY_SECURITY_TOKEN),
)


def nonblank(value: object) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text if text.strip() else None


def pair(
    key_id: str | None,
    secret: str | None,
    token: str | None,
    *,
    names: tuple[str, str],
    source: str,
) -> Credentials | None:
    """The pair, None when neither half is given; half a pair is a CredentialsError."""
    key_id, secret, token = nonblank(key_id), nonblank(secret), nonblank(token)
    if key_id is None and secret is None:
        return None
    if key_id is None or secret is None:
        given, missing = (names[0], names[1]) if key_id else (names[1], names[0])
        raise CredentialsError(f"{given} is set but {missing} is not")
    return make_credentials(key_id, secret, token, source=source)


def from_environment(env: Mapping[str, str], looked: list[str]) -> Credentials | None:
    """The first pair the environment holds; each pair left unset is noted in ``looked``."""
    for id_name, secret_name, token_name in ENVIRONMENT_PAIRS:
        found = pair(
            env.get(id_name),
            env.get(secret_name),
            env.get(token_name),
            names=(f"environment variable {id_name}", f"environment variable {secret_name}"),
            source=f"environment ({id_name})",
        )
        if found:
            return found
        looked.append(f"environment {id_name}/{secret_name} (unset)")
    return None
