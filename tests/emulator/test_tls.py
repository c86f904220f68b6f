"""The emulator's TLS set-up: a test CA's files, given files, and what goes wrong."""

from __future__ import annotations

import ssl
import sys

import pytest

from reconciler.cloud.credentials import Credentials
from reconciler.emulator.tls import TlsFiles, issue_test_certificate, server_context
from reconciler.errors import EmulatorError
from tests.fixtures.sts import assume_role
from tests.fixtures.wire import ok


def test_a_test_certificate_is_trusted_through_its_ca(tmp_path):
    files = issue_test_certificate(tmp_path / "tls", ["127.0.0.1"])
    assert files.ca_bundle is not None
    assert files.key_file.stat().st_mode & 0o077 == 0
    assert isinstance(server_context(files), ssl.SSLContext)
    client = ssl.create_default_context(cafile=str(files.ca_bundle))
    assert client.get_ca_certs()


def test_without_trustme_a_test_certificate_is_a_one_line_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "trustme", None)
    with pytest.raises(EmulatorError, match="needs the trustme package"):
        issue_test_certificate(tmp_path, ["127.0.0.1"])


def test_files_that_are_not_a_certificate_and_key(tmp_path):
    not_pem = tmp_path / "x.pem"
    not_pem.write_text("hello")
    with pytest.raises(EmulatorError, match="cannot load the TLS certificate"):
        server_context(TlsFiles(not_pem, not_pem))


def test_the_tools_clients_trust_the_test_ca_through_requests_ca_bundle(
    sts_emulator, api_case, monkeypatch
):
    body = ok(assume_role(sts_emulator))["Credentials"]
    credentials = Credentials(
        access_key_id=body["AccessKeyId"],
        access_key_secret=body["AccessKeySecret"],
        security_token=body["SecurityToken"],
        source="test",
    )
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", sts_emulator.ca_bundle)
    client = api_case.client(credentials, endpoint=sts_emulator.https_url)
    assert client.list_group_ids(sts_emulator.instance_id) == []
