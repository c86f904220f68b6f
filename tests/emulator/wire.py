"""Hand-signed requests for emulator tests: any method, any parameter placement, any format."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests

from reconciler.cloud.signing import signed_parameters


def signed_call(
    url: str,
    action: str,
    params: Mapping[str, str] | None = None,
    *,
    key: str,
    secret: str,
    method: str = "POST",
    in_body: bool = True,
    response_format: str = "JSON",
    region_id: str | None = None,
    security_token: str | None = None,
    nonce: str | None = None,
    timestamp: str | None = None,
    tamper: Mapping[str, str | None] | None = None,
    session: requests.Session | None = None,
    version: str = "2019-02-14",
) -> requests.Response:
    """Sign like an SDK would, then send. ``tamper`` changes (or with None removes) parameters
    after signing. POST puts everything in a form body when ``in_body``, else in the query."""
    signed: dict[str, Any] = signed_parameters(
        method,
        action,
        dict(params or {}),
        access_key_id=key,
        access_key_secret=secret,
        region_id=region_id,
        security_token=security_token,
        response_format=response_format,
        nonce=nonce,
        timestamp=timestamp,
        version=version,
    )
    for name, value in (tamper or {}).items():
        if value is None:
            signed.pop(name, None)
        else:
            signed[name] = value
    http = session or requests
    if method == "GET":
        return http.get(url + "/", params=signed, timeout=10)
    if in_body:
        return http.post(url + "/", data=signed, timeout=10)
    return http.post(url + "/", params=signed, timeout=10)


def call(
    emulator: Any, action: str, params: Mapping[str, str] | None = None, **kwargs: Any
) -> requests.Response:
    """``signed_call`` with the fixture's URL and credentials."""
    kwargs.setdefault("key", emulator.access_key_id)
    kwargs.setdefault("secret", emulator.access_key_secret)
    return signed_call(emulator.url, action, params, **kwargs)


def ok(response: requests.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["RequestId"]
    return body


def error_code(response: requests.Response, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) >= {"RequestId", "HostId", "Code", "Message"}
    return str(body["Code"])
