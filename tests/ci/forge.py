"""A fake GitHub and GitLab on 127.0.0.1 (port 0): the comment endpoints ``ci comment`` uses.

One server plays both: ``/repos/...`` is GitHub's REST API, ``/api/v4/...`` GitLab's. It keeps
comments in memory, pages them ``page_size`` at a time (GitHub: a ``Link`` header, GitLab:
``X-Next-Page``), checks the token each forge expects and can answer the next calls with a
chosen failure (``fail_next``).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

GITHUB_TOKEN = "ghs_fakeGitHubToken0123456789"
GITLAB_TOKEN = "glpat-fakeGitLabToken0123456789"
JOB_TOKEN = "glcbt-fakeJobToken0123456789"
REPOSITORY = "octo-org/mqtt-gids"
PULL_NUMBER = 7
PROJECT = "platform/mqtt-gids"  # GitLab's CI_PROJECT_ID may be the path too
PROJECT_ID = "42"
MR_IID = 3

_GITHUB_LIST = re.compile(r"^/repos/([^/]+/[^/]+)/issues/(\d+)/comments$")
_GITHUB_EDIT = re.compile(r"^/repos/([^/]+/[^/]+)/issues/comments/(\d+)$")
_GITLAB_NOTES = re.compile(r"^/api/v4/projects/([^/]+)/merge_requests/(\d+)/notes(?:/(\d+))?$")


@dataclass
class Failure:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] = field(default_factory=lambda: {"message": "failure"})


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]


@dataclass
class FakeForge:
    url: str = ""
    page_size: int = 100
    github: dict[int, dict[str, Any]] = field(default_factory=dict)  # comment id -> comment
    gitlab: dict[int, dict[str, Any]] = field(default_factory=dict)
    requests: list[Seen] = field(default_factory=list)
    fail_next: list[Failure] = field(default_factory=list)
    next_id: int = 1000
    # A GitHub "next" link pointing elsewhere (to test that the token is not sent there).
    foreign_next: str | None = None

    def add_github(self, body: str, user: str = "someone") -> int:
        self.next_id += 1
        self.github[self.next_id] = self._github_comment(self.next_id, body, user)
        return self.next_id

    def add_gitlab(self, body: str, *, system: bool = False) -> int:
        self.next_id += 1
        self.gitlab[self.next_id] = {"id": self.next_id, "body": body, "system": system}
        return self.next_id

    def _github_comment(self, comment_id: int, body: str, user: str) -> dict[str, Any]:
        return {
            "id": comment_id,
            "body": body,
            "user": {"login": user},
            "html_url": f"https://github.test/{REPOSITORY}/pull/{PULL_NUMBER}"
            f"#issuecomment-{comment_id}",
        }

    def writes(self) -> list[Seen]:
        return [seen for seen in self.requests if seen.method != "GET"]


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet tests

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        forge = self.server.forge
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        seen = Seen(self.command, parts.path, parse_qs(parts.query), dict(self.headers.items()))
        with self.server.lock:
            forge.requests.append(seen)
            failure = forge.fail_next.pop(0) if forge.fail_next else None
            if failure is not None:
                self._send(failure.status, failure.body, failure.headers)
                return
            body = json.loads(raw) if raw else {}
            if parts.path.startswith("/repos/"):
                self._github(forge, seen, body)
            elif parts.path.startswith("/api/v4/"):
                self._gitlab(forge, seen, body)
            else:
                self._send(404, {"message": "Not Found"})

    # --- GitHub ---------------------------------------------------------------------------

    def _github(self, forge: FakeForge, seen: Seen, body: dict[str, Any]) -> None:
        if seen.headers.get("Authorization") != f"Bearer {GITHUB_TOKEN}":
            self._send(401, {"message": "Bad credentials"})
            return
        listing = _GITHUB_LIST.match(seen.path)
        if listing:
            if listing.group(1) != REPOSITORY or int(listing.group(2)) != PULL_NUMBER:
                self._send(404, {"message": "Not Found"})
            elif seen.method == "GET":
                self._github_page(forge, seen)
            elif seen.method == "POST":
                forge.next_id += 1
                comment = forge._github_comment(forge.next_id, body["body"], "github-actions[bot]")
                forge.github[forge.next_id] = comment
                self._send(201, comment)
            else:
                self._send(405, {"message": "Method Not Allowed"})
            return
        edit = _GITHUB_EDIT.match(seen.path)
        if edit and seen.method == "PATCH" and int(edit.group(2)) in forge.github:
            comment = forge.github[int(edit.group(2))]
            comment["body"] = body["body"]
            self._send(200, comment)
            return
        self._send(404, {"message": "Not Found"})

    def _github_page(self, forge: FakeForge, seen: Seen) -> None:
        page = int(seen.query.get("page", ["1"])[0])
        size = min(int(seen.query.get("per_page", ["30"])[0]), forge.page_size)
        items = sorted(forge.github.values(), key=lambda c: int(c["id"]))
        chunk = items[(page - 1) * size : page * size]
        headers = {}
        if page * size < len(items):
            nxt = forge.foreign_next or f"{forge.url}{seen.path}?per_page={size}&page={page + 1}"
            last = (len(items) + size - 1) // size
            headers["Link"] = (
                f'<{nxt}>; rel="next", <{forge.url}{seen.path}?per_page={size}&page={last}>; '
                'rel="last"'
            )
        self._send(200, chunk, headers)

    # --- GitLab ---------------------------------------------------------------------------

    def _gitlab(self, forge: FakeForge, seen: Seen, body: dict[str, Any]) -> None:
        token = seen.headers.get("PRIVATE-TOKEN") or seen.headers.get("JOB-TOKEN")
        if token not in (GITLAB_TOKEN, JOB_TOKEN):
            self._send(401, {"message": "401 Unauthorized"})
            return
        notes = _GITLAB_NOTES.match(seen.path)
        project = unquote(notes.group(1)) if notes else None
        if not notes or project not in (PROJECT, PROJECT_ID) or int(notes.group(2)) != MR_IID:
            self._send(404, {"message": "404 Not found"})
            return
        note_id = notes.group(3)
        if note_id is None and seen.method == "GET":
            page = int(seen.query.get("page", ["1"])[0])
            size = min(int(seen.query.get("per_page", ["20"])[0]), forge.page_size)
            items = sorted(forge.gitlab.values(), key=lambda n: int(n["id"]))
            chunk = items[(page - 1) * size : page * size]
            more = page * size < len(items)
            self._send(
                200, chunk, {"X-Next-Page": str(page + 1) if more else "", "X-Page": str(page)}
            )
        elif note_id is None and seen.method == "POST":
            forge.next_id += 1
            note = {"id": forge.next_id, "body": body["body"], "system": False}
            forge.gitlab[forge.next_id] = note
            self._send(201, note)
        elif note_id is not None and seen.method == "PUT" and int(note_id) in forge.gitlab:
            note = forge.gitlab[int(note_id)]
            note["body"] = body["body"]
            self._send(200, note)
        else:
            self._send(404, {"message": "404 Not found"})

    def _send(self, status: int, document: Any, headers: dict[str, str] | None = None) -> None:
        payload = json.dumps(document).encode()
        head = [f"HTTP/1.1 {status} {self.responses.get(status, ('',))[0]}"]
        head += [
            f"{k}: {v}"
            for k, v in {
                "Content-Type": "application/json",
                "Content-Length": str(len(payload)),
                **(headers or {}),
            }.items()
        ]
        # One write: status, headers and body together (no Nagle stall on loopback).
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode() + payload)
        self.wfile.flush()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, forge: FakeForge) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.forge = forge
        self.lock = threading.Lock()


@contextmanager
def running_forge() -> Iterator[FakeForge]:
    forge = FakeForge()
    server = _Server(forge)
    forge.url = f"http://127.0.0.1:{server.server_address[1]}"
    # A stop waits up to one poll of serve_forever (half a second by default).
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    try:
        yield forge
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def github_env(forge: FakeForge, event_path: str) -> dict[str, str]:
    return {
        "GITHUB_REPOSITORY": REPOSITORY,
        "GITHUB_EVENT_PATH": event_path,
        "GITHUB_TOKEN": GITHUB_TOKEN,
        "GITHUB_API_URL": forge.url,
    }


def gitlab_env(forge: FakeForge) -> dict[str, str]:
    return {
        "CI_API_V4_URL": f"{forge.url}/api/v4",
        "CI_PROJECT_ID": PROJECT_ID,
        "CI_MERGE_REQUEST_IID": str(MR_IID),
        "CI_PROJECT_URL": f"https://gitlab.test/{PROJECT}",
        "GITLAB_TOKEN": GITLAB_TOKEN,
    }
