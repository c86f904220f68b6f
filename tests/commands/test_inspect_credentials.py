"""A paced ``inspect`` on short-lived credentials (the emulator's STS issuing three-second
ones): the credentials are refreshed between the paced calls, no call fails or is repeated, and
STS is asked once per lifetime, no more."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli import cli
from reconciler.commands.inspect_options import Runtime
from reconciler.ratelimit import Rate
from tests.fixtures.inspect_clock import NOW
from tests.fixtures.sts import StsEmulator

BATCH = "BatchQuerySessionByClientIds"
LIFETIME = 3  # seconds: refreshed a third of it (1 s) before expiry, so every 2 s
CALLS = 30  # ten ids a call
PACE = Rate(5, 1.0)  # five at once, then one every 0.2 s: at least 5 s of calls
CREDENTIAL_VARIABLES = (
    "ALIBABA_CLOUD_ACCESS_KEY_ID",
    "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
    "ALIBABA_CLOUD_SECURITY_TOKEN",
    "ALICLOUD_ACCESS_KEY",
    "ALICLOUD_SECRET_KEY",
    "ALIBABA_CLOUD_PROFILE",
    "ALIBABA_CLOUD_CREDENTIALS_FILE",
    "ALIBABA_CLOUD_CREDENTIALS_URI",
)


def oidc_environment(
    sts_emulator: StsEmulator, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The OIDC variables a CI job sets, and nothing else the chain would take first."""
    for name in CREDENTIAL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    token_file = home / "oidc-token"
    token_file.write_text(sts_emulator.mint_oidc_token())
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
    monkeypatch.setenv("ALIBABA_CLOUD_ROLE_ARN", sts_emulator.role_arn)
    monkeypatch.setenv("ALIBABA_CLOUD_OIDC_PROVIDER_ARN", sts_emulator.oidc_provider_arn)
    monkeypatch.setenv("ALIBABA_CLOUD_OIDC_TOKEN_FILE", str(token_file))
    monkeypatch.setenv("RECONCILER_STS_ENDPOINT", sts_emulator.url)
    monkeypatch.setenv("RECONCILER_ENDPOINT", sts_emulator.url)


@pytest.mark.slow
@pytest.mark.api("onsmqtt")
def test_a_paced_inspect_outlives_its_credentials_without_a_failed_or_repeated_call(
    sts_emulator: StsEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    oidc_environment(sts_emulator, tmp_path, monkeypatch)
    instance = sts_emulator.instance_id
    client_ids = [f"GID_fleet@@@device-{index:03d}" for index in range(CALLS * 10)]
    sts_emulator.store.add_group(instance, "GID_fleet")
    online = client_ids[::3]
    for client_id in online:
        sts_emulator.store.add_client(client_id, instance_id=instance, last_touch=NOW)
    (tmp_path / "ids.txt").write_text("\n".join(client_ids) + "\n")
    sts_emulator.set_duration(LIFETIME)

    started = time.monotonic()
    result = CliRunner().invoke(
        cli,
        [
            "--debug",
            "inspect",
            "clients",
            "ids.txt",
            "--api",
            "onsmqtt",
            "--instance",
            instance,
            "--format",
            "json",
        ],
        obj=Runtime(wall_ms=lambda: NOW, rate_limits={BATCH: PACE}),
    )
    elapsed = time.monotonic() - started

    assert result.exit_code == 0, result.output[-2000:]
    report = json.loads(result.stdout)
    assert (report["calls"], report["online"]) == (CALLS, len(online))
    assert f"{CALLS} calls of {BATCH}" in result.stderr  # paced, and said so
    attempts = [line for line in result.stderr.splitlines() if f"{BATCH} attempt" in line]
    assert len(attempts) == CALLS
    assert all(f"{BATCH} attempt 1: status=200 " in line for line in attempts)
    refreshed = [line for line in result.stderr.splitlines() if "credentials refreshed" in line]
    exchanges = sts_emulator.request_count("AssumeRoleWithOIDC")
    assert exchanges == 1 + len(refreshed)
    # At least 5 s of paced calls on 2 s between refreshes; and no more often than that.
    assert 3 <= exchanges <= 2 + elapsed / (LIFETIME * 2 / 3)
