"""The state backend contract: a versioned document plus an exclusive lock.

Every backend (``local.py``, ``postgres.py``) passes the one conformance suite in
``tests/state/test_conformance.py``; code above this layer sees only ``StateBackend``.
"""

from __future__ import annotations

import contextlib
import os
import random
import socket
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Protocol

from reconciler.errors import LockError, LockHeldError, LockLostError, StateConflictError
from reconciler.models import FrozenModel, StateBinding, StateDocument, StateResource
from reconciler.state.changes import JournalEntry, StateChanges, applied

if TYPE_CHECKING:
    from reconciler.state.prefetch import StatePrefetch

# Backoff of ``StateBackend.lock`` when a timeout is given: first wait, growth, ceiling.
FIRST_WAIT_SECONDS = 0.1
BACKOFF_FACTOR = 2.0
MAX_WAIT_SECONDS = 5.0

OnWait = Callable[["LockInfo | None"], None]


class LockInfo(FrozenModel):
    """Who holds (or asks for) the state lock; stored beside the lock so a blocked caller can
    say who is in the way.

    ``id`` (uuid4) is the lock id that ``unlock`` and ``force_unlock`` take. ``created`` is a
    UTC ISO-8601 time. ``ci_job`` names the CI job (a URL when the CI offers one), None outside
    CI. ``backend`` is the backend's ``describe()`` (filled in by ``lock`` when empty). ``pid``
    is the holder's process id on the host named in ``who``.
    """

    id: str
    operation: str
    who: str
    version: str
    created: str
    ci_job: str | None = None
    backend: str = ""
    pid: int | None = None

    def holder_label(self) -> str:
        """``user@host (pid N)``: who to stop."""
        return f"{self.who} (pid {self.pid})" if self.pid else self.who

    def summary(self) -> str:
        """``lock <id> held by <who> since <when> (<operation>, <CI job>)``."""
        return (
            f"lock {self.id} held by {self.who} since {self.created} "
            f"({self.operation}, {self.ci_job or 'not in CI'})"
        )


def describe_holder(holder: LockInfo | None) -> str:
    return holder.summary() if holder is not None else "a lock held by an unknown holder"


@dataclass(frozen=True)
class FoundResources:
    """``StateBackend.find``'s answer."""

    lineage: str
    serial: int
    resources: tuple[StateResource, ...]


class StateBackend(ABC):
    """One workspace's state document and its lock.

    Contract:
    - ``read()`` returns the stored document, or None when nothing was ever written. A stored
      document that cannot be read or parsed raises ``StateError`` naming where it lives; it is
      never treated as empty. ``read_binding()`` is ``read()``'s ``binding``, perhaps cheaper.
    - ``write(doc, expected_serial=n)`` is a compare-and-swap: it stores ``doc`` with serial
      ``n + 1`` only if the stored serial is still ``n`` (``n == 0`` means "nothing stored
      yet"), and returns the stored document. Otherwise, or when ``doc.lineage`` differs from
      the stored lineage, it raises ``StateConflictError`` and changes nothing. A successful
      write is durable when it returns (a crash right after loses nothing).
    - ``append(changes, expected_serial=n)`` is the same compare-and-swap for a write of only
      what changed (``state/changes.py``): it returns the new serial ``n + 1``, and ``read()``
      returns the stored document with the changes applied. Its cost follows the change, not
      the state, where the backend keeps a journal; ``fold_due()`` says when a full ``write``
      of the current document is due (the journal has grown past its bound).
    - ``lock(info, timeout=, on_wait=)`` takes the workspace's exclusive lock and returns its
      id (``info.id``). While someone else holds it: with ``timeout == 0`` raise
      ``LockHeldError`` at once; otherwise call ``on_wait(holder)`` before each wait, retry with
      exponential backoff, and raise ``LockHeldError`` when ``timeout`` seconds have passed.
      ``LockHeldError.holder`` is the holder's ``LockInfo`` (None when unknown). Locks are
      exclusive between processes, threads and backend instances alike; a lock whose holder
      process died is free again without anyone's help.
    - ``unlock(lock_id)`` releases a lock this backend instance took; any other id raises
      ``LockError`` and changes nothing.
    - ``force_unlock(lock_id)`` breaks the current lock, whoever holds it, but only when
      ``lock_id`` is the current lock's id (else ``LockError``). A backend that cannot break a
      live holder (``breaks_live_locks`` False) says so with ``LockError``.
    - ``check_lock(lock_id)`` returns when this instance still holds ``lock_id`` and raises
      ``LockLostError`` when it does not (never taken, released, or broken by
      ``force_unlock``). A holder calls it before each step it must not take unlocked; once a
      lock is lost, ``write`` raises ``LockLostError`` too and stores nothing.
    - ``lock_holder()`` returns the current holder's ``LockInfo``, or None when unlocked (stale
      info left by a crashed holder counts as unlocked).
    - ``describe()`` is a one-line label for messages; it never contains a secret.
    - ``close()`` releases locks still held by this instance and frees connections; the
      instance is not used afterwards. Backends are context managers that close on exit.
    - Methods are safe to call from several threads.
    """

    workspace: str
    # The options after ``reconciler force-unlock LOCK_ID`` that reach this same backend (e.g.
    # `` -c teams/``), set by whoever opened it from the command line; a lock error names them.
    force_unlock_options: str = ""
    # Whether force_unlock can break a lock whose holder is still running.
    breaks_live_locks: bool = False
    # Set by each backend: lock id -> what holds that lock (a descriptor, a session), and the
    # mutex guarding it.
    _held: Mapping[str, object]
    _mutex: threading.Lock

    @abstractmethod
    def read(self) -> StateDocument | None: ...

    @abstractmethod
    def write(self, doc: StateDocument, *, expected_serial: int) -> StateDocument: ...

    def append(self, changes: StateChanges, *, expected_serial: int) -> int:
        """A backend without a journal writes the whole document."""
        stored = self.read()
        if stored is None:
            raise StateConflictError(
                f"state in {self.describe()} is missing but serial {expected_serial} was expected"
            )
        check_swap(
            stored,
            stored.model_copy(update={"lineage": changes.lineage}),
            expected_serial,
            where=self.describe(),
        )
        entry = JournalEntry.of(changes, expected_serial + 1)
        updated = applied(stored, [(self.describe(), entry)])
        return self.write(updated, expected_serial=expected_serial).serial

    def find(self, names: Collection[tuple[str, str]]) -> FoundResources | None:
        """The stored state's version and its resources named by ``(instance_id, group_id)``
        pairs (any region, any kind), None when nothing is stored: what a change of a few
        resources reads. A backend may read less than the whole document for it."""
        doc = self.read()
        if doc is None:
            return None
        wanted = set(names)
        return FoundResources(
            lineage=doc.lineage,
            serial=doc.serial,
            resources=tuple(r for r in doc.resources if (r.instance_id, r.group_id) in wanted),
        )

    def fold_due(self, *, ending: bool = False) -> bool:
        """Whether to write the current document whole now; ``ending``: a run's last
        write is done."""
        return False

    def read_binding(self) -> StateBinding | None:
        """What the stored state is bound to (None: no state, or an unbound one), for a check
        before the lock is taken; a backend may read less than the whole document for it."""
        doc = self.read()
        return doc.binding if doc is not None else None

    def lock(self, info: LockInfo, *, timeout: float = 0.0, on_wait: OnWait | None = None) -> str:
        if not info.backend:
            info = info.model_copy(update={"backend": self.describe()})
        deadline = time.monotonic() + max(timeout, 0.0)
        wait = FIRST_WAIT_SECONDS
        while True:
            try:
                self._try_lock(info)
            except LockHeldError as held:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    holder = _as_lock_info(held.holder)
                    raise held_by(holder, timeout, self.force_unlock_options) from None
                if on_wait is not None:
                    on_wait(_as_lock_info(held.holder))
                # Jitter keeps racing waiters from retrying in lockstep.
                time.sleep(min(wait * random.uniform(0.8, 1.2), remaining))
                wait = min(wait * BACKOFF_FACTOR, MAX_WAIT_SECONDS)
                continue
            return info.id

    @abstractmethod
    def _try_lock(self, info: LockInfo) -> None:
        """Take the lock once without waiting, or raise ``LockHeldError`` with the holder."""

    @abstractmethod
    def unlock(self, lock_id: str) -> None: ...

    def check_lock(self, lock_id: str) -> None:
        if lock_id not in self._held_ids():
            raise lock_lost(lock_id, "this process does not hold it")

    def _held_ids(self) -> list[str]:
        with self._mutex:
            return list(self._held)

    def force_unlock(self, lock_id: str) -> None:
        if lock_id in self._held_ids():
            self.unlock(lock_id)
        else:
            self._break_lock(lock_id)

    @abstractmethod
    def _break_lock(self, lock_id: str) -> None:
        """Break ``lock_id``, held by someone else, if it is the current lock."""

    @abstractmethod
    def lock_holder(self) -> LockInfo | None: ...

    @abstractmethod
    def describe(self) -> str: ...

    def offer_prefetch(self, prefetch: StatePrefetch) -> None:
        """A state read ahead in a child (``state.prefetch``) for the next ``read``: only the
        local backend can take one."""
        prefetch.close()

    def close(self) -> None:
        for lock_id in self._held_ids():
            with contextlib.suppress(LockError):
                self.unlock(lock_id)

    def __enter__(self) -> StateBackend:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _as_lock_info(holder: object | None) -> LockInfo | None:
    return holder if isinstance(holder, LockInfo) else None


def held_by(
    info: LockInfo | None, timeout: float = 0.0, force_unlock_options: str = ""
) -> LockHeldError:
    """The error when someone else holds the lock (``_try_lock`` raises it with no timeout);
    ``force_unlock_options`` complete the force-unlock command it suggests."""
    text = f"state is locked: {describe_holder(info)}"
    if timeout > 0:
        text += f"; gave up after waiting {timeout:g}s"
    else:
        text += "; wait for it with --lock-timeout"
    if info is not None:
        text += (
            f", or if its holder is gone: reconciler force-unlock {info.id}{force_unlock_options}"
        )
    return LockHeldError(text, holder=info)


def lock_lost(lock_id: str, why: str) -> LockLostError:
    return LockLostError(f"the state lock {lock_id} was lost ({why})")


def may_be_alive(info: LockInfo) -> bool:
    """False only when the holder's process is known to be gone (same host, no such pid)."""
    if info.pid is None or not info.who.endswith("@" + socket.gethostname()):
        return True
    try:
        os.kill(info.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    return True


def not_held(lock_id: str, holder: LockInfo | None) -> LockError:
    """The error ``unlock`` raises for a lock id this backend instance does not hold."""
    now = f"the state is {describe_holder(holder)}" if holder else "the state is not locked"
    return LockError(f"cannot unlock {lock_id}: this process does not hold that lock ({now})")


class Versioned(Protocol):
    """What a compare-and-swap looks at: a document, or only its stored version."""

    @property
    def lineage(self) -> str: ...

    @property
    def serial(self) -> int: ...


def check_swap(
    stored: Versioned | None, doc: StateDocument, expected_serial: int, *, where: str
) -> None:
    """Raise StateConflictError unless ``doc`` may replace ``stored`` at ``expected_serial``."""
    if stored is None:
        if expected_serial != 0:
            raise StateConflictError(
                f"state in {where} is missing but serial {expected_serial} was expected"
            )
        return
    if stored.lineage != doc.lineage:
        raise StateConflictError(
            f"state in {where} has lineage {stored.lineage}, not {doc.lineage}: "
            "it is a different state"
        )
    if stored.serial != expected_serial:
        raise StateConflictError(
            f"state in {where} is at serial {stored.serial}, not {expected_serial}: "
            "another run changed it since it was read"
        )
