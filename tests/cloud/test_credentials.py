from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.cloud.credentials import resolve_credentials
from reconciler.errors import CredentialsError
from tests.fixtures.runs import closed_port

MISSING = Path("/nonexistent/reconciler-test/config.json")


def write_config(tmp_path: Path, profiles: list[dict[str, str]], current: str = "default") -> Path:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"current": current, "profiles": profiles, "meta_path": ""}))
    return path


def ak_profile(name: str, key_id: str, secret: str) -> dict[str, str]:
    return {
        "name": name,
        "mode": "AK",
        "access_key_id": key_id,
        "access_key_secret": secret,
        "sts_token": "",
        "region_id": "cn-hangzhou",
    }


FULL_ENV = {
    "ALIBABA_CLOUD_ACCESS_KEY_ID": "env-id",
    "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "env-secret",
    "ALICLOUD_ACCESS_KEY": "legacy-id",
    "ALICLOUD_SECRET_KEY": "legacy-secret",
}


def test_explicit_arguments_win_over_environment_and_profile(tmp_path):
    path = write_config(tmp_path, [ak_profile("default", "file-id", "file-secret")])
    creds = resolve_credentials(
        access_key_id="arg-id",
        access_key_secret="arg-secret",
        security_token="arg-token",
        env=FULL_ENV,
        config_path=path,
    )
    assert creds.access_key_id == "arg-id"
    assert creds.access_key_secret.get_secret_value() == "arg-secret"
    assert creds.security_token is not None
    assert creds.security_token.get_secret_value() == "arg-token"
    assert creds.source == "arguments"


def test_alibaba_cloud_variables_win_over_legacy_ones_and_profile(tmp_path):
    path = write_config(tmp_path, [ak_profile("default", "file-id", "file-secret")])
    env = {**FULL_ENV, "ALIBABA_CLOUD_SECURITY_TOKEN": "env-token"}
    creds = resolve_credentials(env=env, config_path=path)
    assert creds.access_key_id == "env-id"
    assert creds.security_token is not None
    assert creds.security_token.get_secret_value() == "env-token"
    assert "ALIBABA_CLOUD_ACCESS_KEY_ID" in creds.source


def test_legacy_variables_win_over_profile(tmp_path):
    path = write_config(tmp_path, [ak_profile("default", "file-id", "file-secret")])
    env = {"ALICLOUD_ACCESS_KEY": "legacy-id", "ALICLOUD_SECRET_KEY": "legacy-secret"}
    creds = resolve_credentials(env=env, config_path=path)
    assert creds.access_key_id == "legacy-id"
    assert creds.access_key_secret.get_secret_value() == "legacy-secret"
    assert creds.security_token is None


def test_profile_file_current_profile_is_used(tmp_path):
    path = write_config(
        tmp_path,
        [ak_profile("default", "d-id", "d-secret"), ak_profile("work", "w-id", "w-secret")],
        current="work",
    )
    creds = resolve_credentials(env={}, config_path=path)
    assert creds.access_key_id == "w-id"
    assert creds.source == f"profile 'work' in {path}"


def test_profile_argument_beats_environment_profile_which_beats_current(tmp_path):
    path = write_config(
        tmp_path,
        [
            ak_profile("default", "d-id", "d-secret"),
            ak_profile("env", "e-id", "e-secret"),
            ak_profile("arg", "a-id", "a-secret"),
        ],
    )
    env = {"ALIBABA_CLOUD_PROFILE": "env"}
    assert resolve_credentials(env=env, config_path=path).access_key_id == "e-id"
    assert resolve_credentials(profile="arg", env=env, config_path=path).access_key_id == "a-id"


def test_sts_token_profile_carries_the_token(tmp_path):
    profile = {**ak_profile("sts", "sts-id", "sts-secret"), "mode": "StsToken", "sts_token": "T0k"}
    path = write_config(tmp_path, [profile], current="sts")
    creds = resolve_credentials(env={}, config_path=path)
    assert creds.security_token is not None
    assert creds.security_token.get_secret_value() == "T0k"


def test_ak_profile_ignores_a_leftover_sts_token(tmp_path):
    profile = {**ak_profile("default", "id", "secret"), "sts_token": "stale"}
    path = write_config(tmp_path, [profile])
    assert resolve_credentials(env={}, config_path=path).security_token is None


def test_unsupported_profile_mode_is_named(tmp_path):
    profile = {**ak_profile("default", "id", "secret"), "mode": "CloudSSO"}
    path = write_config(tmp_path, [profile])
    with pytest.raises(CredentialsError, match="mode 'CloudSSO' is not supported"):
        resolve_credentials(env={}, config_path=path)


def test_unknown_profile_lists_the_known_ones(tmp_path):
    path = write_config(tmp_path, [ak_profile("default", "id", "secret")])
    with pytest.raises(CredentialsError, match=r"no profile named 'nope' \(profiles: default\)"):
        resolve_credentials(profile="nope", env={}, config_path=path)


def test_profile_asked_for_without_a_config_file_says_so():
    with pytest.raises(CredentialsError, match="profile 'p' was asked for"):
        resolve_credentials(
            env={"ALIBABA_CLOUD_PROFILE": "p"}, config_path=MISSING, credentials_file=MISSING
        )


def test_broken_config_json_is_located(tmp_path):
    path = tmp_path / "config.json"
    path.write_text('{\n  "current": "default",\n  "profiles": [\n}')
    with pytest.raises(CredentialsError, match=rf"{path}:4:1: not valid JSON"):
        resolve_credentials(env={}, config_path=path)


def test_half_a_key_pair_is_an_error_not_skipped(tmp_path):
    path = write_config(tmp_path, [ak_profile("default", "id", "secret")])
    with pytest.raises(
        CredentialsError,
        match="ALIBABA_CLOUD_ACCESS_KEY_ID is set but environment variable "
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET is not",
    ):
        resolve_credentials(env={"ALIBABA_CLOUD_ACCESS_KEY_ID": "id"}, config_path=path)
    with pytest.raises(CredentialsError, match="access_key_secret argument is set"):
        resolve_credentials(access_key_secret="s", env={}, config_path=path)


def test_blank_variables_count_as_unset(tmp_path):
    path = write_config(tmp_path, [ak_profile("default", "file-id", "file-secret")])
    env = {"ALIBABA_CLOUD_ACCESS_KEY_ID": "", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": " "}
    assert resolve_credentials(env=env, config_path=path).access_key_id == "file-id"


def test_missing_credentials_message_names_every_place_looked():
    closed_port_url = f"http://127.0.0.1:{closed_port()}"
    with pytest.raises(CredentialsError) as info:
        resolve_credentials(
            env={},
            config_path=MISSING,
            credentials_file=MISSING,
            metadata_url=closed_port_url,
        )
    message = str(info.value)
    assert "\n" not in message
    for place in (
        "arguments (none given)",
        "ALIBABA_CLOUD_ACCESS_KEY_ID/ALIBABA_CLOUD_ACCESS_KEY_SECRET (unset)",
        "ALICLOUD_ACCESS_KEY/ALICLOUD_SECRET_KEY (unset)",
        "ALIBABA_CLOUD_ROLE_ARN/ALIBABA_CLOUD_OIDC_PROVIDER_ARN/ALIBABA_CLOUD_OIDC_TOKEN_FILE"
        " (unset)",
        f"aliyun CLI config {MISSING} (not found)",
        f"credentials file {MISSING} (not found)",
        f"ECS RAM role (ECS metadata service {closed_port_url}: IMDSv2 token: cannot connect",
        "ALIBABA_CLOUD_CREDENTIALS_URI (unset)",
    ):
        assert place in message


def test_each_disabled_source_says_why_it_was_skipped(tmp_path):
    path = write_config(tmp_path, [ak_profile("default", "id", "secret")])
    env = {
        "ALIBABA_CLOUD_CLI_PROFILE_DISABLED": "true",
        "ALIBABA_CLOUD_ECS_METADATA_DISABLED": "TRUE",
    }
    with pytest.raises(CredentialsError) as info:
        resolve_credentials(env=env, config_path=path, credentials_file=MISSING)
    assert "aliyun CLI config (ALIBABA_CLOUD_CLI_PROFILE_DISABLED is true)" in str(info.value)
    assert "ECS RAM role (ALIBABA_CLOUD_ECS_METADATA_DISABLED is true)" in str(info.value)


def test_default_config_path_is_under_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".aliyun").mkdir()
    write_config(tmp_path / ".aliyun", [ak_profile("default", "home-id", "home-secret")])
    assert resolve_credentials(env={}).access_key_id == "home-id"


def test_secrets_do_not_show_in_repr():
    creds = resolve_credentials(
        access_key_id="id", access_key_secret="very-secret", security_token="very-token", env={}
    )
    assert "very-secret" not in repr(creds)
    assert "very-token" not in repr(creds)
    assert "very-secret" not in str(creds.model_dump())
