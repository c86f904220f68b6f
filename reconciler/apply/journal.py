"""Group commit of state changes: many workers record, one writer persists.

Workers finish calls faster than even a batch can be fsynced, so each ``record`` only
enqueues; the first worker to find no write in flight becomes the writer and drains everything
queued, in batches, until the queue is empty. Every completion is therefore written at most one
write after it happened, and 2,000 creates cost far fewer than 2,000 writes. Each batch is
stored with ``StateBackend.append`` (only what it changed), so a write costs the batch, not the
state; the whole document is written only when the backend's journal is due to be folded.

A writer that finds work queued right after a write waits until ``min_interval`` has passed
since that write before taking the next batch, so that an fsync carries many completions rather
than two; the first completion after a quiet spell is written at once.

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
    resource_sort_key,
)
from reconciler.state.base import StateBackend
from reconciler.state.changes import StateChanges

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
    """Thread-safe; ``document`` is the last state written (or the one it started from).

    ``stored`` is the document the backend holds, when ``document`` (what this run starts
    from) differs from it: the first write then records the difference. Each batch is stored
    with ``StateBackend.append`` (the cost of the batch, not of the state), except the first
    write of a state never stored (``document.serial`` 0), which writes the document; when the
    backend's journal is due, the whole document is written once more to fold it.
    """

    def __init__(
        self,
        writer: StateBackend,
        document: StateDocument,
        *,
        stored: StateDocument | None = None,
        on_error: Callable[[StateError], None] | None = None,
        min_interval: float = DEFAULT_MIN_INTERVAL,
    ) -> None:
        self._writer = writer
        self._head = document
        self._serial = document.serial
        self._resources = document.by_key()
        self._materialised: StateDocument | None = document
        self._on_error = on_error
        self._min_interval = min_interval
        self._last_write = -math.inf
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._pending: list[_Mutation] = []
        self._binding = (
            None if stored is None or stored.binding == document.binding else document.binding
        )
        if stored is not None and stored is not document:
            self._pending.extend(_difference(stored, document))
        self._writing = False
        self._error: StateError | None = None
        self.writes = 0

    @property
    def document(self) -> StateDocument:
        """Built from the recorded resources when first asked after a write (sorting 100,000
        resources is no cost to pay per batch)."""
        with self._lock:
            if self._materialised is None:
                ordered = tuple(sorted(self._resources.values(), key=resource_sort_key))
                self._materialised = self._head.model_copy(
                    update={"serial": self._serial, "resources": ordered}
                )
            return self._materialised

    @property
    def serial(self) -> int:
        with self._lock:
            return self._serial

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
        self.flush_pending()
        return self.document

    def flush_pending(self) -> None:
        """``flush`` without building the document; folds the backend's journal when its
        ending is due."""
        with self._lock:
            while self._writing:
                self._idle.wait()
            self._error = None
            drain = bool(self._pending)
            self._writing = drain
        if drain:
            self._drain()
        with self._lock:
            if self._error is not None:
                raise self._error
            wrote = self.writes > 0
        if not wrote:
            return
        try:
            if self._writer.fold_due(ending=True):
                self._fold()
        except StateError:
            raise
        except Exception as exc:
            raise StateError(_describe(exc)) from exc

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
            touched = self._touched(batch)
            try:
                self._store(touched)
            except Exception as exc:  # any failure must release the baton, or flush deadlocks
                # Keep the batch, in order, ahead of anything queued meanwhile.
                self._failed(exc, unwritten=batch)
                return
            try:
                if self._writer.fold_due():
                    self._fold()
            except Exception as exc:  # the batch is stored: only the fold is left undone
                self._failed(exc, unwritten=[])
                return
            self._last_write = time.monotonic()

    def _failed(self, exc: Exception, *, unwritten: list[_Mutation]) -> None:
        error = exc if isinstance(exc, StateError) else StateError(_describe(exc))
        with self._lock:
            self._pending[:0] = unwritten
            self._error = error
            self._writing = False
            self._idle.notify_all()
        if self._on_error is not None:
            self._on_error(error)

    def _touched(self, batch: list[_Mutation]) -> dict[ResourceKey, StateResource | None]:
        """Each key the batch changes, with its resource after the batch (None: dropped)."""
        touched: dict[ResourceKey, StateResource | None] = {}
        for mutation in batch:
            if isinstance(mutation, _Put):
                touched[mutation.resource.key] = mutation.resource
            elif isinstance(mutation, _Drop):
                touched[mutation.key] = None
            else:
                known = (
                    touched[mutation.key]
                    if mutation.key in touched
                    else self._resources.get(mutation.key)
                )
                if known is not None:
                    touched[mutation.key] = mutation.applied_to(known)
        return touched

    def _store(self, touched: dict[ResourceKey, StateResource | None]) -> None:
        if self._serial == 0:  # nothing stored yet: there is no document to append to
            resources = dict(self._resources)
            for key, value in touched.items():
                if value is None:
                    resources.pop(key, None)
                else:
                    resources[key] = value
            ordered = tuple(sorted(resources.values(), key=resource_sort_key))
            candidate = self._head.model_copy(update={"resources": ordered})
            stored = self._writer.write(candidate, expected_serial=0)
            self._committed(touched, stored.serial, stored)
            return
        changes = StateChanges(
            lineage=self._head.lineage,
            binding=self._binding,
            put=tuple(value for value in touched.values() if value is not None),
            drop=tuple(key for key, value in touched.items() if value is None),
        )
        self._committed(touched, self._writer.append(changes, expected_serial=self._serial))

    def _committed(
        self,
        touched: dict[ResourceKey, StateResource | None],
        serial: int,
        stored: StateDocument | None = None,
    ) -> None:
        with self._lock:
            for key, value in touched.items():
                if value is None:
                    self._resources.pop(key, None)
                else:
                    self._resources[key] = value
            self._serial = serial
            self._binding = None
            self._materialised = stored
            self.writes += 1

    def _fold(self) -> None:
        stored = self._writer.write(self.document, expected_serial=self.serial)
        with self._lock:
            self._serial = stored.serial
            self._materialised = stored
            self.writes += 1


def _difference(stored: StateDocument, document: StateDocument) -> list[_Mutation]:
    """The puts and drops that turn ``stored``'s resources into ``document``'s."""
    if stored.resources is document.resources:
        return []  # only the metadata differs (an apply's usual start)
    # Keyed by plain tuples: a key model per resource of a 100,000-resource state, twice,
    # cost an apply's start a few tenths of a second.
    before = {resource_sort_key(resource): resource for resource in stored.resources}
    changes: list[_Mutation] = []
    for resource in document.resources:
        old = before.pop(resource_sort_key(resource), None)
        if old is not resource and old != resource:
            changes.append(_Put(resource))
    changes.extend(_Drop(old.key) for old in before.values())
    return changes


def _describe(exc: Exception) -> str:
    if isinstance(exc, ReconcilerError):
        return str(exc)
    return f"state write failed: {type(exc).__name__}: {exc}"
