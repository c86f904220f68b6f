"""STS 2015-04-01: a role's temporary credentials, from a key (``AssumeRole``) or an OIDC token
(``AssumeRoleWithOIDC``), through the same request core as the MQTT clients (``cloud.rpc``:
signing, retries, redaction, one DEBUG line per attempt).

The endpoint, as the official library picks it: ``sts.<region>.aliyuncs.com`` for the profile's
``sts_region``, else ``ALIBABA_CLOUD_STS_REGION``, else ``sts.aliyuncs.com``; ``sts-vpc.`` in
place of ``sts.`` when the profile's ``enable_vpc`` or ``ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED`` is
true. ``RECONCILER_STS_ENDPOINT`` replaces all of it (a private network's gateway, an emulator).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, SecretStr

from reconciler.cloud.credentials.model import (
    Credentials,
    CredentialsProvider,
    make_credentials,
)
from reconciler.cloud.credentials.refresh import RefreshingProvider, parse_expiration
from reconciler.cloud.endpoints import normalise_endpoint
from reconciler.cloud.pacing import Pacing
from reconciler.cloud.rpc import ApiProduct, RpcClient, present
from reconciler.cloud.signing import SignedForm, form_body, format_timestamp, signed_form
from reconciler.errors import CloudError, CredentialsError

STS_VERSION = "2015-04-01"
ASSUME_ROLE = "AssumeRole"
ASSUME_ROLE_WITH_OIDC = "AssumeRoleWithOIDC"
STS_PRODUCT = ApiProduct(
    label="STS 2015-04-01",
    service="sts",
    version=STS_VERSION,
    actions=frozenset({ASSUME_ROLE, ASSUME_ROLE_WITH_OIDC}),
    pacing=Pacing({}, per="client"),  # one call per lifetime: nothing to pace
)
ENV_STS_ENDPOINT = "RECONCILER_STS_ENDPOINT"
ENV_STS_REGION = "ALIBABA_CLOUD_STS_REGION"
ENV_VPC_ENDPOINT = "ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED"
DEFAULT_DURATION = 3600
MIN_DURATION = 900
# AssumeRoleWithOIDC is anonymous: the token is the proof. The client still wants credentials.
_ANONYMOUS = make_credentials("", "", None, source="no key (AssumeRoleWithOIDC is anonymous)")


def sts_endpoint(
    env: Mapping[str, str], *, region: str | None = None, vpc: bool | None = None
) -> str:
    override = (env.get(ENV_STS_ENDPOINT) or "").strip()
    if override:
        try:
            return normalise_endpoint(override)
        except CloudError as exc:
            raise CredentialsError(f"{ENV_STS_ENDPOINT}: {exc}") from None
    use_vpc = vpc if vpc is not None else is_true(env.get(ENV_VPC_ENDPOINT))
    prefix = "sts-vpc" if use_vpc else "sts"
    chosen = region or (env.get(ENV_STS_REGION) or "").strip()
    return f"https://{prefix}.{chosen}.aliyuncs.com" if chosen else f"https://{prefix}.aliyuncs.com"


def is_true(value: object) -> bool:
    return str(value).strip().lower() == "true" if value is not None else False


@dataclass(frozen=True)
class RoleSession:
    """What both actions ask besides the proof: the role, a session name, a lifetime and an
    optional policy narrowing the role."""

    role_arn: str
    session_name: str | None = None
    duration: int | None = None
    policy: str | None = None

    def parameters(self) -> dict[str, str]:
        duration = self.duration if self.duration is not None else DEFAULT_DURATION
        if duration < MIN_DURATION:
            raise CredentialsError(
                f"role {self.role_arn}: a session lasts at least {MIN_DURATION} seconds "
                f"(asked {duration})"
            )
        return present(
            RoleArn=self.role_arn,
            RoleSessionName=self.session_name or f"reconciler-{int(time.time())}",
            DurationSeconds=str(duration),
            Policy=self.policy or None,
        )


class _StsCredentials(BaseModel):
    model_config = ConfigDict(extra="ignore")

    AccessKeyId: str
    AccessKeySecret: SecretStr
    SecurityToken: SecretStr
    Expiration: str


class _StsAnswer(BaseModel):
    model_config = ConfigDict(extra="ignore")

    Credentials: _StsCredentials


class StsClient(RpcClient):
    """The two STS actions. ``AssumeRole`` is signed with the provider's credentials (a key,
    or another role's: ``ChainableRamRoleArn``); ``AssumeRoleWithOIDC`` carries no signature."""

    product = STS_PRODUCT

    def __init__(self, base: CredentialsProvider | None, *, endpoint: str) -> None:
        # The region only names the endpoint, and ``endpoint`` already does.
        super().__init__(base or _ANONYMOUS, region="sts", endpoint=endpoint)

    def assume_role(
        self, session: RoleSession, external_id: str | None, source: str
    ) -> Credentials:
        params = session.parameters()
        if external_id:
            params["ExternalId"] = external_id
        return self._credentials_of(ASSUME_ROLE, params, source)

    def assume_role_with_oidc(
        self, session: RoleSession, provider_arn: str, token: str, source: str
    ) -> Credentials:
        params = {**session.parameters(), "OIDCProviderArn": provider_arn, "OIDCToken": token}
        return self._credentials_of(ASSUME_ROLE_WITH_OIDC, params, source)

    def _credentials_of(self, action: str, params: dict[str, str], source: str) -> Credentials:
        answer = self._typed(action, params, _StsAnswer).Credentials
        return make_credentials(
            answer.AccessKeyId,
            answer.AccessKeySecret.get_secret_value(),
            answer.SecurityToken.get_secret_value(),
            source=source,
            expiration=parse_expiration(answer.Expiration, where=f"{action} at {self.endpoint}"),
        )

    def _signed(self, action: str, params: Mapping[str, str], creds: Credentials) -> SignedForm:
        if action == ASSUME_ROLE_WITH_OIDC:
            unsigned = {
                "Action": action,
                "Format": "JSON",
                "Version": STS_VERSION,
                "Timestamp": format_timestamp(),
                **params,
            }
            return SignedForm(unsigned, form_body(unsigned))
        token = creds.security_token.get_secret_value() if creds.security_token else None
        # No RegionId: STS is global, and the official library sends none.
        return signed_form(
            "POST",
            action,
            params,
            access_key_id=creds.access_key_id,
            access_key_secret=creds.access_key_secret.get_secret_value(),
            security_token=token,
            version=STS_VERSION,
        )


def assume_role_provider(
    base: CredentialsProvider,
    session: RoleSession,
    *,
    external_id: str | None,
    endpoint: str,
    source: str,
) -> RefreshingProvider:
    """The role's credentials, assumed with ``base`` (asked afresh at each refresh)."""
    client = StsClient(base, endpoint=endpoint)

    def fetch() -> Credentials:
        return _failing_as_source(source, lambda: client.assume_role(session, external_id, source))

    return RefreshingProvider(fetch, source=source)


def oidc_provider(
    session: RoleSession, *, provider_arn: str, token_file: str, endpoint: str, source: str
) -> RefreshingProvider:
    """The role's credentials for the OIDC token in ``token_file``, read again at each refresh
    (the CI platform or ACK's RRSA rotates it)."""
    client = StsClient(None, endpoint=endpoint)

    def fetch() -> Credentials:
        token = read_token_file(token_file)
        return _failing_as_source(
            source, lambda: client.assume_role_with_oidc(session, provider_arn, token, source)
        )

    return RefreshingProvider(fetch, source=source)


def read_token_file(path: str) -> str:
    try:
        token = Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise CredentialsError(f"cannot read the OIDC token file {path}: {exc.strerror}") from None
    if not token:
        raise CredentialsError(f"the OIDC token file {path} is empty")
    return token


def _failing_as_source(source: str, call: Callable[[], Credentials]) -> Credentials:
    """The call's credentials; its CloudError as this source's CredentialsError."""
    try:
        return call()
    except CloudError as exc:
        raise CredentialsError(f"{source}: {exc}") from exc
