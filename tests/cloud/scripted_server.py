"""A real HTTP server on 127.0.0.1 that answers from a script and records what it got.

For retry tests that need exact failure sequences (the emulator's faults are random).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs


@dataclass
class Reply:
    status: int = 200
    body: bytes | dict[str, Any] = field(default_factory=lambda: {"RequestId": "req-ok"})
    drop: bool = False  # close the connection without answering
    delay: float = 0.0  # seconds to wait before answering
    headers: dict[str, str] = field(default_factory=dict)  # extra response headers


@dataclass
class Recorded:
    method: str
    path: str
    content_type: str
    params: dict[str, str]
    headers: dict[str, str] = field(default_factory=dict)  # names lower-cased


class ScriptedServer:
    def __init__(self, replies: list[Reply], *, default: Reply | None = None) -> None:
        self.replies = list(replies)
        self.default = default or Reply()
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode("utf-8")
                parsed = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
                with server._lock:
                    server.requests.append(
                        Recorded(
                            self.command,
                            self.path,
                            self.headers.get("Content-Type", ""),
                            parsed,
                            {name.lower(): value for name, value in self.headers.items()},
                        )
                    )
                    reply = server.replies.pop(0) if server.replies else server.default
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.drop:
                    self.close_connection = True
                    self.connection.close()
                    return
                body = reply.body
                data = json.dumps(body).encode() if isinstance(body, dict) else body
                head = (
                    f"HTTP/1.1 {reply.status} X\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(data)}\r\n"
                    + "".join(f"{name}: {value}\r\n" for name, value in reply.headers.items())
                    + "\r\n"
                ).encode()
                self.wfile.write(head + data)

            # Whatever arrives is recorded: a test may need to show that nothing did.
            def do_GET(self) -> None:
                self.do_POST()

            def do_PUT(self) -> None:
                self.do_POST()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@contextmanager
def scripted(replies: list[Reply], **kwargs: Any) -> Iterator[ScriptedServer]:
    with ScriptedServer(replies, **kwargs) as server:
        yield server
