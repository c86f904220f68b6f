"""plan and apply through each source of the credential chain, against the emulator (its STS,
metadata service and credentials URI): the run works, ``--debug`` names the source, and no
secret, STS token, OIDC token or metadata token reaches any output, log, plan file or the state.
Then a long apply on 30-second credentials: refreshed as it runs, no call fails."""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

import pytest

from reconciler.cloud.credentials import ecs_metadata
from tests.fixtures.apply_kit import write_desired
from tests.fixtures.runs import run_cli
from tests.fixtures.sts import StsEmulator

SOURCES = ["environment key", "OIDC", "RamRoleArn profile", "ECS RAM role", "credentials URI"]
CLEARED = (
    "ALIBABA_CLOUD_ACCESS_KEY_ID",
    "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
    "ALIBABA_CLOUD_SECURITY_TOKEN",
    "ALICLOUD_ACCESS_KEY",
    "ALICLOUD_SECRET_KEY",
    "ALIBABA_CLOUD_PROFILE",
    "ALIBABA_CLOUD_CREDENTIALS_FILE",
    "ALIBABA_CLOUD_CREDENTIALS_URI",
    "ALIBABA_CLOUD_ROLE_ARN",
    "ALIBABA_CLOUD_OIDC_PROVIDER_ARN",
    "ALIBABA_CLOUD_OIDC_TOKEN_FILE",
    "ALIBABA_CLOUD_ECS_METADATA",
)
# The IMDSv2 tokens the chain was given (noted as it asks, see ``use_source``).
METADATA_TOKENS: list[str] = []
SOURCE_LINE = {
    "environment key": "debug: credentials: environment (ALIBABA_CLOUD_ACCESS_KEY_ID)",
    "OIDC": "debug: credentials: role acs:ram::1234567890123456:role/reconciler-deployer for "
    "the OIDC token in ",
    "RamRoleArn profile": "debug: credentials: role acs:ram::1234567890123456:role/"
    "reconciler-deployer assumed with profile 'deploy' in ",
    "ECS RAM role": "debug: credentials: ECS instance RAM role 'reconciler-deployer' "
    "(metadata service http://127.0.0.1:",
    "credentials URI": "debug: credentials: credentials URI http://127.0.0.1:",
}


def use_source(
    source: str, emulator: StsEmulator, home: Path, monkeypatch: pytest.MonkeyPatch
) -> str | None:
    """Set the environment up for ``source``; the OIDC token it reads, if any."""
    for name in CLEARED:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
    monkeypatch.setenv("RECONCILER_ENDPOINT", emulator.url)
    monkeypatch.setenv("RECONCILER_STS_ENDPOINT", emulator.url)
    if source == "environment key":
        monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", emulator.account_key_id)
        monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", emulator.account_secret)
    elif source == "OIDC":
        token = emulator.mint_oidc_token()
        (home / "oidc-token").write_text(token)
        monkeypatch.setenv("ALIBABA_CLOUD_ROLE_ARN", emulator.role_arn)
        monkeypatch.setenv("ALIBABA_CLOUD_OIDC_PROVIDER_ARN", emulator.oidc_provider_arn)
        monkeypatch.setenv("ALIBABA_CLOUD_OIDC_TOKEN_FILE", str(home / "oidc-token"))
        return token
    elif source == "RamRoleArn profile":
        profile = {
            "name": "deploy",
            "mode": "RamRoleArn",
            "access_key_id": emulator.account_key_id,
            "access_key_secret": emulator.account_secret,
            "ram_role_arn": emulator.role_arn,
        }
        (home / ".aliyun").mkdir()
        config = {"current": "deploy", "profiles": [profile]}
        (home / ".aliyun" / "config.json").write_text(json.dumps(config))
    elif source == "ECS RAM role":
        monkeypatch.delenv("ALIBABA_CLOUD_ECS_METADATA_DISABLED")
        monkeypatch.setattr(ecs_metadata, "METADATA_URL", emulator.metadata_url)
        asked = ecs_metadata.EcsRoleFetcher._token_headers

        def noted(fetcher: ecs_metadata.EcsRoleFetcher) -> dict[str, str]:
            headers = asked(fetcher)
            METADATA_TOKENS.extend(headers.values())
            return headers

        monkeypatch.setattr(ecs_metadata.EcsRoleFetcher, "_token_headers", noted)
    else:
        monkeypatch.setenv("ALIBABA_CLOUD_CREDENTIALS_URI", emulator.credentials_uri)
    return None


def secrets_of(emulator: StsEmulator, oidc_token: str | None) -> list[str]:
    """Every secret of the run: the base key's, each issued secret and token, the OIDC token,
    each metadata token the emulator handed out."""
    found = [emulator.account_secret]
    with emulator.store.transaction() as db:
        rows = db.execute(
            "SELECT access_key_secret, security_token FROM issued_credentials"
        ).fetchall()
    found += [value for row in rows for value in row]
    if oidc_token:
        found += [oidc_token, oidc_token.rsplit(".", 1)[1]]
    found += METADATA_TOKENS
    return found


@pytest.mark.parametrize("source", SOURCES)
def test_plan_and_apply_through_each_source_leak_nothing(
    source: str,
    sts_emulator: StsEmulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    monkeypatch.chdir(work)
    METADATA_TOKENS.clear()
    oidc_token = use_source(source, sts_emulator, home, monkeypatch)
    write_desired("GID_alpha", "GID_beta")
    planned = run_cli(capsys, "--debug", "plan", "desired.yaml", "-o", "plan.json")
    applied = run_cli(capsys, "--debug", "apply", "plan.json", "--auto-approve")
    assert planned.code == 2 or planned.code == 0, planned.err
    assert applied.code == 0, applied.err
    assert logging.getLogger("reconciler.cloud").handlers == []
    debug_lines = [line for line in applied.err.splitlines() if line.startswith("debug: ")]
    assert any(line.startswith(SOURCE_LINE[source]) for line in debug_lines), debug_lines
    state = Path("state.json").read_text(encoding="utf-8")
    assert '"GID_alpha"' in state and '"GID_beta"' in state
    everything = [planned.out, planned.err, applied.out, applied.err, state]
    # Every file the run wrote: the plan file, the state, its backup and journal.
    everything += [path.read_text(encoding="utf-8") for path in work.rglob("*") if path.is_file()]
    secrets = secrets_of(sts_emulator, oidc_token)
    assert len(secrets) >= (1 if source == "environment key" else 3)
    if source == "ECS RAM role":
        assert METADATA_TOKENS, "the metadata token was asked"
        # One token per fetch: every token the emulator handed out is in the list.
        assert sts_emulator.request_count("metadata-token") == len(METADATA_TOKENS)
    for text in everything:
        for secret in secrets:
            assert secret not in text


@pytest.mark.slow
def test_two_thousand_creates_on_thirty_second_credentials_refresh_without_a_failed_call(
    sts_emulator: StsEmulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    use_source("OIDC", sts_emulator, tmp_path, monkeypatch)
    sts_emulator.set_duration(30)
    write_desired(*(f"GID_load_{index:04d}" for index in range(2000)))
    applied = run_cli(
        capsys, "apply", "desired.yaml", "--auto-approve", "--format", "json", "--rate", "40/s"
    )
    assert applied.code == 0, applied.err[-2000:]
    summary = json.loads(applied.out)["result"]["summary"]
    assert (summary["done"], summary["failed"], summary["not_attempted"]) == (2000, 0, 0)
    # 2,000 creates at 40/s take about 50 s: refreshed every 20 s, never more than that.
    exchanges = sts_emulator.request_count("AssumeRoleWithOIDC")
    assert 3 <= exchanges <= 6


@pytest.mark.slow
def test_a_refresh_that_fails_mid_apply_stops_new_calls_and_keeps_what_finished(
    sts_emulator: StsEmulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    use_source("OIDC", sts_emulator, tmp_path, monkeypatch)
    sts_emulator.set_duration(3)  # refreshed 1 s before expiry, 2 s in
    write_desired(*(f"GID_load_{index:03d}" for index in range(60)))
    # The CI platform's token goes bad before the first refresh (2 s into the run).
    spoil = threading.Timer(
        0.5, lambda: (tmp_path / "oidc-token").write_text(sts_emulator.mint_oidc_token(aud="x"))
    )
    spoil.start()
    applied = run_cli(capsys, "apply", "desired.yaml", "--auto-approve", "--rate", "10/s")
    spoil.join()
    assert applied.code == 1
    last = applied.err.strip().splitlines()[-1]
    assert last.startswith(
        "Error: the credentials from role acs:ram::1234567890123456:role/reconciler-deployer for "
        "the OIDC token in "
    )
    assert "could not be refreshed, so no further call is started" in last
    done = int(last.rsplit("apply stopped: ", 1)[1].split(" done")[0])
    assert 5 <= done < 60
    assert "not attempted" in last
    state = json.loads(Path("state.json").read_text(encoding="utf-8"))
    assert len(state["resources"]) == done
    assert sts_emulator.request_count("AssumeRoleWithOIDC") == 2  # the refusal is not repeated
