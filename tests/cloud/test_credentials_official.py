"""The official chain (``alibabacloud-credentials`` 1.0.12) and ours, on the same environment,
against the emulator over HTTPS (the library speaks to STS over HTTPS only): the same
credentials for the metadata service and the credentials URI (which hand out the same ones until
half their lifetime is gone), credentials of the same role and lifetime for STS (which mints new
ones per call). The library reads its environment when imported, so it runs in a child process;
its chain has no setting for the STS endpoint or the metadata host, so the child gives those two
providers the emulator's addresses, nothing else; it ignores ``REQUESTS_CA_BUNDLE`` (its TLS
context is its own), so the child trusts the test CA through ``SSL_CERT_FILE``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from reconciler.cloud.client import OnsClient
from reconciler.cloud.credentials import resolve_provider
from tests.fixtures.runs import child_env
from tests.fixtures.sts import StsEmulator

OFFICIAL_CHAIN = """
import json, os, sys
from alibabacloud_credentials.provider import ecs_ram_role, oidc, ram_role_arn
from alibabacloud_credentials.provider.default import DefaultCredentialsProvider

def with_sts_endpoint(cls):
    original = cls.__init__
    def init(self, *args, **kwargs):
        kwargs["sts_endpoint"] = os.environ["TEST_STS_HOST"]
        original(self, *args, **kwargs)
    cls.__init__ = init

def with_metadata_host(cls):
    original = cls.__init__
    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        host = os.environ["TEST_METADATA_HOST"]
        self._EcsRamRoleCredentialsProvider__metadata_service_host = host
    cls.__init__ = init

with_sts_endpoint(oidc.OIDCRoleArnCredentialsProvider)
with_sts_endpoint(ram_role_arn.RamRoleArnCredentialsProvider)
with_metadata_host(ecs_ram_role.EcsRamRoleCredentialsProvider)
creds = DefaultCredentialsProvider().get_credentials()
json.dump({"id": creds.get_access_key_id(), "secret": creds.get_access_key_secret(),
           "token": creds.get_security_token()}, sys.stdout)
"""


def official(env: dict[str, str], emulator: StsEmulator) -> dict[str, str]:
    child = child_env(
        **env,
        TEST_STS_HOST=emulator.sts_endpoint,
        TEST_METADATA_HOST=emulator.metadata_host,
        SSL_CERT_FILE=emulator.ca_bundle,
    )
    done = subprocess.run(
        [sys.executable, "-c", OFFICIAL_CHAIN],
        env=child,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result: dict[str, str] = json.loads(done.stdout)
    return result


def ours(env: dict[str, str], emulator: StsEmulator, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", emulator.ca_bundle)
    return resolve_provider(
        env={**env, "RECONCILER_STS_ENDPOINT": emulator.https_url},
        config_path=Path(env["HOME"]) / ".aliyun" / "config.json",
        credentials_file=Path(env["HOME"]) / "none.ini",
        metadata_url=emulator.metadata_url,
    ).current()


def environment(case: str, emulator: StsEmulator, home: Path) -> dict[str, str]:
    env = {"HOME": str(home), "ALIBABA_CLOUD_ECS_METADATA_DISABLED": "true"}
    if case == "credentials URI":
        env["ALIBABA_CLOUD_CREDENTIALS_URI"] = emulator.https_url + "/credentials"
    elif case == "ECS metadata":
        env = {"HOME": str(home), "ALIBABA_CLOUD_ECS_METADATA": emulator.role_name}
    elif case == "OIDC":
        token = home / "oidc-token"
        token.write_text(emulator.mint_oidc_token())
        env |= {
            "ALIBABA_CLOUD_ROLE_ARN": emulator.role_arn,
            "ALIBABA_CLOUD_OIDC_PROVIDER_ARN": emulator.oidc_provider_arn,
            "ALIBABA_CLOUD_OIDC_TOKEN_FILE": str(token),
        }
    else:  # a CLI profile assuming the role with the account's key
        profile = {
            "name": "deploy",
            "mode": "RamRoleArn",
            "access_key_id": emulator.account_key_id,
            "access_key_secret": emulator.account_secret,
            "ram_role_arn": emulator.role_arn,
            "ram_session_name": "compare",
            "expired_seconds": 3600,
        }
        (home / ".aliyun").mkdir()
        (home / ".aliyun" / "config.json").write_text(
            json.dumps({"current": "deploy", "profiles": [profile]})
        )
    return env


@pytest.mark.slow
@pytest.mark.parametrize("case", ["credentials URI", "ECS metadata", "OIDC", "RamRoleArn profile"])
def test_the_official_chain_and_ours_agree(
    case: str, sts_emulator: StsEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = environment(case, sts_emulator, tmp_path)
    theirs = official(env, sts_emulator)
    mine = ours(env, sts_emulator, monkeypatch)
    assert mine.security_token is not None
    mine_as_dict = {
        "id": mine.access_key_id,
        "secret": mine.access_key_secret.get_secret_value(),
        "token": mine.security_token.get_secret_value(),
    }
    if case in ("credentials URI", "ECS metadata"):
        assert mine_as_dict == theirs
        return
    # STS mints new credentials per call: both must act for the role's account.
    assert mine_as_dict["id"] != theirs["id"]
    for creds in (mine, _as_credentials(theirs)):
        with OnsClient(creds, region=sts_emulator.region, endpoint=sts_emulator.url) as client:
            listed = client.list_group_ids(sts_emulator.instance_id)
        assert isinstance(listed, list)


def _as_credentials(found: dict[str, str]) -> Any:
    from reconciler.cloud.credentials.model import make_credentials  # noqa: PLC0415

    return make_credentials(found["id"], found["secret"], found["token"], source="official")
