"""The ECS instance's RAM role, through the metadata service, as the official library asks it.

``PUT /latest/api/token`` (header ``X-aliyun-ecs-metadata-token-ttl-seconds``) gives an IMDSv2
token, sent with every later request as ``X-aliyun-ecs-metadata-token``; when no token comes,
the requests go without one (IMDSv1) unless ``ALIBABA_CLOUD_IMDSV1_DISABLED=true``. The role is
``ALIBABA_CLOUD_ECS_METADATA`` (or the profile's ``ram_role_name``), else the one
``GET /latest/meta-data/ram/security-credentials/`` names (asked once); its credentials are
``GET /latest/meta-data/ram/security-credentials/<role>``, asked again only when they near
expiry. The service is plain HTTP on a link-local address, never through a proxy.

``METADATA_URL`` is replaced by tests only (the emulator serves the same paths).
"""

from __future__ import annotations

from collections.abc import Mapping

from reconciler.cloud.credentials.http_source import (
    ask,
    credentials_answer,
    http_transport,
    refused,
)
from reconciler.cloud.credentials.model import Credentials
from reconciler.cloud.credentials.refresh import RefreshingProvider
from reconciler.cloud.credentials.sts import is_true
from reconciler.errors import CredentialsError

METADATA_URL = "http://100.100.100.200"
ENV_ROLE = "ALIBABA_CLOUD_ECS_METADATA"
ENV_DISABLED = "ALIBABA_CLOUD_ECS_METADATA_DISABLED"
ENV_IMDSV1_DISABLED = "ALIBABA_CLOUD_IMDSV1_DISABLED"
TOKEN_PATH = "/latest/api/token"  # noqa: S105 - a path
ROLES_PATH = "/latest/meta-data/ram/security-credentials/"
TOKEN_TTL_HEADER = "X-aliyun-ecs-metadata-token-ttl-seconds"  # noqa: S105 - a header name
TOKEN_HEADER = "X-aliyun-ecs-metadata-token"  # noqa: S105 - a header name
TOKEN_TTL_SECONDS = 21600
TIMEOUT = 1.0  # the library's: off ECS nothing answers, and the chain should not wait long


class EcsRoleFetcher:
    """Fetches the role's credentials; ``role`` None: discovered on the first fetch."""

    def __init__(self, role: str | None, env: Mapping[str, str], base_url: str | None) -> None:
        self.url = (base_url or METADATA_URL).rstrip("/")
        self._role = role
        self._v1_allowed = not is_true(env.get(ENV_IMDSV1_DISABLED))
        self._transport = http_transport(self.url, timeout=TIMEOUT, environ={})

    @property
    def source(self) -> str:
        role = f"RAM role {self._role!r}" if self._role else "RAM role"
        return f"ECS instance {role} (metadata service {self.url})"

    def __call__(self) -> Credentials:
        headers = self._token_headers()
        if self._role is None:
            self._role = self._discover_role(headers)
        where = f"ECS metadata service {self.url}, role {self._role!r}"
        response = ask(
            self._transport, "GET", ROLES_PATH + self._role, where=where, headers=headers
        )
        return credentials_answer(response, where=where, source=self.source)

    def _token_headers(self) -> dict[str, str]:
        where = f"ECS metadata service {self.url}: IMDSv2 token"
        # Nothing answering at all (``Unreachable``) is not retried as IMDSv1: no use.
        response = ask(
            self._transport,
            "PUT",
            TOKEN_PATH,
            where=where,
            headers={TOKEN_TTL_HEADER: str(TOKEN_TTL_SECONDS)},
        )
        if response.status == 200:
            return {TOKEN_HEADER: response.content.decode("utf-8", "replace").strip()}
        if not self._v1_allowed:
            raise refused(response, f"{where} ({ENV_IMDSV1_DISABLED} is true)")
        return {}

    def _discover_role(self, headers: Mapping[str, str]) -> str:
        where = f"ECS metadata service {self.url}: the instance's RAM role"
        response = ask(self._transport, "GET", ROLES_PATH, where=where, headers=headers)
        if response.status != 200:
            raise refused(response, where)
        role = response.content.decode("utf-8", "replace").strip().splitlines()
        if not role or not role[0].strip():
            raise CredentialsError(f"{where}: the instance has no RAM role attached")
        return role[0].strip()


def ecs_role_provider(
    role: str | None, env: Mapping[str, str], *, base_url: str | None = None
) -> RefreshingProvider:
    fetcher = EcsRoleFetcher(role, env, base_url)
    return RefreshingProvider(fetcher, source=lambda: fetcher.source)
