"""Temporary credentials kept fresh: fetched once, fetched again before they expire.

One ``RefreshingProvider`` serves every client of a run (the registry holds it), so the
metadata service, the credentials URI or STS is asked once per lifetime, not once per client
or call. Each attempt of each call asks ``current()`` and signs with what it gets, so a call
started near the end of a lifetime is signed with the next one.

When to fetch again: the official library treats credentials as stale 15 minutes before they
expire, which for STS's shortest lifetime (15 minutes) means on every call. Here the margin is
15 minutes or a third of the lifetime, whichever is shorter: a one-hour token is refreshed 15
minutes early as the library does, a 30-second one 10 seconds early, enough for a call and its
retries to finish.

A fetch that fails stops the provider: the error is kept and raised to every later caller, so
no new call is signed with credentials about to expire and the source is not hammered; the
message says which source failed and why, in one line.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from reconciler.cloud.credentials.model import Credentials
from reconciler.errors import CredentialsError, ReconcilerError

log = logging.getLogger("reconciler.cloud")

MAX_REFRESH_MARGIN = 15 * 60.0
_MARGIN_SHARE = 3


class CredentialsRefreshError(CredentialsError):
    """Temporary credentials could not be fetched again; no further call is started."""


class RefreshingProvider:
    """``fetch`` gives credentials with an ``expiration``; it is called again once the margin
    before that expiration is reached (``clock`` is wall time: expirations are absolute)."""

    def __init__(
        self,
        fetch: Callable[[], Credentials],
        *,
        source: str | Callable[[], str],
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``source`` may be a callable: a source that learns its name on the first fetch (the
        ECS role discovered)."""
        self._fetch = fetch
        self._source = source
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: Credentials | None = None
        self._refresh_at = 0.0
        self._failure: CredentialsRefreshError | None = None

    @property
    def source(self) -> str:
        return self._source if isinstance(self._source, str) else self._source()

    def current(self) -> Credentials:
        with self._lock:
            if self._failure is not None:
                raise self._failure
            if self._cached is None or self._clock() >= self._refresh_at:
                self._renew()
            assert self._cached is not None  # set by _renew or it raised
            return self._cached

    def refresh_refused(self, refused: Credentials) -> bool:
        """Fetch again at the next ``current()``, however long ``refused`` still seemed valid
        (this machine's clock may be behind the service's); once only, whichever of the calls
        refused with them asks first: the others find fresh ones already."""
        with self._lock:
            # After a failed refresh, True too: ``current()`` then says why nothing is fetched.
            if self._failure is None and self._cached is refused:
                self._refresh_at = 0.0
            return True

    def _renew(self) -> None:
        first = self._cached is None
        try:
            fresh = self._fetch()
        except ReconcilerError as exc:
            if first:
                raise  # resolution: the chain reports it as this source's failure
            self._failure = CredentialsRefreshError(
                f"the credentials from {self.source} could not be refreshed, so no further "
                f"call is started: {exc}"
            )
            raise self._failure from exc
        now = self._clock()
        if fresh.expiration is None:
            self._refresh_at = float("inf")
        else:
            if fresh.expiration <= now:
                raise CredentialsError(
                    f"{self.source} gave credentials that expired at {_utc(fresh.expiration)}"
                    " already; check this machine's clock"
                )
            margin = min(MAX_REFRESH_MARGIN, (fresh.expiration - now) / _MARGIN_SHARE)
            self._refresh_at = fresh.expiration - margin
        self._cached = fresh
        log.debug(
            "credentials %s from %s, valid until %s",
            "fetched" if first else "refreshed",
            self.source,
            "further notice" if fresh.expiration is None else _utc(fresh.expiration),
        )


def _utc(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_expiration(text: object, *, where: str) -> float:
    """An answer's ``Expiration`` (``YYYY-MM-DDThh:mm:ssZ``) as POSIX seconds."""
    try:
        return datetime.strptime(str(text), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    except ValueError:
        raise CredentialsError(
            f"{where}: Expiration {str(text)[:40]!r} is not a time like 2026-01-02T03:04:05Z"
        ) from None
