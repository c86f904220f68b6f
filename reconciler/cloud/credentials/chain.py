"""The default credential chain, in the official library's order (first source that is set
wins; a source that is set but broken is an error, never skipped):

1. the ``access_key_id`` / ``access_key_secret`` (/ ``security_token``) arguments;
2. ``ALIBABA_CLOUD_ACCESS_KEY_ID`` / ``_SECRET`` (/ ``ALIBABA_CLOUD_SECURITY_TOKEN``), then the
   legacy ``ALICLOUD_ACCESS_KEY`` / ``ALICLOUD_SECRET_KEY`` (/ ``ALICLOUD_SECURITY_TOKEN``);
3. OIDC from the environment: ``ALIBABA_CLOUD_ROLE_ARN``, ``ALIBABA_CLOUD_OIDC_PROVIDER_ARN``,
   ``ALIBABA_CLOUD_OIDC_TOKEN_FILE`` (optional ``ALIBABA_CLOUD_ROLE_SESSION_NAME``);
4. the aliyun CLI file (``cli_profile``), unless ``ALIBABA_CLOUD_CLI_PROFILE_DISABLED=true``;
5. the SDKs' INI credentials file (``ini_file``);
6. the ECS instance's RAM role (``ecs_metadata``), unless
   ``ALIBABA_CLOUD_ECS_METADATA_DISABLED=true``; skipped when nothing answers (no ECS instance);
7. ``ALIBABA_CLOUD_CREDENTIALS_URI``.

"No credentials" names every source and why it was skipped, in one line. A network source is
asked once here, so a refusal is reported before any output; its provider then refreshes.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler.cloud.credentials.model import Credentials, CredentialsProvider, StaticProvider
from reconciler.cloud.credentials.static import (
    ENV_ACCESS_KEY_ID,
    ENV_ACCESS_KEY_SECRET,
    from_environment,
    nonblank,
    pair,
)
from reconciler.errors import CredentialsError

# The sources after the environment's key are imported when the chain gets to them: a key in
# the arguments or the environment, a small plan's usual start, never creates their classes.
if TYPE_CHECKING:
    from reconciler.cloud.credentials.roles import SourceContext

log = logging.getLogger("reconciler.cloud")

ENV_ROLE_ARN = "ALIBABA_CLOUD_ROLE_ARN"
ENV_OIDC_PROVIDER_ARN = "ALIBABA_CLOUD_OIDC_PROVIDER_ARN"
ENV_OIDC_TOKEN_FILE = "ALIBABA_CLOUD_OIDC_TOKEN_FILE"  # noqa: S105 - a variable name
ENV_ROLE_SESSION_NAME = "ALIBABA_CLOUD_ROLE_SESSION_NAME"
ENV_ECS_METADATA_DISABLED = "ALIBABA_CLOUD_ECS_METADATA_DISABLED"
ENV_ECS_ROLE = "ALIBABA_CLOUD_ECS_METADATA"
ENV_CREDENTIALS_URI = "ALIBABA_CLOUD_CREDENTIALS_URI"
OIDC_VARIABLES = (ENV_ROLE_ARN, ENV_OIDC_PROVIDER_ARN, ENV_OIDC_TOKEN_FILE)


def resolve_provider(
    *,
    access_key_id: str | None = None,
    access_key_secret: str | None = None,
    security_token: str | None = None,
    profile: str | None = None,
    env: Mapping[str, str] = os.environ,
    config_path: str | Path | None = None,
    credentials_file: str | Path | None = None,
    metadata_url: str | None = None,
) -> CredentialsProvider:
    """The first source of the chain that is set; CredentialsError naming every place looked.
    ``metadata_url`` replaces the ECS metadata service's address (tests only)."""
    provider = _Chain(env, profile, metadata_url).resolve(
        pair(
            access_key_id,
            access_key_secret,
            security_token,
            names=("access_key_id argument", "access_key_secret argument"),
            source="arguments",
        ),
        Path(config_path) if config_path is not None else None,
        Path(credentials_file) if credentials_file is not None else None,
    )
    log.debug("credentials: %s", provider.source)
    return provider


def resolve_credentials(
    *,
    access_key_id: str | None = None,
    access_key_secret: str | None = None,
    security_token: str | None = None,
    profile: str | None = None,
    env: Mapping[str, str] = os.environ,
    config_path: str | Path | None = None,
    credentials_file: str | Path | None = None,
    metadata_url: str | None = None,
) -> Credentials:
    """The current credentials of the chain's first source (``resolve_provider``)."""
    return resolve_provider(
        access_key_id=access_key_id,
        access_key_secret=access_key_secret,
        security_token=security_token,
        profile=profile,
        env=env,
        config_path=config_path,
        credentials_file=credentials_file,
        metadata_url=metadata_url,
    ).current()


class _Chain:
    def __init__(
        self, env: Mapping[str, str], profile: str | None, metadata_url: str | None
    ) -> None:
        self._env = env
        self._profile = profile
        self._metadata_url = metadata_url
        self.looked: list[str] = []

    @cached_property
    def _ctx(self) -> SourceContext:
        from reconciler.cloud.credentials.roles import SourceContext  # noqa: PLC0415

        return SourceContext(self._env, self._metadata_url)

    def resolve(
        self, arguments: Credentials | None, config: Path | None, credentials_file: Path | None
    ) -> CredentialsProvider:
        """``config``: the aliyun CLI file (None: its default place)."""
        if arguments:
            return StaticProvider(arguments)
        self.looked.append("arguments (none given)")
        found: CredentialsProvider | None = None
        environment = from_environment(self._env, self.looked)
        if environment:
            return StaticProvider(environment)
        for source in (
            self._oidc,
            lambda: self._profiles(config, credentials_file),
            self._ecs,
            self._uri,
        ):
            found = source()
            if found is not None:
                found.current()  # asked now: a refusal is reported before any output
                return found
        raise CredentialsError(
            "no Alibaba Cloud credentials found; looked at: "
            + "; ".join(self.looked)
            + f". Set {ENV_ACCESS_KEY_ID} and {ENV_ACCESS_KEY_SECRET}, the OIDC variables, or"
            " run `aliyun configure`"
        )

    def _oidc(self) -> CredentialsProvider | None:
        from reconciler.cloud.credentials.roles import RoleSettings, oidc_role  # noqa: PLC0415

        values = {name: nonblank(self._env.get(name)) for name in OIDC_VARIABLES}
        if all(values.values()):
            where = f"environment {ENV_ROLE_ARN}"
            role = RoleSettings(
                where=where,
                role_arn=values[ENV_ROLE_ARN],
                session_name=nonblank(self._env.get(ENV_ROLE_SESSION_NAME)),
            )
            return oidc_role(
                role, values[ENV_OIDC_PROVIDER_ARN], values[ENV_OIDC_TOKEN_FILE], self._ctx
            )
        # The role alone may be meant for another tool; a provider or token file alone is a typo.
        if values[ENV_OIDC_PROVIDER_ARN] or values[ENV_OIDC_TOKEN_FILE]:
            missing = ", ".join(name for name, value in values.items() if not value)
            raise CredentialsError(f"OIDC from the environment is half set: {missing} unset")
        self.looked.append(f"OIDC {'/'.join(OIDC_VARIABLES)} (unset)")
        return None

    def _profiles(
        self, config: Path | None, credentials_file: Path | None
    ) -> CredentialsProvider | None:
        from reconciler.cloud.credentials.cli_profile import (  # noqa: PLC0415
            ENV_DISABLED as CLI_PROFILE_DISABLED,
        )
        from reconciler.cloud.credentials.cli_profile import (  # noqa: PLC0415
            ENV_PROFILE,
            UnknownProfileError,
            cli_profile_provider,
            default_config_path,
        )
        from reconciler.cloud.credentials.ini_file import (  # noqa: PLC0415
            ENV_CREDENTIALS_FILE,
            default_credentials_file,
            ini_provider,
        )

        chosen = nonblank(self._profile) or nonblank(self._env.get(ENV_PROFILE))
        if config is None:
            config = default_config_path()
        unknown: UnknownProfileError | None = None
        if _is_true(self._env.get(CLI_PROFILE_DISABLED)):
            self.looked.append(f"aliyun CLI config ({CLI_PROFILE_DISABLED} is true)")
        elif config.is_file():
            try:
                return cli_profile_provider(config, chosen, self._ctx)
            except UnknownProfileError as exc:
                if chosen is None:
                    raise
                unknown = exc  # the INI file may hold it
        else:
            self.looked.append(f"aliyun CLI config {config} (not found)")
        named = nonblank(self._env.get(ENV_CREDENTIALS_FILE))
        path = Path(named) if named else credentials_file or default_credentials_file()
        if path.is_file():
            section = chosen or "default"
            found = ini_provider(path, section, self._ctx)
            if found is not None:
                return found
            self.looked.append(f"credentials file {path} (no section [{section}])")
        elif named:
            raise CredentialsError(f"{ENV_CREDENTIALS_FILE} names {path}, which does not exist")
        else:
            self.looked.append(f"credentials file {path} (not found)")
        if unknown is not None:
            raise unknown
        if chosen:
            raise CredentialsError(
                f"profile {chosen!r} was asked for but neither the aliyun CLI config "
                f"{config} nor the credentials file {path} has it"
            )
        return None

    def _ecs(self) -> CredentialsProvider | None:
        from reconciler.cloud.credentials.roles import ecs_role  # noqa: PLC0415

        if _is_true(self._env.get(ENV_ECS_METADATA_DISABLED)):
            self.looked.append(f"ECS RAM role ({ENV_ECS_METADATA_DISABLED} is true)")
            return None
        provider = ecs_role(None, self._ctx)
        try:
            provider.current()
        except CredentialsError as exc:
            if nonblank(self._env.get(ENV_ECS_ROLE)):
                raise  # a role was named: this is meant to be an ECS instance
            # As the official chain does: off ECS nothing answers, or something else does.
            self.looked.append(f"ECS RAM role ({exc})")
            return None
        return provider

    def _uri(self) -> CredentialsProvider | None:
        from reconciler.cloud.credentials.roles import credentials_uri  # noqa: PLC0415

        uri = nonblank(self._env.get(ENV_CREDENTIALS_URI))
        if uri is None:
            self.looked.append(f"{ENV_CREDENTIALS_URI} (unset)")
            return None
        return credentials_uri(uri, f"environment {ENV_CREDENTIALS_URI}")


def _is_true(value: str | None) -> bool:
    return value is not None and value.strip().lower() == "true"
