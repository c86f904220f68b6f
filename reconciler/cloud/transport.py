"""HTTP/1.1 for the API clients and the CI forges, on the standard library's ``http.client``.

Both need little of an HTTP library: a request to one host over keep-alive connections shared
by threads (the API clients POST a form to one endpoint, the forges call a REST API), a
timeout, the proxy and CA bundle the environment names, and no redirects followed
(``reconciler.redirects``). Importing requests (and urllib3) for that cost a small plan as much
start-up time as everything else it imports together, so this is all there is.

The environment is read once, when the transport is made, with requests' names and rules:
``http_proxy``/``https_proxy``/``all_proxy`` (lower case first, then upper case), ``no_proxy``
(host suffixes, IP addresses and CIDR ranges, ``*``), ``REQUESTS_CA_BUNDLE`` or
``CURL_CA_BUNDLE``, else certifi's bundle as requests would use.
"""

from __future__ import annotations

import base64
import http.client
import ipaddress
import os
import select
import ssl
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, BinaryIO
from urllib.parse import unquote, urlsplit

from reconciler.cloud.http_wire import Answer, read_answer, request_bytes

# A pooled connection is dropped once the server has closed it (or sent something unasked),
# which select() shows as readable; asking costs no wait.
_NO_WAIT = 0.0


@dataclass(frozen=True)
class Response:
    status: int
    headers: Mapping[str, str]  # names in lower case
    content: bytes
    reason: str = ""


@dataclass(frozen=True)
class _Proxy:
    host: str
    port: int
    authorization: str | None  # a Proxy-Authorization value when the URL carries credentials


class Transport:
    """Keep-alive connections to ``url``'s host, at most ``pool_size`` kept idle; more are
    opened when more threads post at once and closed after use."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float,
        pool_size: int,
        headers: Mapping[str, str],
        environ: Mapping[str, str] | None = None,
    ) -> None:
        env = os.environ if environ is None else environ
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        self.url = url
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port or (443 if self._https else 80)
        self._path = parts.path or "/"
        # As http.client writes it: the port only when it is not the scheme's own.
        shown = f"[{self._host}]" if ":" in self._host else self._host
        default_port = 443 if self._https else 80
        self._host_header = shown if self._port == default_port else f"{shown}:{self._port}"
        self._timeout = timeout
        self._pool_size = pool_size
        self._headers = dict(headers)
        self._proxy = environment_proxy(parts.scheme, self._host, self._port, env)
        self._ca_bundle = _ca_bundle_variable(env)
        self._context = _tls_context(env) if self._https else None
        if self._proxy is not None and not self._https:
            self._headers.update(_proxy_headers(self._proxy))
        self._idle: list[_Link] = []
        self._lock = threading.Lock()

    @property
    def connect_host(self) -> str:
        """The host a connection is opened to: the proxy's when there is one."""
        return self._proxy.host if self._proxy else self._host

    def untrusted_certificate(self, exc: BaseException) -> str | None:
        """What to say when ``exc`` is a failed check of the server's certificate (None when
        it is not): a certificate does not heal by asking again, so the callers do not retry.
        """
        if not isinstance(exc, ssl.SSLCertVerificationError):
            return None
        reason = f"certificate verify failed: {exc.verify_message or exc.reason}"
        where = f"https://{self._host}:{self._port}"
        if self._ca_bundle is None:
            hint = "if a private CA signed it, set REQUESTS_CA_BUNDLE to that CA's PEM file"
        else:
            name, bundle = self._ca_bundle
            hint = f"{name} ({bundle}) does not hold the CA that signed it"
        return f"the TLS certificate of {where} is not trusted ({reason}): {hint}"

    def post(self, body: bytes, headers: Mapping[str, str]) -> Response:
        """One POST to the URL's path and its whole answer. Raises TimeoutError when the
        server is silent past the timeout, and another OSError or ``http.client.HTTPException``
        when no answer came."""
        return self.request("POST", self._path, body, headers)

    def request(
        self, method: str, target: str, body: bytes | None, headers: Mapping[str, str]
    ) -> Response:
        """One request for ``target`` (a path and query on the URL's host) and its whole
        answer; raises as ``post`` does."""
        data = request_bytes(
            method, self._target(target), self._host_header, {**self._headers, **headers}, body
        )
        link = self._checkout()
        try:
            answer = link.exchange(data, method)
        except BaseException:
            link.close()
            raise
        if answer.will_close:
            link.close()
        else:
            self._checkin(link)
        return Response(answer.status, answer.headers, answer.content, answer.reason)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for link in idle:
            link.close()

    def _target(self, target: str) -> str:
        # Through a plain-HTTP proxy the request line names the whole URL.
        if self._proxy is not None and not self._https:
            return f"http://{self._host}:{self._port}{target}"
        return target

    def _checkout(self) -> _Link:
        while True:
            with self._lock:
                link = self._idle.pop() if self._idle else None
            if link is None:
                return _Link(self._connection())
            if not _closed_by_peer(link.connection):
                return link
            link.close()

    def _checkin(self, link: _Link) -> None:
        with self._lock:
            if len(self._idle) < self._pool_size:
                self._idle.append(link)
                return
        link.close()

    def _connection(self) -> http.client.HTTPConnection:
        """A connection not yet open: http.client opens it (and the proxy's tunnel, and TLS)."""
        proxy = self._proxy
        host, port = (proxy.host, proxy.port) if proxy else (self._host, self._port)
        connection: http.client.HTTPConnection
        if self._https:
            connection = http.client.HTTPSConnection(
                host, port, timeout=self._timeout, context=self._context
            )
            if self._proxy is not None:
                tunnel_headers = _proxy_headers(self._proxy)
                connection.set_tunnel(self._host, self._port, headers=tunnel_headers)
        else:
            connection = http.client.HTTPConnection(host, port, timeout=self._timeout)
        return connection


class _Link:
    """A connection and the buffered reader of its answers, kept together in the pool."""

    def __init__(self, connection: http.client.HTTPConnection) -> None:
        self.connection = connection
        self._reader: BinaryIO | None = None

    def exchange(self, data: bytes, method: str) -> Answer:
        if self._reader is None:
            self.connection.connect()
            self._reader = self.connection.sock.makefile("rb")
        self.connection.sock.sendall(data)
        return read_answer(self._reader, method)

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        self.connection.close()


def environment_proxy(scheme: str, host: str, port: int, env: Mapping[str, str]) -> _Proxy | None:
    """The proxy the environment names for ``scheme://host:port``, as requests picks it."""
    if _bypassed(host, port, _variable(env, "no_proxy")):
        return None
    url = _variable(env, f"{scheme}_proxy") or _variable(env, "all_proxy")
    if not url:
        return None
    if "://" not in url:
        url = f"http://{url}"
    parts = urlsplit(url)
    if not parts.hostname:
        return None
    authorization = None
    if parts.username is not None:
        user_pass = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        authorization = "Basic " + base64.b64encode(user_pass.encode()).decode("ascii")
    return _Proxy(parts.hostname, parts.port or 80, authorization)


def _variable(env: Mapping[str, str], name: str) -> str:
    """``name`` from the environment, the lower-case spelling first (as urllib reads them)."""
    return (env.get(name.lower()) or env.get(name.upper()) or "").strip()


def _bypassed(host: str, port: int, no_proxy: str) -> bool:
    entries = [entry for entry in no_proxy.replace(" ", "").split(",") if entry]
    if "*" in entries:
        return True
    try:
        address: Any = ipaddress.ip_address(host)
    except ValueError:
        address = None
    for entry in entries:
        if address is not None:
            try:
                if address in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                pass
            continue
        suffix = entry.lstrip(".").lower()
        name = host.lower()
        if name == suffix or name.endswith(f".{suffix}") or f"{name}:{port}".endswith(entry):
            return True
    return False


def _proxy_headers(proxy: _Proxy) -> dict[str, str]:
    return {"Proxy-Authorization": proxy.authorization} if proxy.authorization else {}


def _ca_bundle_variable(env: Mapping[str, str]) -> tuple[str, str] | None:
    """The variable naming the CA bundle, and its value; None: certifi's bundle is used."""
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        if env.get(name):
            return name, env[name]
    return None


def _tls_context(env: Mapping[str, str]) -> ssl.SSLContext:
    named = _ca_bundle_variable(env)
    if named is not None:
        bundle = named[1]
    else:
        import certifi  # noqa: PLC0415  (requests' own trust store; only HTTPS needs it)

        bundle = certifi.where()
    if os.path.isdir(bundle):
        return ssl.create_default_context(capath=bundle)
    return ssl.create_default_context(cafile=bundle)


def _closed_by_peer(connection: http.client.HTTPConnection) -> bool:
    sock = connection.sock
    if sock is None:
        return True
    readable, _, _ = select.select([sock], [], [], _NO_WAIT)
    return bool(readable)
