"""The fixture's roles, OIDC providers and STS settings: what they seed, and each mistake
located in the file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests
from jwt.algorithms import RSAAlgorithm

from reconciler.emulator.fixture import load_fixture, load_fixture_text
from reconciler.emulator.server import EmulatorServer
from reconciler.emulator.store import EmulatorStore, StsSettings
from reconciler.emulator.store.roles import derived_account_id
from reconciler.errors import ConfigError
from tests.fixtures.sts import public_pem
from tests.fixtures.wire import ok, signed_call


def _indented(text: str, spaces: int) -> str:
    return "\n".join(" " * spaces + line for line in text.splitlines())


def _document(public_key: str, *, role_extra: str = "", sts: str = "") -> str:
    return f"""\
accounts:
  - access_key_id: LTAI-a
    access_key_secret: secret-a
    account_id: 1111111111111111
    roles:
      - name: Deployer
        max_session_duration: 2h
        trusted_accounts: ["2222222222222222"]
        external_id: ext-1
        oidc_providers: [ci]{role_extra}
      - reader
    oidc_providers:
      - name: ci
        issuer: https://issuer.example.com
        client_ids: [sts.aliyuncs.com]
        public_key: |
{_indented(public_key, 10)}
  - access_key_id: LTAI-b
    access_key_secret: secret-b
{sts}"""


STS_BLOCK = """\
sts:
  duration: 30s
  instance_role: acs:ram::1111111111111111:role/deployer
  credentials_uri_role: acs:ram::1111111111111111:role/reader
  metadata_hardened: true
"""


def _load(text: str) -> EmulatorStore:
    store = EmulatorStore(None)
    load_fixture_text(text, "world.yaml", store)
    return store


def _error(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        _load(text)
    return str(caught.value)


def test_roles_providers_and_settings_are_seeded(oidc_issuer_key):
    store = _load(_document(public_pem(oidc_issuer_key), sts=STS_BLOCK))
    role = store.role("1111111111111111", "deployer")
    assert role is not None
    assert (role.name, role.max_session_duration, role.external_id) == ("deployer", 7200, "ext-1")
    assert (role.trusted_accounts, role.oidc_providers) == (("2222222222222222",), ("ci",))
    reader = store.role("1111111111111111", "READER")
    assert reader is not None and reader.max_session_duration == 3600
    provider = store.oidc_provider("1111111111111111", "ci")
    assert provider is not None and provider.client_ids == ("sts.aliyuncs.com",)
    assert store.sts_settings() == StsSettings(
        duration=30,
        instance_role="acs:ram::1111111111111111:role/deployer",
        credentials_uri_role="acs:ram::1111111111111111:role/reader",
        metadata_hardened=True,
    )
    # An account without account_id has a stable derived one.
    assert store.account_id("LTAI-b") == derived_account_id("LTAI-b")
    assert store.account_key(derived_account_id("LTAI-b")) == "LTAI-b"


def _jwks_document(jwks: object) -> str:
    return f"""\
accounts:
  - access_key_id: LTAI-a
    access_key_secret: secret-a
    oidc_providers:
      - name: ci
        issuer: https://issuer.example.com
        client_ids: [sts.aliyuncs.com]
        jwks: {json.dumps(jwks)}
"""


def test_a_jwks_is_accepted_as_a_mapping(oidc_issuer_key):
    jwk = json.loads(RSAAlgorithm.to_jwk(oidc_issuer_key.public_key()))
    provider = _load(_jwks_document({"keys": [jwk]})).oidc_provider(
        derived_account_id("LTAI-a"), "ci"
    )
    assert provider is not None and provider.jwks is not None


def test_an_empty_jwks_is_located():
    message = _error(_jwks_document({"keys": []}))
    assert message.startswith("world.yaml:8:15: jwks is not a JSON Web Key Set"), message


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda t: t.replace("oidc_providers: [ci]", "oidc_providers: [ci, gitlab]"),
            "world.yaml:10:30: role 'Deployer' trusts OIDC provider 'gitlab', which this account"
            " does not declare",
        ),
        (
            lambda t: t.replace("max_session_duration: 2h", "max_session_duration: 60"),
            "world.yaml:7:31: max_session_duration",
        ),
        (
            lambda t: t.replace("max_session_duration: 2h", "max_session_duration: 3600.5"),
            "world.yaml:7:31: max_session_duration must be whole seconds",
        ),
        (
            lambda t: t.replace("account_id: 1111111111111111", "account_id: acct-1"),
            "world.yaml:4:17: account_id must be the account's numeric id (digits)",
        ),
        (
            lambda t: t.replace("- name: Deployer", "- name: deploy/er"),
            "world.yaml:6:15: name must be 1 to 64 letters, digits, '.' or '-'",
        ),
        (
            lambda t: t.replace("-----BEGIN PUBLIC KEY-----", "-----BEGIN NOTHING-----"),
            "world.yaml:16:21: public_key is not a PEM public key",
        ),
        (
            lambda t: t.replace(
                "        public_key: |", "        jwks: {keys: []}\n        public_key: |"
            ),
            "world.yaml:13:9: an OIDC provider needs one of public_key and jwks",
        ),
        (
            lambda t: t + STS_BLOCK.replace("role/reader", "role/writer"),
            "world.yaml:31:25: credentials_uri_role 'acs:ram::1111111111111111:role/writer' is not"
            " the ARN of a declared role",
        ),
        (
            lambda t: t + STS_BLOCK.replace("duration: 30s", "duration: 1500ms"),
            "world.yaml:29:13: duration must be whole seconds",
        ),
    ],
    ids=[
        "undeclared provider",
        "short max duration",
        "fractional duration",
        "account id",
        "role name",
        "bad pem",
        "two keys",
        "unknown uri role",
        "zero sts duration",
    ],
)
def test_mistakes_are_located(oidc_issuer_key, change, expected):
    message = _error(change(_document(public_pem(oidc_issuer_key))))
    assert message.startswith(expected), message


def test_nothing_is_written_when_a_late_check_fails(oidc_issuer_key):
    text = _document(public_pem(oidc_issuer_key)) + STS_BLOCK.replace("role/reader", "role/x")
    store = EmulatorStore(None)
    with pytest.raises(ConfigError):
        load_fixture_text(text, "world.yaml", store)
    assert store.account_ids() == []
    assert store.role("1111111111111111", "deployer") is None


def test_the_sts_demo_fixture_serves_what_it_says():
    store = EmulatorStore(None)
    load_fixture(Path(__file__).parents[2] / "examples/emulator/sts-demo.yaml", store)
    assert store.sts_settings().duration == 300
    with EmulatorServer(store, owns_store=True) as server:
        body = requests.get(f"{server.url}/credentials", timeout=10).json()
        role = requests.get(
            f"{server.url}/latest/meta-data/ram/security-credentials/", timeout=10
        ).text
        response = signed_call(
            server.url,
            "OnsMqttGroupIdList",
            {"InstanceId": "post-cn-demo0001"},
            key=body["AccessKeyId"],
            secret=body["AccessKeySecret"],
            security_token=body["SecurityToken"],
        )
    assert role == "deployer"
    assert [row["GroupId"] for row in ok(response)["Data"]["MqttGroupIdDo"]] == ["GID_orders"]
