"""One HTTP/1.1 exchange on an open connection: the request written in one piece, the answer
read whole.

``http.client`` opens the connections (proxy tunnel, TLS: ``cloud.transport``); this speaks
the protocol on them. Its request and response objects cost the API clients about as much CPU
per call as the emulator spends answering it (a header parse through the ``email`` package, a
reader made per answer, the head and the body sent as two packets), which decided how fast a
large apply could go. What is read is what ``http.client`` reads: a status line, headers, and a
body framed by ``Content-Length``, by chunks, or by the end of the connection; interim 1xx
answers are skipped. Its exceptions are ``http.client``'s, so callers handle both alike.
"""

from __future__ import annotations

import http.client
from collections.abc import Mapping
from dataclasses import dataclass
from typing import BinaryIO

# http.client's limits: a line of the head, and how many header lines.
_MAX_LINE = 65536
_MAX_HEADERS = 100
# Answers that never carry a body.
_NO_BODY = frozenset({204, 304})
_FORBIDDEN_IN_HEADERS = ("\r", "\n", "\0")


@dataclass(frozen=True)
class Answer:
    status: int
    reason: str
    headers: dict[str, str]  # names in lower case; a repeated header keeps its last value
    content: bytes
    # The server closes the connection after this answer (or its end framed the body).
    will_close: bool


def request_bytes(
    method: str, target: str, host: str, headers: Mapping[str, str], body: bytes | None
) -> bytes:
    """The request, head and body, to send in one ``sendall``. Raises
    ``http.client.HTTPException`` for a header that would break the head (never quoting it:
    a value may be a credential)."""
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}", "Accept-Encoding: identity"]
    if body is not None or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body or b'')}")
    # Every name and value scanned at once (a call sends four headers, each checked for four
    # marks): only a head that holds a mark is looked at header by header.
    names = "".join(headers)
    text = names + "".join(headers.values())
    if ":" in names or "\r" in text or "\n" in text or "\0" in text:
        _refuse_broken_header(headers)
    lines.extend([f"{name}: {value}" for name, value in headers.items()])
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head + body if body else head


def _refuse_broken_header(headers: Mapping[str, str]) -> None:
    """Raise for the first header that holds a line break (or a colon in its name)."""
    for name, value in headers.items():
        if any(mark in name or mark in value for mark in _FORBIDDEN_IN_HEADERS) or ":" in name:
            raise http.client.HTTPException(f"the {name.strip()!r} header holds a line break")


def read_answer(reader: BinaryIO, method: str) -> Answer:
    """The answer to ``method`` from ``reader`` (the connection's buffered reader)."""
    while True:
        version, status, reason = _status_line(reader)
        headers = _headers(reader)
        if not 100 <= status < 200:
            break
    tokens = {token.strip().lower() for token in headers.get("connection", "").split(",")}
    will_close = "close" in tokens or (version == "HTTP/1.0" and "keep-alive" not in tokens)
    if method == "HEAD" or status in _NO_BODY:
        return Answer(status, reason, headers, b"", will_close)
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return Answer(status, reason, headers, _chunked(reader), will_close)
    length = headers.get("content-length")
    if length is None:
        # Framed by the end of the connection.
        return Answer(status, reason, headers, reader.read(), True)
    if not length.strip().isdigit():
        raise http.client.HTTPException(f"invalid Content-Length {length!r}")
    content = _exactly(reader, int(length))
    return Answer(status, reason, headers, content, will_close)


def _status_line(reader: BinaryIO) -> tuple[str, int, str]:
    line = reader.readline(_MAX_LINE + 1)
    if len(line) > _MAX_LINE:
        raise http.client.LineTooLong("status line")
    if not line:
        # As http.client says it: the server closed a kept-alive connection.
        raise http.client.RemoteDisconnected("Remote end closed connection without response")
    text = line.decode("iso-8859-1").rstrip("\r\n")
    version, _, rest = text.partition(" ")
    code, _, reason = rest.partition(" ")
    if not version.startswith("HTTP/") or len(code) != 3 or not code.isdigit():
        raise http.client.BadStatusLine(text)
    return version, int(code), reason.strip()


def _headers(reader: BinaryIO) -> dict[str, str]:
    headers: dict[str, str] = {}
    for _ in range(_MAX_HEADERS + 1):
        line = reader.readline(_MAX_LINE + 1)
        if len(line) > _MAX_LINE:
            raise http.client.LineTooLong("header line")
        if line in (b"\r\n", b"\n", b""):
            return headers
        name, colon, value = line.decode("iso-8859-1").partition(":")
        if colon:
            headers[name.strip().lower()] = value.strip()
    raise http.client.HTTPException(f"got more than {_MAX_HEADERS} headers")


def _chunked(reader: BinaryIO) -> bytes:
    parts: list[bytes] = []
    while True:
        line = reader.readline(_MAX_LINE + 1)
        size_text = line.split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise http.client.IncompleteRead(b"".join(parts)) from None
        if size == 0:
            break
        parts.append(_exactly(reader, size))
        _exactly(reader, 2)  # the CRLF after the chunk
    # Trailers, up to the empty line.
    while reader.readline(_MAX_LINE + 1) not in (b"\r\n", b"\n", b""):
        pass
    return b"".join(parts)


def _exactly(reader: BinaryIO, size: int) -> bytes:
    data = reader.read(size)
    if len(data) < size:
        raise http.client.IncompleteRead(data, size - len(data))
    return data
