"""Credentials from a URI (``ALIBABA_CLOUD_CREDENTIALS_URI``, or a profile in mode
``CredentialsURI``): ``GET`` it, answered with ``{Code: "Success", AccessKeyId, AccessKeySecret,
SecurityToken, Expiration}``; asked again only when they near expiry. The environment's proxy
and CA bundle apply, as for the API clients."""

from __future__ import annotations

from urllib.parse import urlsplit

from reconciler.cloud.credentials.http_source import ask, credentials_answer, http_transport
from reconciler.cloud.credentials.model import Credentials
from reconciler.cloud.credentials.refresh import RefreshingProvider
from reconciler.errors import CredentialsError

ENV_CREDENTIALS_URI = "ALIBABA_CLOUD_CREDENTIALS_URI"
TIMEOUT = 10.0


def uri_provider(uri: str, *, named_by: str) -> RefreshingProvider:
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CredentialsError(f"{named_by}: {uri[:80]!r} is not an http(s) URL")
    # The URL's query may hold a token of its own: said by scheme, host and path only.
    shown = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"
    source = f"credentials URI {shown} ({named_by})"
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    transport = http_transport(uri, timeout=TIMEOUT, environ=None)

    def fetch() -> Credentials:
        response = ask(transport, "GET", path, where=f"credentials URI {shown}")
        return credentials_answer(response, where=f"credentials URI {shown}", source=source)

    return RefreshingProvider(fetch, source=source)
