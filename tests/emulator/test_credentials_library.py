"""The official credential providers (alibabacloud-credentials 1.0.12) get credentials from the
emulator: OIDC and RamRoleArn from its STS over HTTPS (the library speaks HTTPS only to STS),
EcsRamRole from its metadata endpoints (IMDSv2 token first), URI from its credentials URI; and
the credentials they get work on the MQTT APIs.

What the library lets a test override, read from its source: the STS endpoint only through the
providers' ``sts_endpoint`` argument (the environment offers ``ALIBABA_CLOUD_STS_REGION`` and
``ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED``, which only build ``sts[-vpc].<region>.aliyuncs.com``);
the metadata host not at all (``100.100.100.200`` is a private attribute, which these tests
set); the CA it trusts only through OpenSSL's ``SSL_CERT_FILE``: Tea mounts its own TLS adapter
(``ssl.create_default_context()`` plus certifi's CAs) and ignores ``REQUESTS_CA_BUNDLE``.
"""

from __future__ import annotations

import pytest
from alibabacloud_credentials.exceptions import CredentialException
from alibabacloud_credentials.provider import (
    EcsRamRoleCredentialsProvider,
    OIDCRoleArnCredentialsProvider,
    RamRoleArnCredentialsProvider,
    URLCredentialsProvider,
)
from Tea.core import TeaCore

from reconciler.cloud.credentials import Credentials
from reconciler.emulator.sts_actions import ASSUME_ROLE, ASSUME_ROLE_WITH_OIDC


@pytest.fixture
def library_trusts_the_test_ca(sts_emulator, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SSL_CERT_FILE", sts_emulator.ca_bundle)
    # Tea keeps one session (and TLS context) per host for the process: start afresh.
    monkeypatch.setattr(TeaCore, "_sessions", {})
    return sts_emulator


def _works_on(sts_emulator, api_case, got) -> None:
    """The library's credentials list the role account's instance."""
    credentials = Credentials(
        access_key_id=got.get_access_key_id(),
        access_key_secret=got.get_access_key_secret(),
        security_token=got.get_security_token(),
        source="alibabacloud-credentials",
    )
    client = api_case.client(credentials, endpoint=sts_emulator.url)
    assert client.list_group_ids(sts_emulator.instance_id) == []


def test_oidc_role_arn_provider(library_trusts_the_test_ca, api_case, tmp_path):
    emulator = library_trusts_the_test_ca
    token_file = tmp_path / "oidc-token"
    token_file.write_text(emulator.mint_oidc_token(), encoding="utf-8")
    provider = OIDCRoleArnCredentialsProvider(
        role_arn=emulator.role_arn,
        oidc_provider_arn=emulator.oidc_provider_arn,
        oidc_token_file_path=str(token_file),
        role_session_name="library-oidc",
        sts_endpoint=emulator.sts_endpoint,
    )
    got = provider.get_credentials()
    assert got.get_access_key_id().startswith("STS.")
    assert emulator.request_count(ASSUME_ROLE_WITH_OIDC) == 1
    _works_on(emulator, api_case, got)


def test_oidc_provider_reports_the_sts_refusal(library_trusts_the_test_ca, tmp_path):
    emulator = library_trusts_the_test_ca
    token_file = tmp_path / "oidc-token"
    token_file.write_text(emulator.mint_oidc_token(aud="someone-else"), encoding="utf-8")
    provider = OIDCRoleArnCredentialsProvider(
        role_arn=emulator.role_arn,
        oidc_provider_arn=emulator.oidc_provider_arn,
        oidc_token_file_path=str(token_file),
        sts_endpoint=emulator.sts_endpoint,
    )
    with pytest.raises(CredentialException, match=r"AuthenticationFail\.OIDCToken\.Audience"):
        provider.get_credentials()


def test_ram_role_arn_provider(library_trusts_the_test_ca, api_case):
    emulator = library_trusts_the_test_ca
    provider = RamRoleArnCredentialsProvider(
        access_key_id=emulator.account_key_id,
        access_key_secret=emulator.account_secret,
        role_arn=emulator.role_arn,
        role_session_name="library-ram",
        duration_seconds=900,
        sts_endpoint=emulator.sts_endpoint,
    )
    got = provider.get_credentials()
    assert got.get_access_key_id().startswith("STS.")
    assert emulator.request_count(ASSUME_ROLE) == 1
    _works_on(emulator, api_case, got)


@pytest.mark.parametrize("ca_variable", [None, "REQUESTS_CA_BUNDLE"])
def test_without_ssl_cert_file_the_library_does_not_trust_the_test_ca(
    sts_emulator, monkeypatch, ca_variable
):
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    if ca_variable is not None:
        monkeypatch.setenv(ca_variable, sts_emulator.ca_bundle)
    monkeypatch.setattr(TeaCore, "_sessions", {})
    provider = RamRoleArnCredentialsProvider(
        access_key_id=sts_emulator.account_key_id,
        access_key_secret=sts_emulator.account_secret,
        role_arn=sts_emulator.role_arn,
        sts_endpoint=sts_emulator.sts_endpoint,
    )
    with pytest.raises(Exception, match="CERTIFICATE_VERIFY_FAILED"):
        provider.get_credentials()


def test_ecs_ram_role_provider_asks_for_a_metadata_token_first(sts_emulator, api_case):
    sts_emulator.store.update_sts_settings(metadata_hardened=True)
    provider = EcsRamRoleCredentialsProvider(async_update_enabled=False)
    # The metadata host is fixed in the library (a private attribute): point it here.
    provider._EcsRamRoleCredentialsProvider__metadata_service_host = sts_emulator.metadata_host
    got = provider.get_credentials()
    assert sts_emulator.request_count("metadata-token") >= 1
    assert sts_emulator.request_count("metadata-role") == 1
    _works_on(sts_emulator, api_case, got)


def test_url_provider(sts_emulator, api_case):
    got = URLCredentialsProvider(uri=sts_emulator.credentials_uri).get_credentials()
    assert sts_emulator.request_count("credentials-uri") == 1
    _works_on(sts_emulator, api_case, got)
