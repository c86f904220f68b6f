"""One REST session per forge: JSON calls, same-origin pagination, and every failure turned
into a one-line ``CiError`` that never carries the token."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import requests

from reconciler import __version__
from reconciler.errors import CiError
from reconciler.redirects import FOLLOW_REDIRECTS, is_redirect, refused_redirect

TIMEOUT_SECONDS = 30.0
_DETAIL_LIMIT = 200


@dataclass(frozen=True)
class Forge:
    """Who we talk to, for the messages: ``GitHub`` and the variable the token came from."""

    name: str
    token_source: str
    # The "not found" hint: which request and which variables name it.
    subject: str


class ApiSession:
    def __init__(
        self,
        forge: Forge,
        base_url: str,
        headers: Mapping[str, str],
        *,
        token: str,
        session: requests.Session | None = None,
    ) -> None:
        self.forge = forge
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._session = session or requests.Session()
        self._session.headers.update({"User-Agent": f"reconciler/{__version__}", **headers})

    def close(self) -> None:
        self._session.close()

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
    ) -> requests.Response:
        """``url`` is absolute (from ``url()`` or a next-page link). Answers other than 2xx
        raise ``CiError``."""
        what = f"{method} {urlsplit(url).path}"
        try:
            response = self._session.request(
                method,
                url,
                json=body,
                params=params,
                timeout=TIMEOUT_SECONDS,
                allow_redirects=FOLLOW_REDIRECTS,
            )
        except requests.RequestException as exc:
            reason = type(exc).__name__
            raise CiError(
                self.redact(f"cannot reach {self.forge.name} at {self.base_url} ({what}): {reason}")
            ) from exc
        if is_redirect(response.status_code):
            refusal = refused_redirect(url, response.status_code, response.headers)
            raise CiError(self.redact(f"{self.forge.name} at {refusal} ({what})"))
        if response.status_code >= 300:
            raise CiError(self.redact(self._failure(response, what)))
        return response

    def json(self, response: requests.Response) -> Any:
        try:
            return response.json()
        except ValueError as exc:
            raise CiError(
                f"{self.forge.name} answered {response.request.method} "
                f"{urlsplit(response.url).path} with something that is not JSON"
            ) from exc

    def redact(self, text: str) -> str:
        return text.replace(self._token, "***") if self._token else text

    def _failure(self, response: requests.Response, what: str) -> str:
        forge = self.forge.name
        status = f"{response.status_code} {response.reason or ''}".strip()
        if _rate_limited(response):
            return f"{forge} rate limit reached ({what} answered {status}); {_retry_hint(response)}"
        if response.status_code == 401:
            return (
                f"{forge} refused the token from {self.forge.token_source} ({what} answered "
                f"{status}): is it set, unexpired and allowed to use the API?"
            )
        if response.status_code == 403:
            return (
                f"{forge} denied {what} ({status}): the token from {self.forge.token_source} "
                f"may not write comments here{_detail(response)}"
            )
        if response.status_code == 404:
            return (
                f"{forge} found no {self.forge.subject} ({what} answered {status}); or the "
                f"token from {self.forge.token_source} cannot see it"
            )
        return f"{forge} answered {what} with {status}{_detail(response)}"


def _rate_limited(response: requests.Response) -> bool:
    if response.status_code == 429:
        return True
    # GitHub names its headers X-RateLimit-*, GitLab RateLimit-*.
    remaining = response.headers.get(
        "X-RateLimit-Remaining", response.headers.get("RateLimit-Remaining")
    )
    return response.status_code == 403 and remaining == "0"


def _retry_hint(response: requests.Response) -> str:
    retry_after = response.headers.get("Retry-After", "").strip()
    if retry_after.isdigit():
        return f"retry in {int(retry_after)} s"
    reset = response.headers.get("X-RateLimit-Reset", response.headers.get("RateLimit-Reset", ""))
    reset = reset.strip()
    if reset.isdigit():
        at = datetime.fromtimestamp(int(reset), UTC).strftime("%H:%M:%S UTC")
        return f"the limit resets at {at}"
    return "retry later"


def _detail(response: requests.Response) -> str:
    """The service's own message, when it gave one, on the same line."""
    try:
        document = response.json()
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
