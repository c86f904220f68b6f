"""The HTTP endpoint of an MQTT management API for a region, or an explicit override."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from reconciler.errors import CloudError

_REGION_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


def endpoint_for(region: str, override: str | None = None, *, service: str = "ons") -> str:
    """``https://<service>.<region>.aliyuncs.com`` (``ons`` or ``onsmqtt``), or ``override``
    normalised (no trailing slash).

    The override may be any http(s) URL; a bare ``host:port`` means ``http://host:port``, which
    is what a local emulator listens on.
    """
    if override is not None and override.strip():
        return normalise_endpoint(override.strip())
    if not _REGION_RE.match(region):
        raise CloudError(f"invalid region {region!r}: expected a name like cn-hangzhou")
    return f"https://{service}.{region}.aliyuncs.com"


def normalise_endpoint(url: str) -> str:
    candidate = url if "://" in url else f"http://{url}"
    try:
        parts = urlsplit(candidate)
        port = parts.port  # raises ValueError for a port that is not a number
    except ValueError as exc:
        raise CloudError(f"invalid endpoint {url!r}: {exc}") from exc
    if parts.scheme not in ("http", "https"):
        raise CloudError(f"invalid endpoint {url!r}: the scheme must be http or https")
    if not parts.hostname:
        raise CloudError(f"invalid endpoint {url!r}: no host")
    if parts.query or parts.fragment:
        raise CloudError(f"invalid endpoint {url!r}: no query or fragment allowed")
    if parts.username or parts.password:
        raise CloudError(f"invalid endpoint {url!r}: credentials in the URL are not allowed")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname  # IPv6 literal
    netloc = host if port is None else f"{host}:{port}"
    return f"{parts.scheme}://{netloc}{parts.path.rstrip('/')}"
