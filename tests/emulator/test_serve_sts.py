"""``reconciler emulator serve`` with STS: HTTPS with a test CA or given files, ``--sts-duration``,
and the official credentials library pointed at the process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from reconciler.emulator.tls import issue_test_certificate
from tests.fixtures.emulator import TEST_ACCESS_KEY_ID, TEST_ACCESS_KEY_SECRET
from tests.fixtures.runs import ROOT, child_env
from tests.fixtures.sts import ACCOUNT_ID, ROLE_NAME, sts_fixture
from tests.fixtures.wire import signed_call

HTTPS_LINE = "reconciler emulator HTTPS listening on "
ROLE_ARN = f"acs:ram::{ACCOUNT_ID}:role/{ROLE_NAME}"


def _serve(*args: str) -> tuple[subprocess.Popen[str], list[str]]:
    """The process and its lines up to the ``database:`` one."""
    process = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "emulator", "serve", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=child_env(),
    )
    assert process.stdout is not None
    lines = []
    while not (line := process.stdout.readline()).startswith("database:"):
        if not line:
            process.kill()
            raise AssertionError(f"serve stopped: {lines} {process.stderr.read()}")
        lines.append(line.rstrip("\n"))
    return process, lines


def _stop(process: subprocess.Popen[str]) -> str:
    try:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=15) == 0
        assert process.stdout is not None
        return process.stdout.read()
    finally:
        if process.poll() is None:
            process.kill()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def _https(lines: list[str]) -> tuple[str, str | None]:
    """The HTTPS URL and the test CA's path (None with given files)."""
    [line] = [line for line in lines if line.startswith(HTTPS_LINE)]
    rest = line.removeprefix(HTTPS_LINE)
    url, _, trust = rest.partition(" (test CA: ")
    return url, trust.removesuffix(")") or None


def _fixture(tmp_path: Path, oidc_issuer_key) -> Path:
    path = tmp_path / "sts.yaml"
    path.write_text(json.dumps(sts_fixture(oidc_issuer_key)), encoding="utf-8")
    return path


def _assume_role(url: str, ca: str) -> requests.Response:
    params = {"RoleArn": ROLE_ARN, "RoleSessionName": "serve-test"}
    return signed_call(
        url,
        "AssumeRole",
        params,
        key=TEST_ACCESS_KEY_ID,
        secret=TEST_ACCESS_KEY_SECRET,
        version="2015-04-01",
        session=_verifying(ca),
    )


def _verifying(ca: str) -> requests.Session:
    """A session trusting ``ca`` alone (the environment's REQUESTS_CA_BUNDLE would win over
    ``session.verify``)."""
    session = requests.Session()
    session.trust_env = False
    session.verify = ca
    return session


@pytest.mark.slow
def test_tls_with_a_test_ca_and_sts_duration(tmp_path, oidc_issuer_key):
    process, lines = _serve(
        "--fixture",
        str(_fixture(tmp_path, oidc_issuer_key)),
        "--tls",
        "--tls-port",
        "0",
        "--sts-duration",
        "45s",
    )
    try:
        url, ca = _https(lines)
        assert url.startswith("https://127.0.0.1:") and ca is not None
        assert "sts: temporary credentials last 45s" in lines
        body = _assume_role(url, ca).json()
        expires = datetime.strptime(body["Credentials"]["Expiration"], "%Y-%m-%dT%H:%M:%SZ")
        assert abs(expires.replace(tzinfo=UTC).timestamp() - time.time() - 45) < 10
        # The official library, trusting the printed CA through SSL_CERT_FILE.
        script = (
            "from alibabacloud_credentials.provider import RamRoleArnCredentialsProvider as P\n"
            f"p = P(access_key_id={TEST_ACCESS_KEY_ID!r}, access_key_secret="
            f"{TEST_ACCESS_KEY_SECRET!r}, role_arn={ROLE_ARN!r},"
            f" sts_endpoint={url.removeprefix('https://')!r})\n"
            "print(p.get_credentials().get_access_key_id())\n"
        )
        library = subprocess.run(
            [sys.executable, "-c", script],
            env={**child_env(), "SSL_CERT_FILE": ca},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert library.stdout.startswith("STS."), library.stderr
    finally:
        rest = _stop(process)
    assert "emulator stopped" in rest
    assert not Path(ca).exists()  # the test CA's directory goes with the process


@pytest.mark.slow
def test_tls_with_given_files_and_a_kept_ca_file(tmp_path):
    files = issue_test_certificate(tmp_path / "mine", ["127.0.0.1"])
    process, lines = _serve(
        "--access-key-id",
        TEST_ACCESS_KEY_ID,
        "--access-key-secret",
        TEST_ACCESS_KEY_SECRET,
        "--tls-cert",
        str(files.cert_file),
        "--tls-key",
        str(files.key_file),
        "--tls-port",
        "0",
    )
    try:
        url, ca = _https(lines)
        assert ca is None
        response = signed_call(
            url,
            "OnsMqttGroupIdList",
            {},
            key=TEST_ACCESS_KEY_ID,
            secret=TEST_ACCESS_KEY_SECRET,
            session=_verifying(str(files.ca_bundle)),
        )
        assert response.json()["Code"] == "MissingParameter"  # authenticated over HTTPS
    finally:
        _stop(process)
    kept = tmp_path / "ca.pem"
    process, lines = _serve("--tls", "--tls-port", "0", "--tls-ca-file", str(kept))
    try:
        assert _https(lines)[1] == str(kept)
    finally:
        _stop(process)
    assert kept.read_text().startswith("-----BEGIN CERTIFICATE-----")


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--tls-cert", "pyproject.toml"], "together"),
        (["--tls-ca-file", "ca.pem"], "give --tls as well"),
        (["--sts-duration", "0"], "at least 1s"),
        (["--sts-duration", "1500ms"], "whole number of seconds"),
        (["--sts-duration", "soon"], "not a duration"),
        (["--tls-cert", "pyproject.toml", "--tls-key", "README.md"], "cannot load the TLS"),
    ],
    ids=["cert without key", "ca file without tls", "zero", "fraction", "words", "not a cert"],
)
def test_bad_tls_and_sts_options_are_one_line_errors(args, words):
    result = subprocess.run(
        [sys.executable, "-m", "reconciler", "emulator", "serve", "--port", "0", *args],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
        env={**os.environ, **child_env()},
        check=False,
    )
    assert result.returncode != 0
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("Error")]
    assert len(error_lines) == 1 and words in error_lines[0], result.stderr
    assert "Traceback" not in result.stderr
