"""Reading a local state in a child process while the desired file is being parsed.

A plan of 100,000 GIDs spends about as long validating its state as parsing its desired
file, one after the other on one core, since the file names where the state is. When the
files say so before their instances (``backend: {local: {path: ...}}``, or ``--state``), a
forked child reads that state meanwhile, through the same ``LocalBackend.read`` as ever (as
strictly: a state that read refuses is no prefetch, and the parent's own read then reports
it), and hands the parent the validated values, which take less than half as long to
rebuild as to validate.

It is only ever a guess. The parent takes the child's document only for the very file its
backend then opens, and only when that file and its journal are, under the lock, the ones
the child read (device, inode, size and modification time of both, taken by the child
before and after reading): a write in between (atomic renames give a new inode, journal
appends a new size) leaves the prefetch unused, and the parent reads as it always did.
Anything unusual (no ``fork``, other threads running, a child that fails or is killed)
does the same.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from reconciler.models import (
    LocalBackendConfig,
    StateDocument,
    StateResource,
    construct_trusted_all,
)

if TYPE_CHECKING:
    from reconciler.state.local import LocalBackend

# (st_dev, st_ino, st_size, st_mtime_ns) of the document and of its journal (None: absent).
_FileSignature = tuple[int, int, int, int] | None
Signature = tuple[_FileSignature, _FileSignature]

# Below this size a state is read in less time than a fork and the hand-over take (about
# 25 ms a MB): a small plan's start-up pays nothing.
WORTH_FORKING_BYTES = 1 << 20
# How far into a desired file to look for its backend before giving up: the keys before
# ``instances`` are a few dozen events.
_MAX_HEAD_EVENTS = 400
# How much of a desired file to read for that.
_HEAD_BYTES = 65536
# The top-level keys after which a backend would come too late to help (they hold the GIDs).
_BULK_KEYS = frozenset({"instances", "group_sets"})


@dataclass(frozen=True)
class _Payload:
    signature: Signature
    head: StateDocument
    # The resources' values in order, in runs sharing one fields set (nearly always one run).
    runs: list[tuple[set[str], list[dict[str, Any]]]]


class StatePrefetch:
    """The state at ``path`` being read by the child ``pid``; its answer comes on ``reader``."""

    def __init__(self, path: Path, pid: int, reader: int) -> None:
        self.path = path
        self._pid: int | None = pid
        self._reader: int | None = reader

    def take(self, path: Path, journal_path: Path) -> StateDocument | None:
        """The child's document, when ``path`` is the file it read and neither that file nor
        its journal ``journal_path`` changed since; None otherwise (read it yourself)."""
        if path != self.path:
            self.close()
            return None
        payload = self._receive()
        if payload is None or payload.signature != signature(path, journal_path):
            return None
        resources: list[StateResource] = []
        for names, values in payload.runs:
            resources.extend(construct_trusted_all(StateResource, names, values))
        return payload.head.model_copy(update={"resources": tuple(resources)})

    def _receive(self) -> _Payload | None:
        reader, self._reader = self._reader, None
        if reader is None:
            return None
        chunks = []
        with open(reader, "rb", closefd=True) as pipe:
            while chunk := pipe.read(1 << 24):
                chunks.append(chunk)
        if not chunks:  # the child failed, or was killed
            self.close()
            return None
        # The child is done; it may take a while yet to give its memory back, so it is not
        # waited for here (``close`` reaps it if it has exited by then).
        self._reap(wait=False)
        import pickle  # noqa: PLC0415  (a small plan forks no child: its start-up skips it)

        try:
            # From this process's own forked child, on a pipe nothing else holds: no
            # stranger's bytes are unpickled. A child killed mid-write leaves a cut stream.
            payload = pickle.loads(b"".join(chunks))  # noqa: S301
        except Exception:  # a cut or garbled stream raises whatever it ran into
            return None
        return payload if isinstance(payload, _Payload) else None

    def _reap(self, *, wait: bool) -> None:
        if self._pid is None:
            return
        pid, _ = os.waitpid(self._pid, 0 if wait else os.WNOHANG)
        if pid != 0:
            self._pid = None

    def close(self) -> None:
        """Stop the child if it still runs (its document was not needed), and reap it. A
        child that answered and is still exiting is left to finish on its own: this
        process's end hands it to init, which reaps it."""
        # Its pipe read to the end: it has answered (or died), and is exiting if not gone.
        answered = self._reader is None
        if self._reader is not None:
            os.close(self._reader)
            self._reader = None
        if self._pid is None:
            return
        if answered:
            self._reap(wait=False)
            return
        import signal  # noqa: PLC0415

        with contextlib.suppress(ProcessLookupError):
            os.kill(self._pid, signal.SIGKILL)
        self._reap(wait=True)


def signature(path: Path, journal_path: Path) -> Signature:
    return _file_signature(path), _file_signature(journal_path)


def _file_signature(path: Path) -> _FileSignature:
    try:
        found = os.stat(path)
    except FileNotFoundError:
        return None
    return found.st_dev, found.st_ino, found.st_size, found.st_mtime_ns


def start(inputs: Sequence[Path], state_path: Path | None) -> StatePrefetch | None:
    """Fork a child reading the local state the desired ``inputs`` (files and directories,
    as given: relative to the working directory) or ``--state`` ``state_path`` seem to keep,
    relative to the working directory as the backend will be; None when there is no guess,
    the state is small or absent, or this process cannot fork safely (no fork, or threads
    that a fork would leave half-copied)."""
    if not hasattr(os, "fork") or threading.active_count() > 1:
        return None
    path = str(state_path) if state_path is not None else _declared_path(inputs)
    if path is None:
        return None
    from reconciler.state.local import LocalBackend  # noqa: PLC0415

    # Not validated: a string either way, and a small plan builds no validator it can skip.
    config = LocalBackendConfig.model_construct(path=path)
    backend = LocalBackend(config, base_dir=Path.cwd())
    found = _file_signature(backend.path)
    if found is None or found[2] < WORTH_FORKING_BYTES:
        return None
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child; its work is tested through take()
        os.close(reader)
        code = 1
        try:
            code = _child(backend, writer)
        finally:
            os._exit(code)
    os.close(writer)
    return StatePrefetch(backend.path, pid, reader)


def _child(backend: LocalBackend, writer: int) -> int:  # pragma: no cover - in the child
    before = signature(backend.path, backend.journal_path)
    document = backend.read()
    if document is None or signature(backend.path, backend.journal_path) != before:
        return 1
    runs: list[tuple[set[str], list[dict[str, Any]]]] = []
    for resource in document.resources:
        names = resource.__pydantic_fields_set__
        if not runs or runs[-1][0] is not names:
            runs.append((names, []))
        runs[-1][1].append(resource.__dict__)
    payload = _Payload(
        signature=before, head=document.model_copy(update={"resources": ()}), runs=runs
    )
    import pickle  # noqa: PLC0415

    # Pickled whole before the first byte is written: the parent, reading, waits only for
    # the copy through the pipe, not for the pickling.
    data = pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
    with open(writer, "wb", closefd=True) as pipe:
        pipe.write(data)
    return 0


# --- where a desired file keeps its state, read from its head ---------------------------------


def _declared_path(inputs: Sequence[Path]) -> str | None:
    """The local state path the heads of the desired files ``inputs`` name: the one a file's
    head gives (the default when none does); None when two give different ones or a file
    cannot be read here."""
    from reconciler.config.inputs import expand_inputs  # noqa: PLC0415
    from reconciler.errors import ConfigErrors  # noqa: PLC0415

    try:
        files = expand_inputs(inputs)
    except ConfigErrors:
        return None
    named: set[str] = set()
    for item in files:
        try:
            with item.path.open("rb") as handle:
                head = handle.read(_HEAD_BYTES)
        except OSError:
            return None
        path = _head_path(head.decode("utf-8", errors="replace"))
        if path is None:
            return None
        if not isinstance(path, _NoBackend):
            named.add(path)
    if len(named) > 1:
        return None
    return named.pop() if named else _DEFAULT_PATH


def local_state_path(text: str) -> str | None:
    """The local state path a desired file's text seems to keep its state in: the
    ``backend.local.path`` it gives before its bulk (``instances``, ``group_sets``) when that
    is a plain string, the default when no backend comes before the bulk; None when the head
    says otherwise or cannot be read (another backend, a ``${VAR}``, anything unusual). A
    guess only: the full load decides."""
    found = _head_path(text)
    return _DEFAULT_PATH if isinstance(found, _NoBackend) else found


def _head_path(text: str) -> str | _NoBackend | None:
    """``local_state_path``, telling a head that names no backend apart (``_NO_BACKEND``)."""
    try:
        events = yaml.parse(text, Loader=yaml.CSafeLoader)
        head = _top_level_head(events)
    except yaml.YAMLError:
        return None
    if isinstance(head, _NoBackend):
        return head
    local = head.get("local") if isinstance(head, dict) and len(head) == 1 else None
    path = local.get("path") if isinstance(local, dict) else None
    if not isinstance(path, str) or "$" in path or not path:
        return None
    return path


class _NoBackend:
    """A desired file's head names no backend (its bulk comes first, or it is all head)."""


_NO_BACKEND = _NoBackend()
_DEFAULT_PATH = LocalBackendConfig.model_construct().path


def _top_level_head(events: Any) -> object:
    """The value of the top-level ``backend`` key, if it comes before the bulk keys;
    _NO_BACKEND when they come first; None when the head cannot be read here."""
    count = 0
    depth = 0
    key: object = None
    expecting_key = True
    for event in events:
        count += 1
        if count > _MAX_HEAD_EVENTS:
            return None
        if isinstance(event, yaml.MappingStartEvent) and depth == 0:
            depth = 1
            continue
        if depth == 0:
            continue
        if expecting_key:
            if isinstance(event, yaml.MappingEndEvent):
                return _NO_BACKEND
            if not isinstance(event, yaml.ScalarEvent) or event.anchor or event.tag:
                return None
            key = event.value
            if key in _BULK_KEYS:
                return _NO_BACKEND
            expecting_key = False
            if key == "backend":
                return _value(events)
            continue
        _skip_value(event, events)
        expecting_key = True
    return None


def _value(events: Any) -> object:
    """The next value, of mappings and scalars (as their text); None for anything else."""
    event = next(events)
    if isinstance(event, yaml.ScalarEvent):
        return event.value
    if not isinstance(event, yaml.MappingStartEvent):
        _skip_value(event, events)
        return None
    found: dict[str, object] = {}
    while True:
        event = next(events)
        if isinstance(event, yaml.MappingEndEvent):
            return found
        if not isinstance(event, yaml.ScalarEvent):
            _skip_value(event, events)
            _skip_value(next(events), events)
            continue
        found[event.value] = _value(events)


def _skip_value(event: Any, events: Any) -> None:
    depth = 1 if isinstance(event, yaml.CollectionStartEvent) else 0
    while depth:
        event = next(events)
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
