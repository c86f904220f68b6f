"""The request core both API clients share: sign, send, pace, retry, log, translate errors.

Every call is a POST with its parameters in an ``application/x-www-form-urlencoded`` body (the
Tea SDK's wire shape), so nothing signed ever lands in a URL that a proxy or a log might keep.
Each attempt is signed afresh (new nonce and timestamp): the service rejects a reused nonce.
The ``x-acs-action`` and ``x-acs-version`` headers ride along, as both official SDKs send them.

Thread-safe: one ``Transport`` keeping up to ``pool_size`` connections, buckets that lock, and
no other shared mutable state.
"""

from __future__ import annotations

import http.client
import json
import logging
import random
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from types import TracebackType
from typing import Any, Self, TypedDict, TypeGuard, TypeVar
from urllib.parse import quote_plus

from pydantic import BaseModel, ValidationError

from reconciler import __version__
from reconciler.cloud.credentials.model import Credentials, CredentialsProvider, as_provider
from reconciler.cloud.endpoints import endpoint_for
from reconciler.cloud.error_codes import (
    EXPIRED_TOKEN_CODE,
    RETRY_AFTER_HEADER,
    error_from_response,
    is_throttling,
    retry_after_seconds,
)
from reconciler.cloud.pacing import Pacing, RateLimits
from reconciler.cloud.retry import RetryPolicy, is_retryable
from reconciler.cloud.signing import SignedForm, percent_encode, signed_form
from reconciler.cloud.transport import Response, Transport
from reconciler.errors import (
    AuthError,
    CloudApiError,
    CloudConnectionError,
    CloudError,
    UntrustedCertificateError,
)
from reconciler.ratelimit import (
    WAIT_WORTH_SAYING,
    AccountRateLimits,
    AdaptiveBucket,
    TokenBucket,
)
from reconciler.redirects import is_redirect, refused_redirect

log = logging.getLogger("reconciler.cloud")

REDACTED = "***"
# Parameters whose values are secret or derived from the secret: masked by name in DEBUG lines,
# their values masked in error messages (a custom-auth identity's ``Secret`` among them).
SECRET_PARAMETERS = frozenset(
    {"Signature", "SecurityToken", "AccessKeySecret", "OIDCToken", "Secret"}
)
# Shorter strings would garble messages when masked and are no secret worth the name.
_MIN_REDACTED_LENGTH = 4
_MAX_REASON_CHARS = 200

_FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
PACING_NOTE_INTERVAL = 10.0

ModelT = TypeVar("ModelT", bound=BaseModel)
AnswerT = TypeVar("AnswerT")
# Turns a success answer's body into what the call returns; raises ValueError (not JSON),
# _NotAnObject or pydantic's ValidationError (not the expected shape).
Decode = Callable[[bytes], AnswerT]


@dataclass(frozen=True)
class ApiProduct:
    """What tells one API generation from the other on the wire."""

    label: str  # for messages: "ONS 2019-02-14"
    service: str  # the endpoint's first label: ons.<region>.aliyuncs.com
    version: str
    actions: frozenset[str]
    pacing: Pacing


class ClientOptions(TypedDict, total=False):
    """The settings of ``RpcClient.__init__`` after ``region``, for subclasses to pass on."""

    endpoint: str | None
    rate_limits: RateLimits | None
    timeout: float
    retry: RetryPolicy | None
    pool_size: int
    sleep: Callable[[float], None]
    clock: Callable[[], float]
    rng: random.Random | None


class RpcClient:
    """The shared core; subclasses add typed methods and declare their product (whose
    ``pacing`` says how the run's ``RateLimits`` pace them)."""

    product: ApiProduct

    def __init__(
        self,
        credentials: Credentials | CredentialsProvider,
        *,
        region: str,
        endpoint: str | None = None,
        rate_limits: RateLimits | None = None,
        timeout: float = 10.0,
        retry: RetryPolicy | None = None,
        pool_size: int = 16,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        """``rate_limits`` is the run's registry (``ClientRegistry`` makes one and hands it to
        every client); without one the client paces on buckets of its own, which is right only
        for a lone client. ``credentials`` may be a provider, asked before each attempt (so
        temporary credentials it refreshes are picked up); the account's buckets are keyed by
        the key it first gives. ``sleep``, ``clock`` and ``rng`` exist so tests can run backoff
        without waiting."""
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        if pool_size < 1:
            raise ValueError("pool_size must be at least 1")
        self._provider = as_provider(credentials)
        first = self._provider.current()
        self._pacing_key = first.access_key_id
        self._redacted = (first, redaction_forms(first.secret_values()))
        self.region = region
        self.endpoint = endpoint_for(region, endpoint, service=self.product.service)
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()
        # The buckets, per AccessKeyId and action, this client paces from.
        self.rate_limits: AccountRateLimits = (rate_limits or RateLimits(clock=clock)).for_client(
            self.product.pacing
        )
        self._pacing_noted: dict[str, float] = {}
        self._pacing_lock = threading.Lock()
        self._url = self.endpoint + "/"
        # Sends each request once: our own retry loop re-signs every attempt.
        self._transport = Transport(
            self._url,
            timeout=timeout,
            pool_size=pool_size,
            headers={"User-Agent": f"reconciler/{__version__}"},
        )

    # -- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(region={self.region!r}, endpoint={self.endpoint!r})"

    @property
    def credentials(self) -> Credentials:
        """What the next attempt signs with; also what ``_redact`` masks from then on."""
        current = self._provider.current()
        previous = self._redacted[0]
        if current is not previous:
            # The previous ones too: a call signed with them may still be answering.
            secrets = (*current.secret_values(), *previous.secret_values())
            self._redacted = (current, redaction_forms(secrets))
        return current

    # -- the call machinery --------------------------------------------------------------------

    def call(self, action: str, params: Mapping[str, str]) -> dict[str, Any]:
        """One action with retries; the decoded JSON body of the success answer (``_answer``
        says how each attempt's answer is read)."""
        return self._answer(action, params, _json_object)

    def _answer(self, action: str, params: Mapping[str, str], decode: Decode[AnswerT]) -> AnswerT:
        """One action with retries; the success answer's body as ``decode`` gives it.

        Waiting for the first pacing token is not bounded (pacing is intended, not a failure);
        from the first attempt on, no retry starts past ``retry.deadline`` seconds, and the
        last error is raised as it came. A throttled answer slows an adaptive bucket down, and
        a retry waits at least as long as the service's ``x-acs-retry-after`` asks. Temporary
        credentials the service calls expired (``InvalidSecurityToken.Expired``: this machine's
        clock behind, say) are fetched again and the call tried once more, when the provider
        can renew them; otherwise that refusal says what to do.
        """
        if action not in self.product.actions:
            raise ValueError(f"unknown {self.product.label} action {action!r}")
        bucket = self.rate_limits.bucket(self._pacing_key, action)
        if bucket is not None:
            self._take_token(action, bucket, deadline=None)
        started = self._clock()
        attempt = 1
        renewed = False
        while True:
            signing = self.credentials
            try:
                return self._attempt(action, params, attempt, signing, decode)
            except CloudError as err:
                if _token_expired(err):
                    # Once per call, and beside the retry budget: a refusal is no fault.
                    if renewed or not self._provider.refresh_refused(signing):
                        raise self._expired(err, renewed=renewed) from err
                    renewed = True
                    log.info("%s: credentials expired early; fetched again, retrying once", action)
                    if bucket is not None:
                        self._take_token(action, bucket, deadline=None)
                    attempt += 1
                    continue
                retry_after = _note_throttling(err, bucket)
                # An unknown host name rarely heals within a minute either: tried like a
                # refused connection.
                unreachable = _connection_refused(err) or _unresolved_host(err)
                attempts = self.retry.attempts_for(refused=unreachable)
                if not is_retryable(err) or attempt >= attempts:
                    raise
                delay = max(self.retry.backoff(attempt, self._rng), retry_after or 0.0)
                deadline = started + self.retry.deadline
                if self._clock() + delay > deadline:
                    raise
                # Said at WARNING so a command shows it: a silent wait looks like a hang.
                log.warning(
                    "%s: %s, retrying in %.1fs (attempt %d of %d)",
                    action,
                    _short(err),
                    delay,
                    attempt + 1,
                    attempts,
                )
                self._sleep(delay)
                if bucket is not None and not self._take_token(action, bucket, deadline=deadline):
                    raise
            attempt += 1

    def _typed(self, action: str, params: Mapping[str, str], model: type[ModelT]) -> ModelT:
        """``call``, its answer validated as ``model`` straight from its bytes."""
        return self._answer(action, params, partial(_as_model, model))

    def _take_token(self, action: str, bucket: TokenBucket, *, deadline: float | None) -> bool:
        # The bucket runs on the client's clock, so ``deadline`` is a time of that clock.
        return bucket.acquire(
            deadline, sleep=self._sleep, on_wait=lambda wait: self._say_pacing(action, bucket, wait)
        )

    def _say_pacing(self, action: str, bucket: TokenBucket, wait: float) -> None:
        """Log a long pacing wait at INFO, at most once per ``PACING_NOTE_INTERVAL`` per
        action: many threads wait on one bucket, and one line says enough."""
        if wait < WAIT_WORTH_SAYING or not log.isEnabledFor(logging.INFO):
            return
        now = self._clock()
        with self._pacing_lock:
            last = self._pacing_noted.get(action)
            if last is not None and now - last < PACING_NOTE_INTERVAL:
                return
            self._pacing_noted[action] = now
        log.info("%s: waiting %.0fs for the %s rate limit", action, wait, bucket.rate)

    def _expired(self, err: CloudApiError, *, renewed: bool) -> AuthError:
        """The expired-token refusal in one line that says what to do about it."""
        source = self._provider.source
        if renewed:
            hint = f"so were the credentials fetched again from {source} right after"
        else:
            hint = (
                f"the STS token from {source} is never refreshed: get a new one, or let the "
                "tool assume a role (OIDC, RamRoleArn, ECS RAM role, credentials URI)"
            )
        return AuthError(
            action=err.action or "call",
            status=err.status,
            code=err.code,
            message=f"{err.api_message.rstrip('.')}; {hint}",
            request_id=err.request_id,
        )

    def _attempt(
        self,
        action: str,
        params: Mapping[str, str],
        attempt: int,
        creds: Credentials,
        decode: Decode[AnswerT],
    ) -> AnswerT:
        """One POST signed with ``creds`` and its answer (read by ``decode``), reported in one
        DEBUG line however far it got."""
        signed, body = self._signed(action, params, creds)
        seen = _AttemptReport()
        begun = time.perf_counter()
        # The call's own secret parameters are masked too, wherever a message might quote
        # them (a string to sign holds every parameter).
        sent_secrets = redaction_forms(
            value for name, value in params.items() if name in SECRET_PARAMETERS
        )
        try:
            response = self._post(action, body, seen, sent_secrets)
            return self._read(action, response, seen, decode, sent_secrets)
        finally:
            if log.isEnabledFor(logging.DEBUG):
                log.debug(
                    "%s attempt %d: status=%s code=%s RequestId=%s elapsed=%.3fs params=%s",
                    action,
                    attempt,
                    seen.status if seen.status is not None else "-",
                    seen.code or "-",
                    seen.request_id or "-",
                    time.perf_counter() - begun,
                    redacted_parameters(signed),
                )

    def _signed(self, action: str, params: Mapping[str, str], creds: Credentials) -> SignedForm:
        """The parameters with the common ones and a fresh signature (new nonce, timestamp),
        and their form body."""
        token = creds.security_token.get_secret_value() if creds.security_token else None
        return signed_form(
            "POST",
            action,
            params,
            access_key_id=creds.access_key_id,
            access_key_secret=creds.access_key_secret.get_secret_value(),
            region_id=self.region,
            security_token=token,
            version=self.product.version,
        )

    def _post(
        self,
        action: str,
        body: bytes,
        seen: _AttemptReport,
        sent_secrets: tuple[str, ...] = (),
    ) -> Response:
        """Send the form ``body``; a request that gets no HTTP answer is a CloudConnectionError."""
        headers = {
            "Content-Type": _FORM_CONTENT_TYPE,
            "x-acs-action": action,
            "x-acs-version": self.product.version,
        }
        try:
            return self._transport.post(body, headers)
        except TimeoutError as exc:
            seen.code = "Timeout"
            raise CloudConnectionError(
                f"{action}: no answer from {self.endpoint} within {self.timeout:g}s",
                action=action,
            ) from exc
        except (OSError, http.client.HTTPException) as exc:
            untrusted = self._transport.untrusted_certificate(exc)
            if untrusted is not None:
                seen.code = "UntrustedCertificate"
                raise UntrustedCertificateError(f"{action}: {untrusted}", action=action) from exc
            if _unresolved_host(exc):
                seen.code = self._redact(
                    f"cannot resolve host {self._transport.connect_host}", sent_secrets
                )
            else:
                seen.code = self._redact(_root_cause(exc), sent_secrets)
            raise CloudConnectionError(
                f"{action}: cannot reach {self.endpoint}: {seen.code}", action=action
            ) from exc

    def _read(
        self,
        action: str,
        response: Response,
        seen: _AttemptReport,
        decode: Decode[AnswerT],
        sent_secrets: tuple[str, ...] = (),
    ) -> AnswerT:
        """The answer's body as ``decode`` reads it; a redirect, an error answer or a body
        that is not a JSON object of the expected shape raises the matching CloudError."""
        status = seen.status = response.status
        if is_redirect(status):
            seen.code = "Redirect"
            raise CloudError(
                f"{action}: {refused_redirect(self._url, status, response.headers)}",
                action=action,
            )
        if not 200 <= status < 300:
            error = error_from_response(
                action,
                status,
                response.content,
                redact=lambda text: self._redact(text, sent_secrets),
                retry_after=retry_after_seconds(response.headers.get(RETRY_AFTER_HEADER)),
            )
            seen.code, seen.request_id = error.code, error.request_id
            raise error
        try:
            answer = decode(response.content)
        except ValidationError as exc:
            seen.code = "UnexpectedAnswer"
            problem = exc.errors()[0]
            where = ".".join(str(part) for part in problem["loc"])
            raise CloudError(
                f"{action}: unexpected answer from {self.endpoint}: {where}: {problem['msg']}",
                action=action,
            ) from exc
        except _NotAnObject as exc:
            seen.code = "NotObject"
            raise CloudError(f"{action}: the answer is not a JSON object", action=action) from exc
        except ValueError as exc:
            seen.code = "NotJson"
            raise CloudError(
                f"{action}: HTTP {status} from {self.endpoint} is not JSON", action=action
            ) from exc
        seen.request_id = (
            answer.get("RequestId")
            if isinstance(answer, dict)
            else getattr(answer, "request_id", None)
        )
        return answer

    def _redact(self, text: str, sent_secrets: tuple[str, ...] = ()) -> str:
        """``text`` with the credentials' secrets, and ``sent_secrets`` (a call's own, as
        ``redaction_forms`` gives them), masked; longest first across both."""
        forms = self._redacted[1]
        if sent_secrets:
            forms = tuple(sorted({*forms, *sent_secrets}, key=len, reverse=True))
        for form in forms:
            text = text.replace(form, REDACTED)
        return text


class _NotAnObject(Exception):
    """The answer is JSON, but not an object."""


def _json_object(content: bytes) -> dict[str, Any]:
    body = json.loads(content)
    if not isinstance(body, dict):
        raise _NotAnObject
    return body


def _as_model(model: type[ModelT], content: bytes) -> ModelT:
    """``content`` validated as ``model`` in one pass of pydantic-core over the bytes: a
    1,000-GID listing took json.loads and then validating the objects about twice as long.
    A body that pass calls no JSON object goes the long way, so that what Python's json module
    reads (a byte order mark, UTF-16) is read as before, and wrong bodies fail as before."""
    try:
        return model.model_validate_json(content)
    except ValidationError as exc:
        problem = exc.errors()[0]
        if problem["loc"] or problem["type"] not in ("json_invalid", "model_type"):
            raise
    return model.model_validate(_json_object(content))


@dataclass
class _AttemptReport:
    """What an attempt's DEBUG line reports, filled in as far as the attempt gets."""

    status: int | None = None
    code: str | None = None
    request_id: object = None


def _note_throttling(err: CloudError, bucket: TokenBucket | None) -> float | None:
    """Tell an adaptive bucket of a throttled answer; the wait the service asked for."""
    if not isinstance(err, CloudApiError):
        return None
    if isinstance(bucket, AdaptiveBucket) and is_throttling(err.code):
        bucket.throttled(err.retry_after)
    return err.retry_after


def present(**params: str | None) -> dict[str, str]:
    """The parameters that have a value (optional ones left out)."""
    return {name: value for name, value in params.items() if value is not None}


def redacted_parameters(params: Mapping[str, str]) -> dict[str, str]:
    """The parameters with every secret or secret-derived value masked, for logging."""
    return {
        name: (REDACTED if name in SECRET_PARAMETERS else value) for name, value in params.items()
    }


def redaction_forms(secrets: Iterable[str]) -> tuple[str, ...]:
    """Each secret as sent and as it shows inside a string to sign (encoded once and twice)."""
    forms: set[str] = set()
    for secret in secrets:
        if len(secret) < _MIN_REDACTED_LENGTH:
            continue
        once = percent_encode(secret)
        forms.update({secret, once, percent_encode(once), quote_plus(secret)})
    # Longest first, so a longer encoded form is not cut apart by a shorter one.
    return tuple(sorted(forms, key=len, reverse=True))


def _root_cause(exc: BaseException) -> str:
    """The innermost reason of a connection error, without wrapper noise."""
    cause: BaseException = exc
    for _ in range(10):
        inner = getattr(cause, "reason", None)
        if not isinstance(inner, BaseException) and cause.args:
            inner = cause.args[0]
        if not isinstance(inner, BaseException) or inner is cause:
            break
        cause = inner
    text = f"{type(cause).__name__}: {cause}"
    return text if len(text) <= _MAX_REASON_CHARS else text[:_MAX_REASON_CHARS] + "..."


def _short(err: CloudError) -> str:
    if isinstance(err, CloudApiError):
        return f"{err.code} (HTTP {err.status})"
    if _connection_refused(err):
        return "connection refused"
    text = str(err)
    return text.removeprefix(f"{err.action}: ") if err.action else text


def _token_expired(err: CloudError) -> TypeGuard[AuthError]:
    return isinstance(err, AuthError) and err.code == EXPIRED_TOKEN_CODE


def _connection_refused(err: BaseException) -> bool:
    """Whether nothing listens at the endpoint (the cause chain holds ECONNREFUSED)."""
    return any(isinstance(cause, ConnectionRefusedError) for cause in _cause_chain(err))


def _unresolved_host(err: BaseException) -> bool:
    """Whether the cause chain holds a name resolution failure (``socket.gaierror``)."""
    return any(isinstance(cause, socket.gaierror) for cause in _cause_chain(err))


def _cause_chain(err: BaseException) -> Iterable[BaseException]:
    """``err`` and every exception it wraps: causes, contexts, reasons, arguments."""
    seen: set[int] = set()
    pending: list[BaseException] = [err]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        for inner in (current.__cause__, current.__context__, getattr(current, "reason", None)):
            if isinstance(inner, BaseException):
                pending.append(inner)
        pending.extend(arg for arg in current.args if isinstance(arg, BaseException))
