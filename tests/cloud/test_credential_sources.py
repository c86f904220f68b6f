"""Each network source of the chain against a scripted real HTTP server: what goes on the wire
(as the official library sends it), what comes back, each failure in one line without a secret,
and how often the source is asked."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from reconciler.cloud.client import OnsClient
from reconciler.cloud.credentials import resolve_provider
from reconciler.cloud.credentials.model import make_credentials
from reconciler.cloud.credentials.refresh import CredentialsRefreshError, RefreshingProvider
from reconciler.cloud.credentials.sts import sts_endpoint
from reconciler.cloud.registry import ClientRegistry
from reconciler.cloud.signing import sign
from reconciler.errors import CredentialsError
from tests.fixtures.runs import closed_port
from tests.fixtures.scripted_server import Reply, scripted

MISSING = Path("/nonexistent/reconciler-test/config")
ROLE_ARN = "acs:ram::1234567890:role/deployer"
PROVIDER_ARN = "acs:ram::1234567890:oidc-provider/github"
OIDC_TOKEN = "eyJhbGciOiJSUzI1NiJ9.oidc-token-body.signature-part"
STS_SECRET = "sts-issued-secret-value"
STS_TOKEN = "CAIS-issued-security-token"
BASE_SECRET = "base-key-secret-value"
QUIET = {"ALIBABA_CLOUD_ECS_METADATA_DISABLED": "true"}


def expiring_in(seconds: float) -> str:
    return datetime.fromtimestamp(time.time() + seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sts_answer(key_id: str = "STS.issued", lifetime: float = 3600) -> dict[str, Any]:
    return {
        "RequestId": "req-sts",
        "AssumedRoleUser": {"Arn": ROLE_ARN + "/s", "AssumedRoleId": "1:s"},
        "Credentials": {
            "AccessKeyId": key_id,
            "AccessKeySecret": STS_SECRET,
            "SecurityToken": STS_TOKEN,
            "Expiration": expiring_in(lifetime),
        },
    }


def source_answer(lifetime: float = 3600) -> dict[str, Any]:
    return {
        "Code": "Success",
        "AccessKeyId": "STS.from-source",
        "AccessKeySecret": STS_SECRET,
        "SecurityToken": STS_TOKEN,
        "Expiration": expiring_in(lifetime),
        "LastUpdated": expiring_in(0),
    }


def resolve(env: dict[str, str], **kwargs: Any) -> Any:
    return resolve_provider(
        env={**QUIET, **env},
        config_path=kwargs.pop("config_path", MISSING),
        credentials_file=kwargs.pop("credentials_file", MISSING),
        **kwargs,
    )


def oidc_env(tmp_path: Path, sts_url: str) -> dict[str, str]:
    token_file = tmp_path / "token"
    token_file.write_text(OIDC_TOKEN + "\n")
    return {
        "ALIBABA_CLOUD_ROLE_ARN": ROLE_ARN,
        "ALIBABA_CLOUD_OIDC_PROVIDER_ARN": PROVIDER_ARN,
        "ALIBABA_CLOUD_OIDC_TOKEN_FILE": str(token_file),
        "ALIBABA_CLOUD_ROLE_SESSION_NAME": "ci-run-42",
        "RECONCILER_STS_ENDPOINT": sts_url,
    }


def cli_config(tmp_path: Path, profiles: list[dict[str, Any]], current: str) -> Path:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"current": current, "profiles": profiles}))
    return path


# -- OIDC --------------------------------------------------------------------------------------


def test_oidc_from_the_environment_is_an_anonymous_assume_role_with_oidc(tmp_path):
    with scripted([Reply(body=sts_answer())]) as sts:
        provider = resolve(oidc_env(tmp_path, sts.url))
        creds = provider.current()
    assert (creds.access_key_id, creds.access_key_secret.get_secret_value()) == (
        "STS.issued",
        STS_SECRET,
    )
    assert creds.security_token is not None
    assert creds.security_token.get_secret_value() == STS_TOKEN
    assert creds.expiration is not None and creds.expiration > time.time() + 3000
    sent = sts.requests[0].params
    assert sent["Action"] == "AssumeRoleWithOIDC"
    assert sent["Version"] == "2015-04-01"
    assert sent["OIDCToken"] == OIDC_TOKEN
    assert sent["OIDCProviderArn"] == PROVIDER_ARN
    assert sent["RoleArn"] == ROLE_ARN
    assert sent["RoleSessionName"] == "ci-run-42"
    assert sent["DurationSeconds"] == "3600"
    assert "Signature" not in sent and "AccessKeyId" not in sent
    assert provider.source.startswith(f"role {ROLE_ARN} for the OIDC token in ")


def test_half_set_oidc_variables_are_an_error_naming_the_missing_ones(tmp_path):
    env = {"ALIBABA_CLOUD_OIDC_TOKEN_FILE": str(tmp_path / "token")}
    with pytest.raises(
        CredentialsError,
        match="half set: ALIBABA_CLOUD_ROLE_ARN, ALIBABA_CLOUD_OIDC_PROVIDER_ARN unset",
    ):
        resolve(env)


def test_a_missing_oidc_token_file_is_named(tmp_path):
    env = oidc_env(tmp_path, "http://127.0.0.1:9")
    env["ALIBABA_CLOUD_OIDC_TOKEN_FILE"] = str(tmp_path / "absent")
    with pytest.raises(CredentialsError, match=r"cannot read the OIDC token file .*absent"):
        resolve(env)


def test_a_refused_oidc_token_is_one_line_naming_the_code_never_the_token(tmp_path):
    refusal = {"RequestId": "r", "Code": "AuthenticationFail.OIDCToken.Expired", "Message": "x"}
    with (
        scripted([Reply(status=400, body=refusal)]) as sts,
        pytest.raises(CredentialsError) as info,
    ):
        resolve(oidc_env(tmp_path, sts.url))
    message = str(info.value)
    assert "AuthenticationFail.OIDCToken.Expired" in message
    assert f"role {ROLE_ARN}" in message
    assert OIDC_TOKEN not in message and "\n" not in message


# -- roles assumed with a key ----------------------------------------------------------------


def test_ram_role_arn_profile_signs_assume_role_with_the_profile_key(tmp_path):
    profile = {
        "name": "deploy",
        "mode": "RamRoleArn",
        "access_key_id": "LTAIbase",
        "access_key_secret": BASE_SECRET,
        "ram_role_arn": ROLE_ARN,
        "ram_session_name": "deploy-session",
        "expired_seconds": 1800,
        "external_id": "ext-1",
        "policy": '{"Version":"1"}',
    }
    with scripted([Reply(body=sts_answer())]) as sts:
        path = cli_config(tmp_path, [profile], "deploy")
        provider = resolve({"RECONCILER_STS_ENDPOINT": sts.url}, config_path=path)
    sent = sts.requests[0].params
    assert sent["Action"] == "AssumeRole"
    assert sent["AccessKeyId"] == "LTAIbase"
    assert (sent["RoleSessionName"], sent["DurationSeconds"]) == ("deploy-session", "1800")
    assert (sent["ExternalId"], sent["Policy"]) == ("ext-1", '{"Version":"1"}')
    assert "RegionId" not in sent
    assert sent["Signature"] == sign("POST", sent, BASE_SECRET)
    assert provider.current().access_key_id == "STS.issued"
    assert provider.source == (
        f"role {ROLE_ARN} assumed with profile 'deploy' in {path} (profile 'deploy' in {path})"
    )


def test_chainable_role_is_assumed_with_the_source_profiles_temporary_credentials(tmp_path):
    base = {
        "name": "base",
        "mode": "RamRoleArn",
        "access_key_id": "LTAIbase",
        "access_key_secret": BASE_SECRET,
        "ram_role_arn": ROLE_ARN,
    }
    chained = {
        "name": "chained",
        "mode": "ChainableRamRoleArn",
        "source_profile": "base",
        "ram_role_arn": ROLE_ARN + "-2",
    }
    replies = [Reply(body=sts_answer("STS.first")), Reply(body=sts_answer("STS.second"))]
    with scripted(replies) as sts:
        path = cli_config(tmp_path, [base, chained], "chained")
        provider = resolve({"RECONCILER_STS_ENDPOINT": sts.url}, config_path=path)
    first, second = (request.params for request in sts.requests)
    assert (first["AccessKeyId"], first["RoleArn"]) == ("LTAIbase", ROLE_ARN)
    assert (second["AccessKeyId"], second["RoleArn"]) == ("STS.first", ROLE_ARN + "-2")
    assert second["SecurityToken"] == STS_TOKEN
    assert second["Signature"] == sign("POST", second, STS_SECRET)
    assert provider.current().access_key_id == "STS.second"


def test_a_source_profile_loop_is_named(tmp_path):
    a = {"name": "a", "mode": "ChainableRamRoleArn", "source_profile": "b", "ram_role_arn": "r"}
    b = {"name": "b", "mode": "ChainableRamRoleArn", "source_profile": "a", "ram_role_arn": "r"}
    path = cli_config(tmp_path, [a, b], "a")
    with pytest.raises(CredentialsError, match=r"source_profile loops back \(a -> b -> a\)"):
        resolve({}, config_path=path)


def test_a_session_shorter_than_sts_allows_is_refused_before_any_call(tmp_path):
    profile = {
        "name": "p",
        "mode": "RamRoleArn",
        "access_key_id": "id",
        "access_key_secret": BASE_SECRET,
        "ram_role_arn": ROLE_ARN,
        "expired_seconds": 60,
    }
    with scripted([]) as sts:
        path = cli_config(tmp_path, [profile], "p")
        with pytest.raises(CredentialsError, match="at least 900 seconds"):
            resolve({"RECONCILER_STS_ENDPOINT": sts.url}, config_path=path)
    assert sts.requests == []


@pytest.mark.parametrize(
    ("env", "region", "vpc", "expected"),
    [
        ({}, None, None, "https://sts.aliyuncs.com"),
        (
            {"ALIBABA_CLOUD_STS_REGION": "cn-shanghai"},
            None,
            None,
            "https://sts.cn-shanghai.aliyuncs.com",
        ),
        (
            {
                "ALIBABA_CLOUD_STS_REGION": "cn-shanghai",
                "ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED": "true",
            },
            None,
            None,
            "https://sts-vpc.cn-shanghai.aliyuncs.com",
        ),
        (
            {"ALIBABA_CLOUD_STS_REGION": "cn-shanghai"},
            "eu-central-1",
            False,
            "https://sts.eu-central-1.aliyuncs.com",
        ),
        ({}, "cn-beijing", True, "https://sts-vpc.cn-beijing.aliyuncs.com"),
        (
            {"RECONCILER_STS_ENDPOINT": "10.0.0.5:8080", "ALIBABA_CLOUD_STS_REGION": "x"},
            "y",
            True,
            "http://10.0.0.5:8080",
        ),
    ],
)
def test_the_sts_endpoint_follows_the_region_the_vpc_switch_and_the_override(
    env, region, vpc, expected
):
    assert sts_endpoint(env, region=region, vpc=vpc) == expected


def test_a_bad_sts_endpoint_override_is_named():
    with pytest.raises(CredentialsError, match="RECONCILER_STS_ENDPOINT: invalid endpoint"):
        sts_endpoint({"RECONCILER_STS_ENDPOINT": "ftp://x"})


# -- ECS metadata --------------------------------------------------------------------------------


def test_ecs_role_is_discovered_with_an_imdsv2_token_and_asked_once_per_lifetime():
    replies = [
        Reply(body=b"imds-token-value"),
        Reply(body=b"EcsDeployRole"),
        Reply(body=source_answer()),
    ]
    with scripted(replies) as metadata:
        provider = resolve_provider(
            env={}, config_path=MISSING, credentials_file=MISSING, metadata_url=metadata.url
        )
        for _ in range(100):
            provider.current()
    token, roles, creds = metadata.requests
    assert (token.method, token.path) == ("PUT", "/latest/api/token")
    assert token.headers["x-aliyun-ecs-metadata-token-ttl-seconds"] == "21600"
    assert (roles.method, roles.path) == ("GET", "/latest/meta-data/ram/security-credentials/")
    assert roles.headers["x-aliyun-ecs-metadata-token"] == "imds-token-value"
    assert creds.path == "/latest/meta-data/ram/security-credentials/EcsDeployRole"
    assert creds.headers["x-aliyun-ecs-metadata-token"] == "imds-token-value"
    assert provider.current().access_key_id == "STS.from-source"
    assert "EcsDeployRole" in provider.current().source


def test_a_named_ecs_role_is_not_discovered_and_imdsv1_is_the_fallback():
    replies = [Reply(status=403, body=b"no"), Reply(body=source_answer())]
    with scripted(replies) as metadata:
        provider = resolve_provider(
            env={"ALIBABA_CLOUD_ECS_METADATA": "Named"},
            config_path=MISSING,
            credentials_file=MISSING,
            metadata_url=metadata.url,
        )
    assert provider.current().access_key_id == "STS.from-source"
    assert metadata.requests[1].path.endswith("/security-credentials/Named")
    assert "x-aliyun-ecs-metadata-token" not in metadata.requests[1].headers


def test_imdsv1_disabled_makes_a_refused_token_an_error():
    env = {"ALIBABA_CLOUD_ECS_METADATA": "Named", "ALIBABA_CLOUD_IMDSV1_DISABLED": "true"}
    with (
        scripted([Reply(status=403, body=b"no")]) as metadata,
        pytest.raises(
            CredentialsError,
            match=r"IMDSv2 token \(ALIBABA_CLOUD_IMDSV1_DISABLED is true\): HTTP 403",
        ),
    ):
        resolve_provider(
            env=env, config_path=MISSING, credentials_file=MISSING, metadata_url=metadata.url
        )


def test_a_named_ecs_role_off_ecs_is_an_error_not_a_skip():
    with pytest.raises(CredentialsError, match="cannot connect"):
        resolve_provider(
            env={"ALIBABA_CLOUD_ECS_METADATA": "Named"},
            config_path=MISSING,
            credentials_file=MISSING,
            metadata_url=f"http://127.0.0.1:{closed_port()}",
        )


# -- credentials URI -----------------------------------------------------------------------------


def test_credentials_uri_is_asked_with_its_query_and_shown_without_it():
    with scripted([Reply(body=source_answer())]) as server:
        provider = resolve({"ALIBABA_CLOUD_CREDENTIALS_URI": server.url + "/creds?key=QUERYSECRET"})
        for _ in range(50):
            provider.current()
    assert len(server.requests) == 1
    assert server.requests[0].method == "GET"
    assert server.requests[0].path == "/creds?key=QUERYSECRET"
    assert provider.source == (
        f"credentials URI {server.url}/creds (environment ALIBABA_CLOUD_CREDENTIALS_URI)"
    )


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (Reply(status=500, body={"Code": "InternalError"}), "HTTP 500 InternalError"),
        (Reply(body={**source_answer(), "Code": "Failed"}), "Code is 'Failed', not 'Success'"),
        (
            Reply(body={k: v for k, v in source_answer().items() if k != "SecurityToken"}),
            r"the answer is not credentials \(SecurityToken: Field required\)",
        ),
        (Reply(body={**source_answer(), "Expiration": "soon"}), "Expiration 'soon' is not a time"),
        (Reply(body=b"<html>"), r"the answer is not credentials \(not JSON\)"),
    ],
)
def test_a_bad_credentials_uri_answer_is_one_line_without_secrets(reply, expected):
    with scripted([reply]) as server, pytest.raises(CredentialsError, match=expected) as info:
        resolve({"ALIBABA_CLOUD_CREDENTIALS_URI": server.url + "/c"})
    assert STS_SECRET not in str(info.value) and STS_TOKEN not in str(info.value)


def test_credentials_uri_profile_mode(tmp_path):
    with scripted([Reply(body=source_answer())]) as server:
        profile = {"name": "u", "mode": "CredentialsURI", "credentials_uri": server.url + "/c"}
        provider = resolve({}, config_path=cli_config(tmp_path, [profile], "u"))
        assert provider.current().access_key_id == "STS.from-source"


def test_ecs_ram_role_profile_mode(tmp_path):
    replies = [Reply(body=b"t"), Reply(body=source_answer())]
    with scripted(replies) as metadata:
        profile = {"name": "e", "mode": "EcsRamRole", "ram_role_name": "ProfileRole"}
        provider = resolve(
            {}, config_path=cli_config(tmp_path, [profile], "e"), metadata_url=metadata.url
        )
    assert provider.current().access_key_id == "STS.from-source"
    assert metadata.requests[1].path.endswith("/ProfileRole")


def test_oidc_profile_mode(tmp_path):
    token_file = tmp_path / "tok"
    token_file.write_text(OIDC_TOKEN)
    with scripted([Reply(body=sts_answer())]) as sts:
        profile = {
            "name": "o",
            "mode": "OIDC",
            "ram_role_arn": ROLE_ARN,
            "oidc_provider_arn": PROVIDER_ARN,
            "oidc_token_file": str(token_file),
            "role_session_name": "from-profile",
        }
        resolve(
            {"RECONCILER_STS_ENDPOINT": sts.url}, config_path=cli_config(tmp_path, [profile], "o")
        )
    assert sts.requests[0].params["RoleSessionName"] == "from-profile"
    assert sts.requests[0].params["OIDCToken"] == OIDC_TOKEN


# -- the INI credentials file --------------------------------------------------------------------


def test_ini_file_access_key_and_ram_role_arn_sections(tmp_path):
    ini = tmp_path / "credentials.ini"
    ini.write_text(
        "[default]\ntype = access_key\naccess_key_id = ini-id\n"
        "access_key_secret = ini-secret # a comment\n"
        f"[role]\ntype = ram_role_arn\naccess_key_id = ini-id\naccess_key_secret = {BASE_SECRET}\n"
        f"role_arn = {ROLE_ARN}\nrole_session_name = ini-session\n"
    )
    creds = resolve({"ALIBABA_CLOUD_CREDENTIALS_FILE": str(ini)}).current()
    assert (creds.access_key_id, creds.access_key_secret.get_secret_value()) == (
        "ini-id",
        "ini-secret",
    )
    with scripted([Reply(body=sts_answer())]) as sts:
        env = {"ALIBABA_CLOUD_PROFILE": "role", "RECONCILER_STS_ENDPOINT": sts.url}
        assert resolve(env, credentials_file=ini).current().access_key_id == "STS.issued"
    assert sts.requests[0].params["RoleSessionName"] == "ini-session"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[default]\ntype = rsa_key_pair\n", "type 'rsa_key_pair' is not supported"),
        (
            "[default]\ntype = access_key\naccess_key_id = x\n",
            "access_key_id is set but access_key_secret is not",
        ),
        ("[default\n", r"credentials.ini:1: not a valid INI file"),
    ],
)
def test_ini_file_mistakes_are_named(tmp_path, text, expected):
    ini = tmp_path / "credentials.ini"
    ini.write_text(text)
    with pytest.raises(CredentialsError, match=expected):
        resolve({}, credentials_file=ini)


@pytest.mark.parametrize("name", ["credentials", "credentials.ini"])
def test_the_default_credentials_file_goes_by_either_name(tmp_path, monkeypatch, name):
    folder = tmp_path / ".alibabacloud"
    folder.mkdir()
    (folder / name).write_text(
        "[default]\ntype = access_key\naccess_key_id = home-id\naccess_key_secret = s\n"
    )
    monkeypatch.setenv("HOME", str(tmp_path))
    found = resolve({}, config_path=tmp_path / "none.json", credentials_file=None)
    assert found.current().access_key_id == "home-id"


def test_a_named_credentials_file_that_does_not_exist_is_an_error(tmp_path):
    env = {"ALIBABA_CLOUD_CREDENTIALS_FILE": str(tmp_path / "nope.ini")}
    with pytest.raises(CredentialsError, match=r"ALIBABA_CLOUD_CREDENTIALS_FILE names .*nope\.ini"):
        resolve(env)


def test_a_profile_missing_from_the_cli_file_is_taken_from_the_ini_file(tmp_path):
    path = cli_config(
        tmp_path,
        [{"name": "default", "mode": "AK", "access_key_id": "a", "access_key_secret": "b"}],
        "default",
    )
    ini = tmp_path / "credentials.ini"
    ini.write_text("[other]\ntype = access_key\naccess_key_id = ini-id\naccess_key_secret = s\n")
    env = {"ALIBABA_CLOUD_PROFILE": "other"}
    assert resolve(env, config_path=path, credentials_file=ini).current().access_key_id == "ini-id"


# -- refresh ------------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_refresh_happens_a_third_of_a_short_lifetime_before_expiry_and_once():
    clock = Clock()
    issued: list[float] = []

    def fetch() -> Any:
        issued.append(clock.now)
        return make_credentials(
            f"STS.{len(issued)}", "s", "t", source="test", expiration=clock.now + 30
        )

    provider = RefreshingProvider(fetch, source="test", clock=clock)
    assert provider.current().access_key_id == "STS.1"
    clock.now += 19.9
    assert provider.current().access_key_id == "STS.1"
    clock.now += 0.1
    assert provider.current().access_key_id == "STS.2"
    assert provider.current().access_key_id == "STS.2"
    assert len(issued) == 2


def test_a_long_lifetime_is_refreshed_fifteen_minutes_early_as_the_library_does():
    clock = Clock()
    calls = []

    def fetch() -> Any:
        calls.append(1)
        return make_credentials("k", "s", "t", source="test", expiration=clock.now + 3600)

    provider = RefreshingProvider(fetch, source="test", clock=clock)
    provider.current()
    clock.now += 3600 - 15 * 60 - 1
    provider.current()
    assert len(calls) == 1
    clock.now += 1
    provider.current()
    assert len(calls) == 2


def test_a_failed_refresh_stops_every_later_caller_without_asking_again():
    clock = Clock()
    attempts = []

    def fetch() -> Any:
        attempts.append(1)
        if len(attempts) > 1:
            raise CredentialsError("credentials URI http://x/c: HTTP 503")
        return make_credentials("k", "s", "t", source="test", expiration=clock.now + 60)

    provider = RefreshingProvider(fetch, source="the test source", clock=clock)
    provider.current()
    clock.now += 50
    for _ in range(3):
        with pytest.raises(CredentialsRefreshError) as info:
            provider.current()
    assert str(info.value) == (
        "the credentials from the test source could not be refreshed, so no further call is "
        "started: credentials URI http://x/c: HTTP 503"
    )
    assert len(attempts) == 2


def test_credentials_already_expired_when_fetched_point_at_the_clock():
    clock = Clock()
    provider = RefreshingProvider(
        lambda: make_credentials("k", "s", "t", source="x", expiration=clock.now - 5),
        source="the source",
        clock=clock,
    )
    with pytest.raises(
        CredentialsError, match=r"expired at .* already; check this machine's clock"
    ):
        provider.current()


def test_a_client_signs_each_call_with_the_providers_current_credentials():
    clock = Clock()
    issued: list[str] = []

    def fetch() -> Any:
        issued.append(f"STS.key{len(issued) + 1}")
        secret = f"secret-number-{len(issued)}"
        return make_credentials(issued[-1], secret, "tok", source="t", expiration=clock.now + 30)

    provider = RefreshingProvider(fetch, source="test", clock=clock)
    listing = {"RequestId": "r", "Data": []}
    with scripted([], default=Reply(body=listing)) as server:
        client = OnsClient(provider, region="cn-hangzhou", endpoint=server.url)
        client.call("OnsMqttGroupIdList", {"InstanceId": "i"})
        clock.now += 25
        client.call("OnsMqttGroupIdList", {"InstanceId": "i"})
        client.close()
    first, second = (request.params for request in server.requests)
    assert first["AccessKeyId"] == "STS.key1"
    assert second["AccessKeyId"] == "STS.key2"
    assert second["Signature"] == sign("POST", second, "secret-number-2")
    # The account's buckets stay the ones of the first key: a refresh is the same account.
    assert client._pacing_key == "STS.key1"
    assert client._redact("x secret-number-2 y secret-number-1") == "x *** y ***"


# -- against the emulator's STS --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("claims", "code"),
    [
        ({"exp": int(time.time()) - 60}, "AuthenticationFail.OIDCToken.Expired"),
        ({"aud": "someone-else"}, "AuthenticationFail.OIDCToken.AudienceNotMatch"),
        ({"iss": "https://elsewhere.example"}, "AuthenticationFail.OIDCToken.IssuerNotMatch"),
    ],
)
def test_a_refused_oidc_token_names_sts_code_in_one_line(claims, code, sts_emulator, tmp_path):
    env = oidc_env(tmp_path, sts_emulator.url)
    token = sts_emulator.mint_oidc_token(**claims)
    Path(env["ALIBABA_CLOUD_OIDC_TOKEN_FILE"]).write_text(token)
    env["ALIBABA_CLOUD_ROLE_ARN"] = sts_emulator.role_arn
    env["ALIBABA_CLOUD_OIDC_PROVIDER_ARN"] = sts_emulator.oidc_provider_arn
    with pytest.raises(CredentialsError) as info:
        resolve(env)
    message = str(info.value)
    assert code in message, message
    assert "\n" not in message
    assert token not in message and token.rsplit(".", 1)[1] not in message


def test_assume_role_with_a_wrong_secret_is_refused_in_one_line(sts_emulator, tmp_path):
    profile = {
        "name": "p",
        "mode": "RamRoleArn",
        "access_key_id": sts_emulator.account_key_id,
        "access_key_secret": "not-the-secret",
        "ram_role_arn": sts_emulator.role_arn,
    }
    path = cli_config(tmp_path, [profile], "p")
    with pytest.raises(CredentialsError) as info:
        resolve({"RECONCILER_STS_ENDPOINT": sts_emulator.url}, config_path=path)
    assert "AssumeRole" in str(info.value) and "not-the-secret" not in str(info.value)


def test_every_client_of_a_run_shares_one_provider_asked_once(monkeypatch):
    for name in ("ALIBABA_CLOUD_ACCESS_KEY_ID", "ALICLOUD_ACCESS_KEY", "ALIBABA_CLOUD_ROLE_ARN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", "/nonexistent/reconciler-test")
    monkeypatch.setenv("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
    monkeypatch.delenv("ALIBABA_CLOUD_PROFILE", raising=False)
    monkeypatch.delenv("ALIBABA_CLOUD_CREDENTIALS_FILE", raising=False)
    with scripted([Reply(body=source_answer())]) as uri:
        monkeypatch.setenv("ALIBABA_CLOUD_CREDENTIALS_URI", uri.url + "/c")
        registry = ClientRegistry(endpoint="http://127.0.0.1:9")
        clients = [
            registry.client("cn-hangzhou", "ons"),
            registry.client("cn-shanghai", "ons"),
            registry.client("cn-hangzhou", "onsmqtt"),
        ]
        assert {client.credentials.access_key_id for client in clients} == {"STS.from-source"}
        registry.close()
    assert len(uri.requests) == 1
