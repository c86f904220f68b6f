"""The HTTP/1.1 exchange the transport speaks on http.client's connections: every framing a
server may choose reads as http.client reads it, and a header that would break the request's
head is refused without being quoted. (End to end, against real servers: test_transport.py,
the emulator's tests and the CI forges'.)"""

from __future__ import annotations

import http.client
import io
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.cloud.http_wire import read_answer, request_bytes


def answer_of(raw: bytes, method: str = "POST") -> tuple[int, str, dict[str, str], bytes, bool]:
    answer = read_answer(io.BytesIO(raw), method)
    return answer.status, answer.reason, answer.headers, answer.content, answer.will_close


def test_a_content_length_frames_the_body_and_the_connection_stays_open() -> None:
    raw = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}NEXT"
    assert answer_of(raw) == (
        200,
        "OK",
        {"content-type": "application/json", "content-length": "2"},
        b"{}",
        False,
    )


def test_chunks_are_joined_and_their_trailers_skipped() -> None:
    raw = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"4;ext=1\r\n[1, \r\n3\r\n2]\n\r\n0\r\nX-Trailer: t\r\n\r\n"
    )
    assert answer_of(raw)[3] == b"[1, 2]\n"


def test_an_interim_answer_is_skipped() -> None:
    raw = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"
    assert answer_of(raw)[:2] == (201, "Created")


@pytest.mark.parametrize(
    ("raw", "will_close"),
    [
        (b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", True),
        (b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", True),
        (b"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n", False),
    ],
)
def test_the_server_says_whether_it_keeps_the_connection(raw: bytes, will_close: bool) -> None:
    assert answer_of(raw)[4] is will_close


def test_without_a_length_the_body_runs_to_the_end_and_the_connection_closes() -> None:
    assert answer_of(b"HTTP/1.1 200 OK\r\n\r\nall of it")[3:] == (b"all of it", True)


def test_no_body_for_a_204_or_a_head() -> None:
    assert answer_of(b"HTTP/1.1 204 No Content\r\n\r\n")[3] == b""
    assert answer_of(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n", "HEAD")[3] == b""


CHUNKED = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b"", http.client.RemoteDisconnected),
        (b"SSH-2.0-OpenSSH\r\n", http.client.BadStatusLine),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", http.client.IncompleteRead),
        (b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n", http.client.HTTPException),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            http.client.IncompleteRead,
        ),
    ],
)
def test_a_broken_answer_raises_what_http_client_raises(raw: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        read_answer(io.BytesIO(raw), "POST")


def test_the_request_is_one_piece_with_host_and_length() -> None:
    data = request_bytes("POST", "/", "example.com:8080", {"X-A": "1"}, b"a=1")
    assert data == (
        b"POST / HTTP/1.1\r\nHost: example.com:8080\r\nAccept-Encoding: identity\r\n"
        b"Content-Length: 3\r\nX-A: 1\r\n\r\na=1"
    )
    assert b"Content-Length" not in request_bytes("GET", "/x?y=1", "h", {}, None)


@pytest.mark.parametrize("value", ["token\r\nX-Evil: 1", "token\nX", "tok\0en"])
def test_a_header_that_would_break_the_head_is_refused_unquoted(value: str) -> None:
    with pytest.raises(http.client.HTTPException) as caught:
        request_bytes("GET", "/", "h", {"Authorization": value}, None)
    assert "token" not in str(caught.value)
    assert "Authorization" in str(caught.value)


def _request_bytes_header_by_header(
    method: str, target: str, host: str, headers: dict[str, str], body: bytes | None
) -> bytes:
    """The head as it was built before the headers were scanned at once: each header checked
    for each mark in turn (the reference the fast check must agree with)."""
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}", "Accept-Encoding: identity"]
    if body is not None or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body or b'')}")
    for name, value in headers.items():
        if any(mark in name or mark in value for mark in ("\r", "\n", "\0")) or ":" in name:
            raise http.client.HTTPException(f"the {name.strip()!r} header holds a line break")
        lines.append(f"{name}: {value}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head + body if body else head


_header_text = st.text(alphabet=st.sampled_from("aZ9-_ :\r\n\0\t;="), max_size=8)


@settings(deadline=None, max_examples=300)
@given(headers=st.dictionaries(_header_text, _header_text, max_size=5))
def test_the_headers_scanned_at_once_agree_with_each_checked_alone(
    headers: dict[str, str],
) -> None:
    def outcome(build: Callable[..., bytes]) -> bytes | str:
        try:
            return build("POST", "/", "h", headers, b"a=1")
        except http.client.HTTPException as exc:
            return str(exc)

    assert outcome(request_bytes) == outcome(_request_bytes_header_by_header)
