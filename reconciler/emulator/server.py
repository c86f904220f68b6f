"""The emulator's HTTP/1.1 server: one request, one action, answered as the service would; every
API product on one port (``products`` picks one by the request's version), and beside them the
ECS metadata endpoints (``metadata``, under ``/latest/``) and a credentials URI
(``credentials_uri``). With a TLS context it also listens for HTTPS on a second port, serving
the same.

Each response is written as ONE buffer (status line, headers and body together): writing the
headers and the body separately stalls keep-alive clients on Nagle plus delayed ACK (~40 ms a
call). Injected latency sleeps before the action runs and holds no lock.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from reconciler.emulator import credentials_uri, metadata
from reconciler.emulator.auth import Authenticator
from reconciler.emulator.faults import Fault, FaultInjector
from reconciler.emulator.issuing import CredentialIssuer
from reconciler.emulator.products import Product, invalid_version, products
from reconciler.emulator.protocol import (
    ApiError,
    Encoded,
    SignedRequest,
    encode_error,
    encode_success,
    merge_parameters,
    missing,
    new_request_id,
    query_parameters,
    wants_xml,
)
from reconciler.emulator.store import EmulatorStore
from reconciler.emulator.throttle import Throttler
from reconciler.errors import EmulatorError
from reconciler.models import DEFAULT_REGION
from reconciler.ratelimit import Rate

logger = logging.getLogger(__name__)
MAX_BODY_BYTES = 1 << 20
IDLE_TIMEOUT_SECONDS = 120.0
TLS_HANDSHAKE_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class EmulatorOptions:
    latency_ms: float = 0.0
    fault_rate: float = 0.0
    # Per-action overrides of the default throttles (30/min for the ONS query actions, 10/s per
    # account for the OnsMqtt group actions); None lifts one.
    throttles: Mapping[str, Rate | None] = field(default_factory=dict)
    fault_seed: int | None = None
    # The throttles' clock; a test shares one fake clock with a client to pace without waiting.
    clock: Callable[[], float] = time.monotonic


class _Service:
    """Everything a request handler needs, shared by all handler threads."""

    def __init__(self, store: EmulatorStore, options: EmulatorOptions) -> None:
        self.store = store
        self.options = options
        self.products = products(store)
        self.authenticator = Authenticator(store)
        self.throttler = Throttler(options.throttles, clock=options.clock)
        self.faults = FaultInjector(options.fault_rate, seed=options.fault_seed)
        issuer = CredentialIssuer(store)
        self.metadata = metadata.MetadataEndpoint(store, issuer)
        self.credentials_uri = credentials_uri.CredentialsUriEndpoint(store, issuer)
        # Requests answered, by action or endpoint: a test asks how often a client came.
        self._counts: Counter[str] = Counter()
        self._counts_lock = threading.Lock()

    def count(self, name: str) -> None:
        with self._counts_lock:
            self._counts[name] += 1

    def count_of(self, name: str) -> int:
        with self._counts_lock:
            return self._counts[name]

    def local_answer(
        self, method: str, path: str, header: Callable[[str], str | None]
    ) -> tuple[int, Encoded] | None:
        """The answer of the metadata endpoints or the credentials URI, or None when ``path``
        is neither's (then it is an API call)."""
        if path.startswith(metadata.PREFIX):
            self.count(metadata.endpoint_name(path))
            return self.metadata.answer(method, path, header)
        if path == credentials_uri.PATH:
            self.count(credentials_uri.SOURCE)
            return self.credentials_uri.answer(method)
        return None

    def answer(
        self,
        method: str,
        params: Mapping[str, str],
        fault: Fault | None,
        v3: SignedRequest | None = None,
    ) -> tuple[int, Encoded]:
        """Answer one call; ``v3`` is the request when it carries a V3 Authorization header,
        whose x-acs-* headers then name the action and version instead of parameters. The
        version picks the product (ONS 2019-02-14 or OnsMqtt 2020-04-20)."""
        request_id = new_request_id()
        region = params.get("RegionId") or DEFAULT_REGION
        if v3 is None:
            xml = wants_xml(params)
            action, action_name = params.get("Action", ""), "Action"
            version, version_name = params.get("Version", ""), "Version"
        else:
            xml = wants_xml(params, default_format="JSON")
            action, action_name = v3.header("x-acs-action") or "", "x-acs-action"
            version, version_name = v3.header("x-acs-version") or "", "x-acs-version"
        product = self.products.get(version)
        try:
            if not action:
                raise missing(action_name)
            if not version:
                raise missing(version_name)
            if product is None:
                raise invalid_version(version)
            handler = product.handler(action)
            self.count(action)
            if action in product.anonymous:
                access_key_id = ""  # no caller: nothing to authenticate, no account to throttle
            elif v3 is None:
                access_key_id = self.authenticator.authenticate(method, params)
            else:
                access_key_id = self.authenticator.authenticate_v3(v3)
            over_limit = None if not access_key_id else self.throttler.check(access_key_id, action)
            if over_limit is not None:
                raise product.throttled(action, *over_limit)
            if fault is not None and not fault.drops_connection:
                raise fault.error()
            body: dict[str, Any] = {"RequestId": request_id, **handler(params, access_key_id)}
        except ApiError as err:
            return self._error(err, request_id, region, xml, product)
        except Exception as exc:  # a bug or a broken database: answer as the service would
            logger.exception("emulator failed on %s", action)
            failure = ApiError(500, "InternalError", f"The request processing has failed: {exc}")
            return self._error(failure, request_id, region, xml, product)
        return 200, encode_success(action, body, xml=xml)

    @staticmethod
    def _error(
        err: ApiError, request_id: str, region: str, xml: bool, product: Product | None
    ) -> tuple[int, Encoded]:
        host_id = product.host_id(region) if product is not None else f"ons.{region}.aliyuncs.com"
        return err.status, encode_error(err, request_id=request_id, host_id=host_id, xml=xml)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = IDLE_TIMEOUT_SECONDS
    server: _HTTPServer

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def _serve(self, method: str) -> None:
        service = self.server.service
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY_BYTES:
            self.send_error(HTTPStatus.BAD_REQUEST, "bad Content-Length")
            return
        body = self.rfile.read(length) if length else b""
        path, _, query = self.path.partition("?")
        # Injected faults and latency are the management APIs': the metadata endpoints and the
        # credentials URI answer at once.
        local = service.local_answer(method, path, self.headers.get)
        if local is not None:
            self._write(*local)
            return
        fault = service.faults.pick()
        if fault is Fault.DROP_BEFORE:
            self._drop()
            return
        if service.options.latency_ms > 0:
            time.sleep(service.options.latency_ms / 1000.0)
        try:
            params = merge_parameters(query, body, self.headers.get("Content-Type", ""))
        except ApiError as err:
            status = err.status
            encoded = encode_error(
                err, request_id=new_request_id(), host_id="ons.aliyuncs.com", xml=True
            )
        else:
            v3 = self._signed_request(method, path, query, body)
            status, encoded = service.answer(method, params, fault, v3)
        if fault is Fault.DROP_AFTER:
            self._drop()
            return
        self._write(status, encoded)

    def _signed_request(
        self, method: str, path: str, query: str, body: bytes
    ) -> SignedRequest | None:
        """The request as a V3 signature covers it, when it has an ``Authorization: ACS3-...``
        header; V1 requests have none."""
        if not self.headers.get("Authorization", "").lstrip().startswith("ACS3-"):
            return None
        return SignedRequest(
            method=method,
            path=unquote(path),
            query=query_parameters(query),
            headers=[(name.lower(), value) for name, value in self.headers.items()],
            body=body,
        )

    def _write(self, status: int, encoded: Encoded) -> None:
        phrase = HTTPStatus(status).phrase
        head = (
            f"HTTP/1.1 {status} {phrase}\r\n"
            f"Content-Type: {encoded.content_type}\r\n"
            f"Content-Length: {len(encoded.body)}\r\n"
            + "".join(f"{name}: {value}\r\n" for name, value in encoded.headers.items())
            + "Connection: keep-alive\r\n"
            "\r\n"
        )
        self.wfile.write(head.encode("latin-1") + encoded.body)
        self.log_request(status, len(encoded.body))

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def log_message(self, format: str, *args: Any) -> None:
        # Quiet by default: the CLI prints its own start line; per-request logs would flood.
        return


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(
        self,
        address: tuple[str, int],
        service: _Service,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self.service = service
        self.tls_context = tls_context
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._open_lock:
                self._open.discard(request)

    def finish_request(self, request: Any, client_address: Any) -> None:
        # The TLS handshake runs here, in the request's own thread, so a slow or failing
        # client never holds up the accepting loop.
        if self.tls_context is not None:
            request.settimeout(TLS_HANDSHAKE_TIMEOUT_SECONDS)
            request = self.tls_context.wrap_socket(request, server_side=True)
        super().finish_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients hanging up mid-request are routine (timeouts, fault tests); the rest is a bug.
        if isinstance(sys.exc_info()[1], OSError):
            return
        logger.exception("emulator connection from %s failed", client_address)

    def close_open_connections(self) -> None:
        """Cut idle keep-alive connections so a stopped emulator really is gone."""
        with self._open_lock:
            connections = list(self._open)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class EmulatorServer:
    """The emulator on ``host:port`` (0 picks a free port); ``start()`` serves in the background."""

    # How often the serving thread looks for ``stop()``: the longest a stop waits. The test
    # suite, which starts and stops hundreds of servers, shortens it.
    poll_interval: float = 0.1

    def __init__(
        self,
        store: EmulatorStore,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        options: EmulatorOptions | None = None,
        owns_store: bool = False,
        tls: ssl.SSLContext | None = None,
        tls_port: int = 0,
    ) -> None:
        """With ``owns_store`` the server closes the store when it stops. With ``tls`` it also
        serves HTTPS on ``tls_port`` (0 picks a free port)."""
        self.store = store
        self._owns_store = owns_store
        self.options = options or EmulatorOptions()
        self._service = _Service(store, self.options)
        self._httpd = _listen(host, port, self._service)
        self._httpsd = None
        if tls is not None:
            try:
                self._httpsd = _listen(host, tls_port, self._service, tls)
            except EmulatorError:
                self._httpd.server_close()
                raise
        self._threads: list[threading.Thread] = []

    @property
    def host(self) -> str:
        return str(self._httpd.server_address[0])

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def https_url(self) -> str | None:
        """The HTTPS listener's base URL, when the server has one."""
        if self._httpsd is None:
            return None
        return f"https://{self.host}:{int(self._httpsd.server_address[1])}"

    def request_count(self, name: str) -> int:
        """How many requests of an action (``AssumeRole``, ``ListGroupId``) or endpoint
        (``metadata-token``, ``metadata-role``, ``metadata-credentials``, ``credentials-uri``)
        were answered."""
        return self._service.count_of(name)

    def set_throttle(self, action: str, rate: Rate | None) -> None:
        """Change one action's limit while serving (None lifts it)."""
        self._service.throttler.set_rate(action, rate)

    def throttles(self) -> dict[str, Rate]:
        return self._service.throttler.rates()

    def _listeners(self) -> list[_HTTPServer]:
        return [self._httpd] + ([] if self._httpsd is None else [self._httpsd])

    def start(self) -> EmulatorServer:
        if not self._threads:
            for httpd in self._listeners():
                thread = threading.Thread(
                    target=httpd.serve_forever,
                    kwargs={"poll_interval": self.poll_interval},
                    name=f"emulator-{httpd.server_address[1]}",
                    daemon=True,
                )
                thread.start()
                self._threads.append(thread)
        return self

    def stop(self) -> None:
        if self._threads:
            for httpd in self._listeners():
                httpd.shutdown()
            for thread in self._threads:
                thread.join()
            self._threads = []
        for httpd in self._listeners():
            httpd.close_open_connections()
            httpd.server_close()
        if self._owns_store:
            self.store.close()

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _listen(
    host: str, port: int, service: _Service, tls: ssl.SSLContext | None = None
) -> _HTTPServer:
    try:
        return _HTTPServer((host, port), service, tls)
    except OSError as exc:
        raise EmulatorError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
