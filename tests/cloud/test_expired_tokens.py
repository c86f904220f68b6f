"""Temporary credentials the service refuses, through both API generations against the
emulator: a token missing or not matching its key is an ``AuthError``; an expired one is
fetched again and the call tried once more when the credentials come from a source that
refreshes, and fails in one line saying what to do when they were handed over as they are."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from reconciler.cloud.credentials import resolve_credentials
from reconciler.cloud.credentials.model import Credentials
from reconciler.cloud.credentials.refresh import RefreshingProvider
from reconciler.cloud.credentials.sts import RoleSession, StsClient, oidc_provider
from reconciler.cloud.retry import RetryPolicy
from reconciler.errors import AuthError
from tests.fixtures.apis import ApiCase
from tests.fixtures.emulator_store import expire_issued
from tests.fixtures.sts import StsEmulator, assume_role

# Retries that would show up in the request counts if an auth error were retried.
CONCURRENT = 8
RETRY = RetryPolicy(max_attempts=5, base_delay=0.0, max_delay=0.0, deadline=30)


def issued(sts_emulator: StsEmulator) -> tuple[str, str, str]:
    """Key id, secret and token of fresh credentials for the fixture's role."""
    answer = assume_role(sts_emulator)
    assert answer.status_code == 200, answer.text
    creds = answer.json()["Credentials"]
    return creds["AccessKeyId"], creds["AccessKeySecret"], creds["SecurityToken"]


def handed_over(key_id: str, secret: str, token: str | None) -> Credentials:
    return resolve_credentials(
        access_key_id=key_id, access_key_secret=secret, security_token=token, env={}
    )


def oidc_role(sts_emulator: StsEmulator, tmp_path: Path) -> RefreshingProvider:
    token_file = tmp_path / "oidc-token"
    token_file.write_text(sts_emulator.mint_oidc_token())
    return oidc_provider(
        RoleSession(sts_emulator.role_arn, session_name="expiry-test"),
        provider_arn=sts_emulator.oidc_provider_arn,
        token_file=str(token_file),
        endpoint=sts_emulator.url,
        source="OIDC test role",
    )


@pytest.mark.parametrize(
    ("token", "code"),
    [
        (None, "MissingSecurityToken"),
        ("not-the-token", "InvalidSecurityToken.MismatchWithAccessKey"),
    ],
)
def test_a_missing_or_foreign_security_token_is_an_auth_error_tried_once(
    token: str | None, code: str, api_case: ApiCase, sts_emulator: StsEmulator
) -> None:
    key_id, secret, _ = issued(sts_emulator)
    before = sts_emulator.request_count(api_case.list_action)
    creds = handed_over(key_id, secret, token)
    with (
        api_case.client(creds, endpoint=sts_emulator.url, retry=RETRY) as client,
        pytest.raises(AuthError) as caught,
    ):
        client.list_group_ids(sts_emulator.instance_id)
    assert caught.value.code == code
    assert sts_emulator.request_count(api_case.list_action) == before + 1


def test_an_expired_answer_to_refreshing_credentials_fetches_them_again_and_retries_once(
    api_case: ApiCase, sts_emulator: StsEmulator, tmp_path: Path
) -> None:
    provider = oidc_role(sts_emulator, tmp_path)
    with api_case.client(provider, endpoint=sts_emulator.url, retry=RETRY) as client:
        client.list_group_ids(sts_emulator.instance_id)
        first = provider.current()
        # Valid for an hour by our clock, expired by the service's.
        expire_issued(sts_emulator.store, first.access_key_id)
        lists_before = sts_emulator.request_count(api_case.list_action)
        client.list_group_ids(sts_emulator.instance_id)
    assert provider.current().access_key_id != first.access_key_id
    assert sts_emulator.request_count("AssumeRoleWithOIDC") == 2
    assert sts_emulator.request_count(api_case.list_action) == lists_before + 2


def test_calls_refused_at_once_share_one_refresh(
    api_case: ApiCase, sts_emulator: StsEmulator, tmp_path: Path
) -> None:
    provider = oidc_role(sts_emulator, tmp_path)
    with api_case.client(provider, endpoint=sts_emulator.url, retry=RETRY) as client:
        expire_issued(sts_emulator.store, provider.current().access_key_id)
        instances = [sts_emulator.instance_id] * CONCURRENT
        with ThreadPoolExecutor(max_workers=CONCURRENT) as pool:
            listings = list(pool.map(client.list_group_ids, instances))
    assert listings == [[]] * CONCURRENT
    assert sts_emulator.request_count("AssumeRoleWithOIDC") == 2


def test_credentials_expired_again_right_after_the_refresh_are_not_fetched_a_third_time(
    api_case: ApiCase, sts_emulator: StsEmulator
) -> None:
    base = handed_over(sts_emulator.account_key_id, sts_emulator.account_secret, None)
    sts = StsClient(base, endpoint=sts_emulator.url)
    session = RoleSession(sts_emulator.role_arn, session_name="always-expired")

    def fetch_already_expired() -> Credentials:
        fresh = sts.assume_role(session, None, "stale role")
        expire_issued(sts_emulator.store, fresh.access_key_id)
        return fresh

    provider = RefreshingProvider(fetch_already_expired, source="stale role")
    with (
        sts,
        api_case.client(provider, endpoint=sts_emulator.url, retry=RETRY) as client,
        pytest.raises(AuthError) as caught,
    ):
        client.list_group_ids(sts_emulator.instance_id)
    assert caught.value.code == "InvalidSecurityToken.Expired"
    assert str(caught.value).startswith(
        f"{api_case.list_action} failed: InvalidSecurityToken.Expired (HTTP 400): Specified "
        "SecurityToken is expired; so were the credentials fetched again from stale role right "
        "after"
    )
    assert sts_emulator.request_count("AssumeRole") == 2


def test_an_expired_static_sts_token_fails_in_one_line_saying_what_to_do(
    api_case: ApiCase, sts_emulator: StsEmulator
) -> None:
    key_id, secret, token = issued(sts_emulator)
    expire_issued(sts_emulator.store, key_id)
    before = sts_emulator.request_count(api_case.list_action)
    creds = handed_over(key_id, secret, token)
    with (
        api_case.client(creds, endpoint=sts_emulator.url, retry=RETRY) as client,
        pytest.raises(AuthError) as caught,
    ):
        client.list_group_ids(sts_emulator.instance_id)
    message = str(caught.value)
    assert caught.value.code == "InvalidSecurityToken.Expired"
    assert "\n" not in message
    assert "the STS token from arguments is never refreshed: get a new one" in message
    assert token not in message and secret not in message
    assert sts_emulator.request_count(api_case.list_action) == before + 1
    assert sts_emulator.request_count("AssumeRole") == 1  # only the test's own
