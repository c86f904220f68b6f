"""The API clients' HTTP transport keeps what requests gave them: the environment's proxy rules
(``no_proxy`` included, read once), keep-alive connections that survive the server closing an
idle one, certificates verified against requests' bundle or the one the environment names.
Against real servers on 127.0.0.1."""

from __future__ import annotations

import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from reconciler.cloud.retry import RetryPolicy
from reconciler.cloud.transport import environment_proxy
from reconciler.errors import CloudConnectionError, UntrustedCertificateError
from tests.fixtures.fake_time import FakeTime
from tests.fixtures.scripted_clients import make_client
from tests.fixtures.scripted_server import scripted

LIST_BODY = b'{"RequestId": "r", "Data": {"MqttGroupIdDo": []}}'


@pytest.mark.parametrize(
    "no_proxy", ["127.0.0.1", "127.0.0.0/8", " localhost , 127.0.0.1 ", "*", "127.0.0.1:1,*"]
)
def test_no_proxy_sends_the_call_direct(monkeypatch: pytest.MonkeyPatch, no_proxy: str) -> None:
    with scripted([]) as proxy, scripted([]) as endpoint:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.setenv("NO_PROXY", no_proxy)
        with make_client(endpoint.url) as client:
            assert client.list_group_ids("i") == []
    assert proxy.requests == []
    assert len(endpoint.requests) == 1


def test_the_lower_case_variable_wins_and_all_proxy_is_the_fallback() -> None:
    env = {"http_proxy": "http://low:1", "HTTP_PROXY": "http://up:2", "ALL_PROXY": "all:3"}
    assert environment_proxy("http", "ons.example", 80, env) == environment_proxy(
        "http", "ons.example", 80, {"http_proxy": "low:1"}
    )
    chosen = environment_proxy("https", "ons.example", 443, env)
    assert chosen is not None
    assert (chosen.host, chosen.port) == ("all", 3)
    for bypass in ("example", ".example", "ons.example", "ons.example:443"):
        assert environment_proxy("https", "ons.example", 443, {**env, "no_proxy": bypass}) is None
    # A suffix matches whole labels only.
    assert environment_proxy("https", "ons.example", 443, {**env, "no_proxy": "ample"}) is not None


def test_proxy_credentials_go_in_a_proxy_authorization_header(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with scripted([]) as proxy:
        address = proxy.url.removeprefix("http://")
        monkeypatch.setenv("HTTP_PROXY", f"http://user%40corp:p%3Ass@{address}")
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        with make_client("http://ons.example.invalid:8080") as client:
            client.list_group_ids("i")
    (got,) = proxy.requests
    # base64 of "user@corp:p:ss"
    assert got.headers["proxy-authorization"] == "Basic dXNlckBjb3JwOnA6c3M="


@contextmanager
def closing_server(answers: int) -> Iterator[tuple[str, threading.Event]]:
    """A server that answers one request per connection as keep-alive, then closes it
    without saying so; yields its URL and an event set at each close."""
    listener = socket.create_server(("127.0.0.1", 0))
    closed = threading.Event()

    def serve() -> None:
        for _ in range(answers):
            conn, _ = listener.accept()
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(65536)
                head, _, body = data.partition(b"\r\n\r\n")
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                while len(body) < length:
                    body += conn.recv(65536)
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (len(LIST_BODY), LIST_BODY)
                )
            closed.set()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", closed
    finally:
        listener.close()
        thread.join(timeout=5)


def test_an_idle_connection_the_server_closed_is_replaced_not_failed() -> None:
    fake = FakeTime()
    with closing_server(answers=3) as (url, closed), make_client(url, fake) as client:
        for _ in range(3):
            closed.clear()
            assert client.list_group_ids("i") == []
            assert closed.wait(5)
            time.sleep(0.05)  # the close reaches the client's socket
    # Every call went through on its first attempt: no retry, so no backoff.
    assert fake.sleeps == []


@contextmanager
def tls_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A TLS server on 127.0.0.1 with a self-signed certificate; yields its URL and the
    certificate (a CA bundle that trusts it)."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"),
            *("-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Length", str(len(LIST_BODY)))
            self.end_headers()
            self.wfile.write(LIST_BODY)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{httpd.server_address[1]}", cert
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_https_verifies_the_certificate_against_the_bundle_the_environment_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    with tls_server(tmp_path) as (url, cert):
        # Not in the default trust store: refused, and said so.
        fake = FakeTime()
        with (
            make_client(url, fake) as client,
            pytest.raises(UntrustedCertificateError, match=r"not trusted \(certificate verify"),
        ):
            client.list_group_ids("i")
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
        with make_client(url) as client:
            assert client.list_group_ids("i") == []


def test_https_through_a_proxy_opens_a_tunnel_and_sends_nothing_in_clear(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    received: list[bytes] = []

    def refuse_tunnel() -> None:
        conn, _ = listener.accept()
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            received.append(data)
            conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")

    thread = threading.Thread(target=refuse_tunnel, daemon=True)
    thread.start()
    port = listener.getsockname()[1]
    monkeypatch.setenv("HTTPS_PROXY", f"http://user:pw@127.0.0.1:{port}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with (
        make_client("https://ons.example.invalid", retry=RetryPolicy(max_attempts=1)) as client,
        pytest.raises(CloudConnectionError, match="Tunnel connection failed: 403"),
    ):
        client.list_group_ids("i")
    thread.join(timeout=5)
    listener.close()
    (request,) = received
    lines = request.decode().split("\r\n")
    assert lines[0] == "CONNECT ons.example.invalid:443 HTTP/1.0"
    assert "Proxy-Authorization: Basic dXNlcjpwdw==" in lines
    # The signed request never reached the proxy: only the tunnel's request did.
    assert b"Signature" not in request
    assert b"AccessKeyId" not in request
