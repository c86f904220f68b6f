"""One REST session per forge: JSON calls, same-origin pagination, and every failure turned
into a one-line ``CiError`` that never carries the token."""

from __future__ import annotations

import http.client
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

from reconciler import __version__
from reconciler.cloud.transport import Response, Transport
from reconciler.errors import CiError
from reconciler.redirects import is_redirect, refused_redirect

TIMEOUT_SECONDS = 30.0
_DETAIL_LIMIT = 200
# One comment is written per run, its pages read one after another: one connection is enough.
_POOL_SIZE = 1


@dataclass(frozen=True)
class Forge:
    """Who we talk to, for the messages: ``GitHub`` and the variable the token came from."""

    name: str
    token_source: str
    # The "not found" hint: which request and which variables name it.
    subject: str


@dataclass(frozen=True)
class Answer:
    """A 2xx answer: its JSON document and its headers (names in lower case)."""

    document: Any
    headers: Mapping[str, str]


class ApiSession:
    def __init__(
        self, forge: Forge, base_url: str, headers: Mapping[str, str], *, token: str
    ) -> None:
        self.forge = forge
        self.base_url = base_url.rstrip("/")
        self._token = token
        try:
            self._transport = Transport(
                self.base_url,
                timeout=TIMEOUT_SECONDS,
                pool_size=_POOL_SIZE,
                headers={
                    "User-Agent": f"reconciler/{__version__}",
                    "Accept": "application/json",
                    **headers,
                },
            )
        except ValueError as exc:
            raise CiError(
                self.redact(f"the {forge.name} API URL {self.base_url!r} is not an http(s) URL")
            ) from exc

    def close(self) -> None:
        self._transport.close()

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def same_origin(self, url: str) -> bool:
        """Only pages on the API's own scheme, host and port get the token."""
        mine, theirs = urlsplit(self.base_url), urlsplit(url)
        return (mine.scheme, mine.netloc) == (theirs.scheme, theirs.netloc)

    def call(
        self,
        method: str,
        url: str,
        *,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, str | int] | None = None,
    ) -> Answer:
        """``url`` is absolute (from ``url()`` or a next-page link) and on the API's origin.
        Answers other than 2xx with JSON raise ``CiError``."""
        parts = urlsplit(url)
        what = f"{method} {parts.path}"
        if not self.same_origin(url):
            # The transport talks to the API's host only; a caller checks links before this.
            raise CiError(f"{self.forge.name}: {what} is on another host; not following it")
        query = "&".join(filter(None, [parts.query, urlencode(params or {})]))
        target = f"{parts.path or '/'}{'?' if query else ''}{query}"
        headers = {"Content-Type": "application/json"} if body is not None else {}
        payload = json.dumps(body).encode() if body is not None else None
        try:
            response = self._transport.request(method, target, payload, headers)
        except (OSError, http.client.HTTPException) as exc:
            reason = type(exc).__name__
            raise CiError(
                self.redact(f"cannot reach {self.forge.name} at {self.base_url} ({what}): {reason}")
            ) from exc
        if is_redirect(response.status):
            refusal = refused_redirect(url, response.status, response.headers)
            raise CiError(self.redact(f"{self.forge.name} at {refusal} ({what})"))
        if response.status >= 300:
            raise CiError(self.redact(self._failure(response, what)))
        try:
            document = json.loads(response.content)
        except ValueError as exc:
            raise CiError(
                f"{self.forge.name} answered {what} with something that is not JSON"
            ) from exc
        return Answer(document, response.headers)

    def redact(self, text: str) -> str:
        return text.replace(self._token, "***") if self._token else text

    def _failure(self, response: Response, what: str) -> str:
        forge = self.forge.name
        status = f"{response.status} {response.reason or ''}".strip()
        if _rate_limited(response):
            return f"{forge} rate limit reached ({what} answered {status}); {_retry_hint(response)}"
        if response.status == 401:
            return (
                f"{forge} refused the token from {self.forge.token_source} ({what} answered "
                f"{status}): is it set, unexpired and allowed to use the API?"
            )
        if response.status == 403:
            return (
                f"{forge} denied {what} ({status}): the token from {self.forge.token_source} "
                f"may not write comments here{_detail(response)}"
            )
        if response.status == 404:
            return (
                f"{forge} found no {self.forge.subject} ({what} answered {status}); or the "
                f"token from {self.forge.token_source} cannot see it"
            )
        return f"{forge} answered {what} with {status}{_detail(response)}"


def _rate_limited(response: Response) -> bool:
    if response.status == 429:
        return True
    # GitHub names its headers X-RateLimit-*, GitLab RateLimit-*.
    remaining = response.headers.get(
        "x-ratelimit-remaining", response.headers.get("ratelimit-remaining")
    )
    return response.status == 403 and remaining == "0"


def _retry_hint(response: Response) -> str:
    retry_after = response.headers.get("retry-after", "").strip()
    if retry_after.isdigit():
        return f"retry in {int(retry_after)} s"
    reset = response.headers.get("x-ratelimit-reset", response.headers.get("ratelimit-reset", ""))
    reset = reset.strip()
    if reset.isdigit():
        at = datetime.fromtimestamp(int(reset), UTC).strftime("%H:%M:%S UTC")
        return f"the limit resets at {at}"
    return "retry later"


def _detail(response: Response) -> str:
    """The service's own message, when it gave one, on the same line."""
    try:
        document = json.loads(response.content)
    except ValueError:
        return ""
    message = document.get("message") if isinstance(document, dict) else None
    if isinstance(message, (dict, list)):
        message = json.dumps(message)
    if not isinstance(message, str) or not message.strip():
        return ""
    text = " ".join(message.split())
    if len(text) > _DETAIL_LIMIT:
        text = text[: _DETAIL_LIMIT - 3] + "..."
    return f": {text}"
