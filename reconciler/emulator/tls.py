"""HTTPS for the emulator: a server certificate given as files, or one issued on the spot by a
throwaway test certificate authority (``trustme``), whose CA certificate is written to a file
for clients to trust (``REQUESTS_CA_BUNDLE``, ``SSL_CERT_FILE``). The official credentials
library talks to STS over HTTPS only, so tests point it here."""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from reconciler.errors import EmulatorError


@dataclass(frozen=True)
class TlsFiles:
    cert_file: Path  # the server's certificate chain (PEM)
    key_file: Path  # its private key (PEM)
    ca_bundle: Path | None = None  # the test CA's certificate, when the emulator made one


def server_context(files: TlsFiles) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(files.cert_file, files.key_file)
    except (OSError, ssl.SSLError) as exc:
        raise EmulatorError(
            f"cannot load the TLS certificate {files.cert_file} and key {files.key_file}: {exc}"
        ) from exc
    return context


def issue_test_certificate(directory: Path, hosts: Sequence[str]) -> TlsFiles:
    """A new test CA and a certificate it signs for ``hosts``, written to ``directory``
    (``ca.pem``, ``server.pem``, ``server.key``; the key readable by its owner only)."""
    try:
        import trustme  # noqa: PLC0415 (only --tls without a certificate needs it)
    except ImportError as exc:
        raise EmulatorError(
            "a test certificate needs the trustme package (the tls extra of"
            " mqtt-gid-reconciler), or give --tls-cert and --tls-key"
        ) from exc
    authority = trustme.CA()
    issued = authority.issue_cert(*hosts)
    directory.mkdir(parents=True, exist_ok=True)
    files = TlsFiles(directory / "server.pem", directory / "server.key", directory / "ca.pem")
    assert files.ca_bundle is not None
    authority.cert_pem.write_to_path(str(files.ca_bundle))
    issued.private_key_pem.write_to_path(str(files.key_file))
    files.key_file.chmod(0o600)
    files.cert_file.write_bytes(b"".join(blob.bytes() for blob in issued.cert_chain_pems))
    return files
