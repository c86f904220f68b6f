"""A command run with an STS token handed over in the environment that the service calls
expired: one line saying the token is never refreshed and what to do, no secret in it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.apply_kit import write_desired
from tests.fixtures.emulator_store import expire_issued
from tests.fixtures.runs import run_cli
from tests.fixtures.sts import StsEmulator, assume_role


def test_plan_with_an_expired_sts_token_from_the_environment_is_one_line_saying_what_to_do(
    sts_emulator: StsEmulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    issued = assume_role(sts_emulator).json()["Credentials"]
    key_id, secret, token = (
        issued["AccessKeyId"],
        issued["AccessKeySecret"],
        issued["SecurityToken"],
    )
    expire_issued(sts_emulator.store, key_id)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", key_id)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", secret)
    monkeypatch.setenv("ALIBABA_CLOUD_SECURITY_TOKEN", token)
    monkeypatch.setenv("RECONCILER_ENDPOINT", sts_emulator.url)
    write_desired("GID_alpha")
    planned = run_cli(capsys, "plan", "desired.yaml")
    assert planned.code == 1
    assert "Traceback" not in planned.err
    last = planned.err.strip().splitlines()[-1]
    assert last.startswith("Error: OnsMqttGroupIdList failed: InvalidSecurityToken.Expired")
    assert (
        "the STS token from environment (ALIBABA_CLOUD_ACCESS_KEY_ID) is never refreshed: get a "
        "new one, or let the tool assume a role" in last
    )
    for text in (planned.out, planned.err):
        assert secret not in text and token not in text
