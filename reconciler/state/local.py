"""The local backend: a JSON state file written atomically, locked with ``flock``.

Files beside ``state.json``: ``state.json.journal`` (the writes since the document was last
written whole, one JSON line each: ``state/changes.py``), ``state.json.backup`` (the previous
version of the document),
``state.json.lock`` (the flock target; never deleted, since deleting a flock file lets two
processes lock two different inodes) and ``state.json.lock.info`` (the holder's LockInfo).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import threading
import time
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler.atomicfile import copy_atomic, fsync_directory, write_atomic
from reconciler.errors import LockError, StateConflictError, StateError
from reconciler.models import (
    STATE_FORMAT_VERSION,
    LocalBackendConfig,
    StateBinding,
    StateDocument,
    StateResource,
)
from reconciler.state.base import (
    FoundResources,
    LockInfo,
    StateBackend,
    check_swap,
    held_by,
    may_be_alive,
    not_held,
)
from reconciler.state.changes import (
    FOLD_SHARE,
    JOURNAL_FOLD_BYTES,
    JournalEntry,
    StateChanges,
    applied,
    parse_entry,
)
from reconciler.state.document import (
    StateFormatError,
    StoredVersion,
    parse_state,
    parse_version,
    refuse_repeated_keys,
)

if TYPE_CHECKING:
    from reconciler.state.prefetch import StatePrefetch

FILE_MODE = 0o600
DIR_MODE = 0o700
# How long a blocked caller waits for a new holder's info to appear before calling it unknown.
HOLDER_SETTLE_SECONDS = 1.0
# Where the resources start in a state file this backend wrote (fields in order): the fields
# before it are the head, read alone when only the version or binding is needed.
_RESOURCES_MARKER = '"resources":'
_HEAD_BYTES = 65536
# How much of the journal's end a write reads at a time to find its last line.
_TAIL_BLOCK = 65536
# Compact, as written here: other layouts (written by hand or by older versions) are read whole.
# Where each resource starts in a compact document (``kind`` is its first field).
_RESOURCE_START = '{"kind":'
_HEAD_START = re.compile(r'\{"format_version":\d')
_HEAD_FIELDS = {"format_version", "lineage", "serial", "binding"}


class LocalBackend(StateBackend):
    def __init__(self, config: LocalBackendConfig, *, base_dir: Path) -> None:
        path = Path(config.path).expanduser()
        self.path = path if path.is_absolute() else base_dir / path
        self.backup_path = self.path.with_name(self.path.name + ".backup")
        self.journal_path = self.path.with_name(self.path.name + ".journal")
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.info_path = self.path.with_name(self.path.name + ".lock.info")
        self.workspace = "default"
        # lock id -> the open descriptor holding the flock
        self._held: dict[str, int] = {}
        self._mutex = threading.Lock()
        self._writing = threading.Lock()
        self._prefetch: StatePrefetch | None = None

    def describe(self) -> str:
        return f"local {self.path}"

    # --- the document ---------------------------------------------------------------------

    def offer_prefetch(self, prefetch: StatePrefetch) -> None:
        """Let the next ``read`` take ``prefetch``'s document, if it is this state as it is."""
        self._prefetch = prefetch

    def read(self) -> StateDocument | None:
        prefetch, self._prefetch = self._prefetch, None
        if prefetch is not None:
            document = prefetch.take(self.path, self.journal_path)
            if document is not None:
                return document
        text = self._read_text()
        if text is None:
            return None
        try:
            document = parse_state(text, where=f"state file {self.path}")
        except StateFormatError as exc:
            if not self.backup_path.exists():
                raise
            raise StateFormatError(f"{exc}; the previous version is in {self.backup_path}") from exc
        return applied(document, self._entries())

    def _entries(self) -> list[tuple[str, JournalEntry]]:
        """The journal's entries, each with where it is. A last line without its newline is a
        write that never returned (killed mid-append): not part of the state."""
        data = self._read_journal()
        lines = data.split(b"\n")[:-1]
        entries = []
        for number, line in enumerate(lines, start=1):
            where = f"state journal {self.journal_path} line {number}"
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError:
                raise StateFormatError(f"{where} is corrupt: not UTF-8") from None
            entries.append((where, parse_entry(text, where=where)))
        return entries

    def _read_journal(self) -> bytes:
        try:
            return self.journal_path.read_bytes()
        except FileNotFoundError:
            return b""
        except OSError as exc:
            raise StateError(
                f"cannot read state journal {self.journal_path}: {exc.strerror}"
            ) from exc

    def _read_text(self) -> str | None:
        try:
            return self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StateError(f"cannot read state file {self.path}: {exc.strerror}") from exc

    def read_binding(self) -> StateBinding | None:
        """Parse only the head of a document this backend wrote (its fields before
        ``resources``, which hold nearly all of it: a full read of 100,000 resources takes a
        second) and the journal's bindings; any other layout is read whole."""
        head = self._head()
        if head is None:
            return super().read_binding() if self.path.exists() else None
        try:
            binding = head["binding"]
            recorded = None if binding is None else StateBinding.model_validate(binding)
        except ValueError:
            return super().read_binding()  # the full read says what is wrong
        for _, entry in self._entries():
            if entry.serial > head["serial"] and entry.binding is not None:
                recorded = entry.binding
        return recorded

    def _head(self) -> dict[str, Any] | None:
        """The document's fields before ``resources``, None when there is no document or it
        is not laid out as this backend writes it (those fields first, ``resources`` last)."""
        try:
            with self.path.open("rb") as handle:
                start = handle.read(_HEAD_BYTES)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StateError(f"cannot read state file {self.path}: {exc.strerror}") from exc
        text = start.decode("utf-8", errors="replace")
        end = text.find(_RESOURCES_MARKER)
        if not _HEAD_START.match(text) or end <= 0:
            return None
        try:
            head = json.loads(text[:end].rstrip().removesuffix(",") + "}")
        except ValueError:
            return None
        if not isinstance(head, dict) or not head.keys() >= _HEAD_FIELDS:
            return None
        if not isinstance(head["serial"], int) or not isinstance(head["format_version"], int):
            return None
        return head

    def find(self, names: Collection[tuple[str, str]]) -> FoundResources | None:
        """Finds the named resources in the text of a document this backend wrote (a few
        substring searches; validating 100,000 resources takes a second), each read as
        strictly as ``read`` reads it, then applies the journal; any other layout, or a name
        found twice in one region, is read whole (which refuses a duplicate)."""
        head = self._head()
        text = self._read_text() if head is not None else None
        if head is None or text is None:
            return super().find(names)
        where = f"state file {self.path}"
        version = parse_version(json.dumps(head), where=where)
        found: dict[tuple[str, str, str, str], StateResource] = {}
        for instance_id, group_id in names:
            for resource in _resources_named(text, instance_id, group_id, where):
                key = resource.key.sort_key()
                if key in found:
                    return super().find(names)
                found[key] = resource
        wanted = set(names)
        serial = version.serial
        for _, entry in self._entries():
            if entry.serial <= version.serial:
                continue
            if entry.lineage != version.lineage or entry.serial != serial + 1:
                return super().find(names)  # the full read names what is wrong
            serial = entry.serial
            for resource in entry.put:
                if (resource.instance_id, resource.group_id) in wanted:
                    found[resource.key.sort_key()] = resource
            for dropped in entry.drop:
                found.pop(dropped.sort_key(), None)
        return FoundResources(version.lineage, serial, tuple(found[key] for key in sorted(found)))

    def _stored_version(self) -> StoredVersion | None:
        """The version a compare-and-swap compares: the journal's last entry when it follows
        the document, else the document's."""
        document = self._document_version()
        if document is None:
            return None
        _, last = self._journal_tail()
        return last if last is not None and last.serial > document.serial else document

    def _document_version(self) -> StoredVersion | None:
        where = f"state file {self.path}"
        head = self._head()
        if head is not None:
            try:
                return parse_version(json.dumps(head), where=where)
            except StateFormatError:
                pass  # the whole text says what is wrong
        text = self._read_text()
        return None if text is None else parse_version(text, where=where)

    def _journal_tail(self) -> tuple[int, StoredVersion | None]:
        """Where the journal's complete lines end, and the last one's version; read from the
        end, so a write reads its own size, not the journal's."""
        try:
            handle = self.journal_path.open("rb")
        except FileNotFoundError:
            return 0, None
        except OSError as exc:
            raise StateError(f"cannot read state journal {self.journal_path}: {exc}") from exc
        with handle:
            start = handle.seek(0, os.SEEK_END)
            data = b""
            # Back one block at a time until the last line's both ends are in ``data``.
            while start > 0 and data[: data.rfind(b"\n")].rfind(b"\n") < 0:
                block = max(0, start - _TAIL_BLOCK)
                handle.seek(block)
                data = handle.read(start - block) + data
                start = block
        end = data.rfind(b"\n")
        if end < 0:
            return 0, None
        line = data[data.rfind(b"\n", 0, end) + 1 : end]
        where = f"state journal {self.journal_path}"
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            raise StateFormatError(f"{where} is corrupt: not UTF-8") from None
        return start + end + 1, parse_version(text, where=where)

    def write(self, doc: StateDocument, *, expected_serial: int) -> StateDocument:
        """The whole document, compact; the journal, folded into it, is cleared after the
        rename (a crash in between leaves entries the document's serial marks as folded)."""
        self._ensure_dir()
        with self._write_mutex():
            stored = self._stored_version()
            check_swap(stored, doc, expected_serial, where=str(self.path))
            return self._write_whole(doc.model_copy(update={"serial": expected_serial + 1}))

    def _write_whole(self, doc: StateDocument) -> StateDocument:
        self._replace(doc.model_dump_json() + "\n", keep_backup=self.path.exists())
        try:
            self.journal_path.unlink(missing_ok=True)
        except OSError as exc:
            raise StateError(f"cannot clear state journal {self.journal_path}: {exc}") from exc
        return doc

    def append(self, changes: StateChanges, *, expected_serial: int) -> int:
        """One journal line, appended and fsynced: the cost of the change, not of the state."""
        self._ensure_dir()
        with self._write_mutex():
            document = self._document_version()
            if document is None:
                raise StateConflictError(
                    f"state in {self.path} is missing but serial {expected_serial} was expected"
                )
            complete, last = self._journal_tail()
            live = last is not None and last.serial > document.serial
            current = last if live and last is not None else document
            check_swap(
                current, _lineage_only(changes.lineage), expected_serial, where=str(self.path)
            )
            entry = JournalEntry.of(changes, expected_serial + 1)
            if document.format_version != STATE_FORMAT_VERSION:
                # An older format is upgraded in place by its first write, as a whole.
                upgraded = self.read()
                if upgraded is not None:
                    return self._write_whole(applied(upgraded, [(str(self.path), entry)])).serial
            # Folded entries, and the torn end of an append that never returned, are dropped.
            self._append_line(entry.model_dump_json() + "\n", keep=complete if live else 0)
            return entry.serial

    def _append_line(self, line: str, *, keep: int) -> None:
        created = not self.journal_path.exists()
        try:
            fd = os.open(self.journal_path, os.O_WRONLY | os.O_CREAT, FILE_MODE)
            try:
                if os.fstat(fd).st_size != keep:
                    os.ftruncate(fd, keep)
                os.lseek(fd, keep, os.SEEK_SET)
                data = line.encode("utf-8")
                while data:
                    data = data[os.write(fd, data) :]
                os.fsync(fd)
            finally:
                os.close(fd)
            if created:
                fsync_directory(self.path.parent)
        except OSError as exc:
            raise StateError(f"cannot write state journal {self.journal_path}: {exc}") from exc

    def fold_due(self, *, ending: bool = False) -> bool:
        try:
            journal = self.journal_path.stat().st_size
            document = self.path.stat().st_size
        except FileNotFoundError:
            return False
        if journal >= JOURNAL_FOLD_BYTES:
            return True
        return ending and journal * FOLD_SHARE >= document

    def _replace(self, text: str, *, keep_backup: bool) -> None:
        try:
            write_atomic(self.path, text, before_replace=self._keep_backup if keep_backup else None)
        except OSError as exc:
            raise StateError(f"cannot write state file {self.path}: {exc}") from exc

    def _keep_backup(self) -> None:
        copy_atomic(self.path, self.backup_path)

    @contextlib.contextmanager
    def _write_mutex(self) -> Iterator[None]:
        # Writes are normally made under the state lock, but the compare-and-swap must hold even
        # for callers that opted out of it (--no-lock), so read-compare-rename runs under a
        # short flock on the directory (not on the lock file, which our own lock() may hold).
        # Its own mutex, not ``_mutex``: an apply's workers ask ``check_lock`` (which takes
        # ``_mutex``) before each call, and must not wait for a batch's fsync or a fold.
        fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            with self._writing:
                yield
        finally:
            os.close(fd)

    def _ensure_dir(self) -> None:
        try:
            self.path.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        except OSError as exc:
            raise StateError(f"cannot create state directory {self.path.parent}: {exc}") from exc

    # --- the lock -------------------------------------------------------------------------

    def _try_lock(self, info: LockInfo) -> None:
        self._ensure_dir()
        fd = self._open_lock_file()
        if not _try_flock(fd):
            os.close(fd)
            raise held_by(self._current_holder())
        try:
            # Whatever info is there is stale: its holder's flock is gone.
            self._write_info(info)
        except BaseException:
            os.close(fd)
            raise
        with self._mutex:
            self._held[info.id] = fd

    def unlock(self, lock_id: str) -> None:
        with self._mutex:
            fd = self._held.pop(lock_id, None)
        if fd is None:
            raise not_held(lock_id, self.lock_holder())
        try:
            self._remove_info_if(lock_id)
        finally:
            os.close(fd)  # closing the descriptor releases the flock

    def _break_lock(self, lock_id: str) -> None:
        info = self._read_info()
        if info is None or info.id != lock_id:
            current = f"the current lock is {info.id}" if info else "no lock info is recorded"
            raise LockError(f"cannot force-unlock {lock_id}: {current} ({self.info_path})")
        fd = self._open_lock_file()
        try:
            if not _try_flock(fd):
                pid = f" (pid {info.pid})" if info.pid else ""
                raise LockError(
                    f"cannot force-unlock {lock_id}: its holder {info.who}{pid} is still running "
                    "and the local backend cannot break a live process's flock; stop that "
                    "process and the lock is released"
                )
            self._remove_info_if(lock_id)
        finally:
            os.close(fd)

    def lock_holder(self) -> LockInfo | None:
        if not self.lock_path.exists():
            return None
        fd = self._open_lock_file()
        try:
            if _try_flock(fd):
                return None  # free; any info file is a crashed holder's leftover
            return self._current_holder()
        finally:
            os.close(fd)

    def _open_lock_file(self) -> int:
        try:
            return os.open(self.lock_path, os.O_RDWR | os.O_CREAT, FILE_MODE)
        except OSError as exc:
            raise LockError(f"cannot open lock file {self.lock_path}: {exc.strerror}") from exc

    def _current_holder(self) -> LockInfo | None:
        """The info of the live flock holder. A new holder writes its info just after taking
        the flock, so missing info, or a crashed holder's leftover, is re-read for a moment."""
        deadline = time.monotonic() + HOLDER_SETTLE_SECONDS
        while True:
            info = self._read_info()
            if info is not None and may_be_alive(info):
                return info
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.01)

    def _read_info(self) -> LockInfo | None:
        try:
            return LockInfo.model_validate_json(self.info_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            # Missing (between a holder's flock and its info write) or half-written by an older
            # tool: the holder is unknown, which callers report as such.
            return None

    def _write_info(self, info: LockInfo) -> None:
        text = info.model_dump_json(indent=2) + "\n"
        try:
            # Not durable: the flock is the lock, this only names its holder; a crash frees
            # the flock, and the next holder rewrites the file. Every plan pays this write.
            write_atomic(self.info_path, text, durable=False)
        except OSError as exc:
            raise LockError(f"cannot write lock info {self.info_path}: {exc}") from exc

    def _remove_info_if(self, lock_id: str) -> None:
        info = self._read_info()
        if info is not None and info.id == lock_id:
            with contextlib.suppress(FileNotFoundError):
                self.info_path.unlink()


def _try_flock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _lineage_only(lineage: str) -> StateDocument:
    """What ``check_swap`` compares a stored version with: a document of that lineage."""
    return StateDocument(lineage=lineage)


def _resources_named(
    text: str, instance_id: str, group_id: str, where: str
) -> Iterator[StateResource]:
    """The resources of the compact document ``text`` naming ``instance_id``/``group_id``."""
    needle = (
        f'"instance_id":{json.dumps(instance_id, ensure_ascii=False)},'
        f'"group_id":{json.dumps(group_id, ensure_ascii=False)},'
    )
    decoder = json.JSONDecoder()
    at = text.find(needle)
    while at >= 0:
        start = text.rfind(_RESOURCE_START, 0, at)
        try:
            _, end = decoder.raw_decode(text, start)
            refuse_repeated_keys(text[start:end], where)
            resource = StateResource.model_validate_json(text[start:end], strict=True)
        except ValueError as exc:
            raise StateFormatError(f"{where} is corrupt near {instance_id}/{group_id}") from exc
        if "kind" not in resource.model_fields_set:
            raise StateFormatError(f"{where} is corrupt: {instance_id}/{group_id}: no kind")
        yield resource
        at = text.find(needle, at + len(needle))
