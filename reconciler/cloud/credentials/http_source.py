"""What the ECS metadata service and a credentials URI share: a plain HTTP GET (or PUT) on the
clients' ``Transport``, and the answer ``{Code: "Success", AccessKeyId, AccessKeySecret,
SecurityToken, Expiration}``."""

from __future__ import annotations

import http.client
import json
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from reconciler import __version__
from reconciler.cloud.credentials.model import Credentials, make_credentials
from reconciler.cloud.credentials.refresh import parse_expiration
from reconciler.cloud.transport import Response, Transport
from reconciler.errors import CredentialsError

SUCCESS = "Success"


class Unreachable(CredentialsError):
    """Nothing answered: for the metadata service, the sign that this is no ECS instance."""


def http_transport(url: str, *, timeout: float, environ: Mapping[str, str] | None) -> Transport:
    """One connection kept: a source is asked once per lifetime."""
    return Transport(
        url,
        timeout=timeout,
        pool_size=1,
        headers={"User-Agent": f"reconciler/{__version__}"},
        environ=environ,
    )


def ask(
    transport: Transport,
    method: str,
    path: str,
    *,
    where: str,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """The answer, whatever its status; ``Unreachable`` when none came."""
    try:
        return transport.request(method, path, None, headers or {})
    except TimeoutError:
        raise Unreachable(f"{where}: no answer within the timeout") from None
    except (OSError, http.client.HTTPException) as exc:
        untrusted = transport.untrusted_certificate(exc)
        if untrusted is not None:
            # An error, not Unreachable: something answered, and a skip would hide why.
            raise CredentialsError(f"{where}: {untrusted}") from None
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise Unreachable(f"{where}: cannot connect ({reason})") from None


def refused(response: Response, where: str) -> CredentialsError:
    """A non-200 answer, said by status and code only: the body may echo what was sent."""
    code = ""
    try:
        body = json.loads(response.content)
        if isinstance(body, dict) and isinstance(body.get("Code"), str):
            code = f" {body['Code'][:60]}"
    except ValueError:
        pass
    return CredentialsError(f"{where}: HTTP {response.status}{code}")


class _CredentialsAnswer(BaseModel):
    model_config = ConfigDict(extra="ignore")

    Code: str
    AccessKeyId: str
    AccessKeySecret: SecretStr
    SecurityToken: SecretStr
    Expiration: str


def credentials_answer(response: Response, *, where: str, source: str) -> Credentials:
    if response.status != 200:
        raise refused(response, where)
    try:
        body: Any = json.loads(response.content)
        answer = _CredentialsAnswer.model_validate(body)
    except ValueError as exc:
        raise CredentialsError(f"{where}: the answer is not credentials{_problem(exc)}") from None
    if answer.Code != SUCCESS:
        raise CredentialsError(f"{where}: Code is {answer.Code[:60]!r}, not {SUCCESS!r}")
    return make_credentials(
        answer.AccessKeyId,
        answer.AccessKeySecret.get_secret_value(),
        answer.SecurityToken.get_secret_value(),
        source=source,
        expiration=parse_expiration(answer.Expiration, where=where),
    )


def _problem(exc: ValueError) -> str:
    # Names the field, never the input: the answer holds secrets.
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        return f" ({'.'.join(str(part) for part in first['loc'])}: {first['msg']})"
    return " (not JSON)"
