"""Redirects are refused, never followed, on every HTTP path that carries a credential.

A followed redirect resends the request to whoever the ``Location`` names: for the management
APIs that is the whole signed request (STS token and an unused nonce included), for a forge
the token header (``Authorization``, or GitLab's ``PRIVATE-TOKEN``). Neither API redirects, so
a 3xx is an error that names both hosts and nothing else of the ``Location`` (its query string
may carry anything).
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urljoin, urlsplit

# Every HTTP call goes through reconciler.cloud.transport, which follows no redirect at all;
# its callers turn a 3xx into this refusal.


def is_redirect(status: int) -> bool:
    return 300 <= status < 400


def refused_redirect(url: str, status: int, headers: Mapping[str, str]) -> str:
    """``HOST answered HTTP 307, a redirect to OTHER: not followed`` for the request to ``url``."""
    # Lower case: the transport stores header names lower-cased.
    location = headers.get("location")
    target = "nowhere (no Location)" if location is None else _host(urljoin(url, location))
    return f"{_host(url)} answered HTTP {status}, a redirect to {target}: not followed"


def _host(url: str) -> str:
    """``host:port`` of ``url``; user information, path and query left out."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:
        return "an unreadable address"
    if not host or not host.isprintable():
        return "an unreadable address"
    shown = f"[{host}]" if ":" in host else host
    return shown if port is None else f"{shown}:{port}"
