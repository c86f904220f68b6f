"""Group commit of state changes: many workers record, one writer persists.

Workers finish calls faster than a full state document can be serialised and fsynced, so each
``record`` only enqueues; the first worker to find no write in flight becomes the writer and
drains everything queued, in batches, until the queue is empty. Every completion is therefore
written at most one write after it happened, and 2,000 creates cost far fewer than 2,000 writes.

A writer that finds work queued right after a write waits until ``min_interval`` has passed
since that write before taking the next batch: the local backend re-reads, validates and
rewrites the whole document on every write, so without the pause a 2,000-GID apply spends most
of its CPU (and the GIL its calls need) rewriting state two completions at a time. The first
completion after a quiet spell is written at once.

Crash safety does not depend on the batch size: whatever a crash loses between a call and its
write is something the cloud already shows, so the next plan turns it into ``adopt`` (created but
unrecorded) or ``forget`` (deleted but still recorded) and re-running converges.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from reconciler.errors import ReconcilerError, StateError
from reconciler.models import (
    NamedValue,
    ResourceKey,
    StateDocument,
    StateResource,
    named,
    named_values,
)
from reconciler.state.base import StateBackend

# Seconds between two writes while completions keep coming (at most 20 writes a second).
DEFAULT_MIN_INTERVAL = 0.05


@dataclass(frozen=True)
class _Put:
    resource: StateResource


@dataclass(frozen=True)
class _Drop:
    key: ResourceKey


@dataclass(frozen=True)
class _Amend:
    """A recorded resource's ``protect`` set, and attribute values and digests merged in."""

    key: ResourceKey
    protect: bool
    attributes: tuple[NamedValue, ...]
    digests: tuple[NamedValue, ...]

    def applied_to(self, resource: StateResource) -> StateResource:
        return resource.model_copy(
            update={
                "protect": self.protect,
                "attributes": _merged(resource.attributes, self.attributes),
                "digests": _merged(resource.digests, self.digests),
            }
        )


def _merged(
    recorded: tuple[NamedValue, ...], new: tuple[NamedValue, ...]
) -> tuple[NamedValue, ...]:
    if not new:
        return recorded
    return named_values({**named(recorded), **named(new)})


_Mutation = _Put | _Drop | _Amend


class StateJournal:
    """Thread-safe; ``document`` is the last state written (or the one it started from)."""

    def __init__(
        self,
        writer: StateBackend,
        document: StateDocument,
        *,
        on_error: Callable[[StateError], None] | None = None,
        min_interval: float = DEFAULT_MIN_INTERVAL,
    ) -> None:
        self._writer = writer
        self._document = document
        self._resources = document.by_key()
        self._on_error = on_error
        self._min_interval = min_interval
        self._last_write = -math.inf
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._pending: list[_Mutation] = []
        self._writing = False
        self._error: StateError | None = None
        self.writes = 0

    @property
    def document(self) -> StateDocument:
        with self._lock:
            return self._document

    @property
    def error(self) -> StateError | None:
        with self._lock:
            return self._error

    def put(self, resource: StateResource) -> None:
        self._record(_Put(resource))

    def drop(self, key: ResourceKey) -> None:
        self._record(_Drop(key))

    def amend(
        self,
        key: ResourceKey,
        *,
        protect: bool,
        attributes: tuple[NamedValue, ...] = (),
        digests: tuple[NamedValue, ...] = (),
    ) -> None:
        """Set ``protect`` of a recorded resource and merge in attribute values and digests
        (an update; nothing if it is not recorded)."""
        self._record(_Amend(key, protect, attributes, digests))

    def _record(self, mutation: _Mutation) -> None:
        with self._lock:
            self._pending.append(mutation)
            # After a failed write keep collecting; ``flush`` makes the last attempt.
            if self._writing or self._error is not None:
                return
            self._writing = True
        self._drain()

    def flush(self) -> StateDocument:
        """Wait for the writer, then write whatever is still queued; raises StateError."""
        with self._lock:
            while self._writing:
                self._idle.wait()
            self._error = None
            if not self._pending:
                return self._document
            self._writing = True
        self._drain()
        with self._lock:
            if self._error is not None:
                raise self._error
            return self._document

    def _drain(self) -> None:
        """Runs in exactly one thread at a time (``_writing`` is the baton)."""
        while True:
            with self._lock:
                if not self._pending:
                    self._writing = False
                    self._idle.notify_all()
                    return
            pause = self._last_write + self._min_interval - time.monotonic()
            if pause > 0:
                time.sleep(pause)  # let more completions join this batch
            with self._lock:
                batch, self._pending = self._pending, []
                base = self._document
            resources = dict(self._resources)
            for mutation in batch:
                if isinstance(mutation, _Put):
                    resources[mutation.resource.key] = mutation.resource
                elif isinstance(mutation, _Drop):
                    resources.pop(mutation.key, None)
                elif (known := resources.get(mutation.key)) is not None:
                    resources[mutation.key] = mutation.applied_to(known)
            ordered = tuple(sorted(resources.values(), key=_sort_key))
            candidate = base.model_copy(update={"resources": ordered})
            try:
                stored = self._writer.write(candidate, expected_serial=base.serial)
            except Exception as exc:  # any failure must release the baton, or flush deadlocks
                error = exc if isinstance(exc, StateError) else StateError(_describe(exc))
                with self._lock:
                    # Keep the batch, in order, ahead of anything queued meanwhile.
                    self._pending[:0] = batch
                    self._error = error
                    self._writing = False
                    self._idle.notify_all()
                if self._on_error is not None:
                    self._on_error(error)
                return
            self._last_write = time.monotonic()
            with self._lock:
                self._document = stored
                self._resources = resources
                self.writes += 1


def _sort_key(resource: StateResource) -> tuple[str, str, str, str]:
    # ResourceKey.sort_key() order, without building a key model per resource per write.
    return (resource.region, resource.instance_id, resource.kind, resource.group_id)


def _describe(exc: Exception) -> str:
    if isinstance(exc, ReconcilerError):
        return str(exc)
    return f"state write failed: {type(exc).__name__}: {exc}"
