"""An endpoint whose TLS certificate fails its check (the emulator's HTTPS listener, its test
CA not trusted): every path of the tool fails at once, in one line naming the endpoint and how
to trust a CA, never retried like a network error. The MQTT API clients, STS and a
credentials URI of the chain, and a command end to end."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from reconciler.cloud.credentials import Credentials, resolve_provider
from reconciler.emulator.tls import issue_test_certificate
from reconciler.errors import CredentialsError, UntrustedCertificateError
from tests.fixtures.apis import ApiCase
from tests.fixtures.apply_kit import write_desired
from tests.fixtures.runs import run_cli
from tests.fixtures.sts import StsEmulator

BUNDLE_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")
TRUST_HINT = "if a private CA signed it, set REQUESTS_CA_BUNDLE to that CA's PEM file"


@pytest.fixture
def untrusting(monkeypatch: pytest.MonkeyPatch) -> None:
    """Certifi's bundle only, which does not hold the emulator's test CA."""
    for name in BUNDLE_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def base_key(sts_emulator: StsEmulator) -> Credentials:
    return Credentials(
        access_key_id=sts_emulator.account_key_id,
        access_key_secret=sts_emulator.account_secret,
        source="test",
    )


@pytest.fixture
def retries_said(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """The client's log, where each retry says ``retrying in``."""
    caplog.set_level(logging.INFO, logger="reconciler.cloud")
    return caplog


def no_retry_said(caplog: pytest.LogCaptureFixture) -> None:
    assert not [record for record in caplog.records if "retrying" in record.getMessage()]


@pytest.mark.usefixtures("untrusting")
def test_an_untrusted_certificate_fails_the_call_at_once_naming_the_endpoint(
    api_case: ApiCase, sts_emulator: StsEmulator, retries_said: pytest.LogCaptureFixture
) -> None:
    waits: list[float] = []
    client = api_case.client(
        base_key(sts_emulator), endpoint=sts_emulator.https_url, sleep=waits.append
    )
    with client, pytest.raises(UntrustedCertificateError) as caught:
        client.list_group_ids(sts_emulator.instance_id)
    assert str(caught.value) == (
        f"{api_case.list_action}: the TLS certificate of {sts_emulator.https_url} is not trusted "
        f"(certificate verify failed: unable to get local issuer certificate): {TRUST_HINT}"
    )
    assert waits == []
    no_retry_said(retries_said)


def test_a_ca_bundle_without_the_signing_ca_is_named(
    api_case: ApiCase,
    sts_emulator: StsEmulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    other = issue_test_certificate(tmp_path / "other-ca", ["127.0.0.1"]).ca_bundle
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(other))
    client = api_case.client(base_key(sts_emulator), endpoint=sts_emulator.https_url)
    with client, pytest.raises(UntrustedCertificateError) as caught:
        client.list_group_ids(sts_emulator.instance_id)
    assert str(caught.value).endswith(
        f": REQUESTS_CA_BUNDLE ({other}) does not hold the CA that signed it"
    )


@pytest.mark.usefixtures("untrusting")
def test_sts_over_an_untrusted_certificate_is_one_line_at_once(
    sts_emulator: StsEmulator, tmp_path: Path, retries_said: pytest.LogCaptureFixture
) -> None:
    token_file = tmp_path / "oidc-token"
    token = sts_emulator.mint_oidc_token()
    token_file.write_text(token)
    env = {
        "ALIBABA_CLOUD_ROLE_ARN": sts_emulator.role_arn,
        "ALIBABA_CLOUD_OIDC_PROVIDER_ARN": sts_emulator.oidc_provider_arn,
        "ALIBABA_CLOUD_OIDC_TOKEN_FILE": str(token_file),
        "RECONCILER_STS_ENDPOINT": sts_emulator.https_url,
        "ALIBABA_CLOUD_ECS_METADATA_DISABLED": "true",
    }
    with pytest.raises(CredentialsError) as caught:
        resolve_provider(env=env, config_path=tmp_path / "none.json").current()
    message = str(caught.value)
    assert "\n" not in message and token not in message
    assert f"AssumeRoleWithOIDC: the TLS certificate of {sts_emulator.https_url} is not " in message
    assert message.endswith(TRUST_HINT)
    no_retry_said(retries_said)


@pytest.mark.usefixtures("untrusting")
def test_a_credentials_uri_over_an_untrusted_certificate_is_an_error_not_a_skip(
    sts_emulator: StsEmulator, tmp_path: Path
) -> None:
    env = {
        "ALIBABA_CLOUD_CREDENTIALS_URI": f"{sts_emulator.https_url}/credentials",
        "ALIBABA_CLOUD_ECS_METADATA_DISABLED": "true",
    }
    with pytest.raises(CredentialsError) as caught:
        resolve_provider(env=env, config_path=tmp_path / "none.json").current()
    message = str(caught.value)
    assert f"the TLS certificate of {sts_emulator.https_url} is not trusted" in message
    assert message.endswith(TRUST_HINT)
    assert sts_emulator.request_count("credentials-uri") == 0


@pytest.mark.usefixtures("untrusting")
def test_plan_against_an_untrusted_endpoint_ends_in_one_line_naming_where_it_came_from(
    sts_emulator: StsEmulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", sts_emulator.account_key_id)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", sts_emulator.account_secret)
    monkeypatch.setenv("RECONCILER_ENDPOINT", sts_emulator.https_url)
    write_desired("GID_alpha")
    planned = run_cli(capsys, "plan", "desired.yaml")
    assert planned.code == 1
    lines = planned.err.strip().splitlines()
    assert "Traceback" not in planned.err
    assert "retrying" not in planned.err
    assert lines[-1].startswith("Error: ")
    assert f"the TLS certificate of {sts_emulator.https_url} is not trusted" in lines[-1]
    assert lines[-1].endswith(f"{TRUST_HINT} (endpoint from $RECONCILER_ENDPOINT)")
