"""The sources a profile can name besides a key: a role assumed with a key or another
profile's credentials, an OIDC token, the ECS instance's role, a credentials URI. Shared by the
aliyun CLI file and the ``~/.alibabacloud`` INI file, which spell the same settings differently.

The network modules are imported here, when a profile asks for them, so a static key never
pays for them at start-up.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from reconciler.cloud.credentials.model import CredentialsProvider
from reconciler.errors import CredentialsError

if TYPE_CHECKING:
    from reconciler.cloud.credentials.sts import RoleSession


@dataclass(frozen=True)
class SourceContext:
    """What every source may read: the environment, and (tests only) the metadata service."""

    env: Mapping[str, str]
    metadata_url: str | None = None


@dataclass(frozen=True)
class RoleSettings:
    """A role and how to ask for it, as a profile states it (``where`` names the profile)."""

    where: str
    role_arn: str | None
    session_name: str | None = None
    duration: str | None = None
    policy: str | None = None
    sts_region: str | None = None
    vpc: str | None = None

    def session(self) -> RoleSession:
        from reconciler.cloud.credentials.sts import RoleSession  # noqa: PLC0415

        if not self.role_arn:
            raise CredentialsError(f"{self.where}: no role ARN given")
        duration = None
        if self.duration is not None and str(self.duration).strip():
            try:
                duration = int(str(self.duration))
            except ValueError:
                raise CredentialsError(
                    f"{self.where}: the duration {str(self.duration)[:20]!r} is not a number of "
                    "seconds"
                ) from None
        # The aliyun CLI writes 0 for "not set".
        duration = duration or None
        return RoleSession(
            role_arn=self.role_arn,
            session_name=self.session_name or None,
            duration=duration,
            policy=self.policy or None,
        )

    def endpoint(self, ctx: SourceContext) -> str:
        from reconciler.cloud.credentials.sts import is_true, sts_endpoint  # noqa: PLC0415

        vpc = None if self.vpc is None or str(self.vpc) == "" else is_true(self.vpc)
        return sts_endpoint(ctx.env, region=self.sts_region or None, vpc=vpc)


def assumed_role(
    base: CredentialsProvider, role: RoleSettings, external_id: str | None, ctx: SourceContext
) -> CredentialsProvider:
    from reconciler.cloud.credentials.sts import assume_role_provider  # noqa: PLC0415

    session = role.session()
    return assume_role_provider(
        base,
        session,
        external_id=external_id or None,
        endpoint=role.endpoint(ctx),
        source=f"role {session.role_arn} assumed with {base.source} ({role.where})",
    )


def oidc_role(
    role: RoleSettings, provider_arn: str | None, token_file: str | None, ctx: SourceContext
) -> CredentialsProvider:
    from reconciler.cloud.credentials.sts import oidc_provider  # noqa: PLC0415

    session = role.session()
    if not provider_arn:
        raise CredentialsError(f"{role.where}: no OIDC provider ARN given")
    if not token_file:
        raise CredentialsError(f"{role.where}: no OIDC token file given")
    return oidc_provider(
        session,
        provider_arn=provider_arn,
        token_file=token_file,
        endpoint=role.endpoint(ctx),
        source=f"role {session.role_arn} for the OIDC token in {token_file} ({role.where})",
    )


def ecs_role(role_name: str | None, ctx: SourceContext) -> CredentialsProvider:
    from reconciler.cloud.credentials.ecs_metadata import ENV_ROLE, ecs_role_provider  # noqa: PLC0415

    chosen = role_name or ctx.env.get(ENV_ROLE) or None
    return ecs_role_provider(chosen, ctx.env, base_url=ctx.metadata_url)


def credentials_uri(uri: str | None, where: str) -> CredentialsProvider:
    from reconciler.cloud.credentials.uri import uri_provider  # noqa: PLC0415

    if not uri or not uri.strip():
        raise CredentialsError(f"{where}: no credentials URI given")
    return uri_provider(uri.strip(), named_by=where)
