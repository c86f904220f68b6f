"""The local backend: a JSON state file written atomically, locked with ``flock``.

Files beside ``state.json``: ``state.json.backup`` (the previous version),
``state.json.lock`` (the flock target; never deleted, since deleting a flock file lets two
processes lock two different inodes) and ``state.json.lock.info`` (the holder's LockInfo).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from reconciler.atomicfile import copy_atomic, write_atomic
from reconciler.errors import LockError, StateError
from reconciler.models import LocalBackendConfig, StateBinding, StateDocument
from reconciler.state.base import (
    LockInfo,
    StateBackend,
    check_swap,
    held_by,
    may_be_alive,
    not_held,
)
from reconciler.state.document import StateFormatError, parse_state, parse_version

FILE_MODE = 0o600
DIR_MODE = 0o700
# How long a blocked caller waits for a new holder's info to appear before calling it unknown.
HOLDER_SETTLE_SECONDS = 1.0
# Where the resources start in a state file this backend wrote (indent=2, fields in order).
_RESOURCES_MARKER = '\n  "resources": '


class LocalBackend(StateBackend):
    def __init__(self, config: LocalBackendConfig, *, base_dir: Path) -> None:
        path = Path(config.path).expanduser()
        self.path = path if path.is_absolute() else base_dir / path
        self.backup_path = self.path.with_name(self.path.name + ".backup")
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.info_path = self.path.with_name(self.path.name + ".lock.info")
        self.workspace = "default"
        # lock id -> the open descriptor holding the flock
        self._held: dict[str, int] = {}
        self._mutex = threading.Lock()

    def describe(self) -> str:
        return f"local {self.path}"

    # --- the document ---------------------------------------------------------------------

    def read(self) -> StateDocument | None:
        text = self._read_text()
        if text is None:
            return None
        try:
            return parse_state(text, where=f"state file {self.path}")
        except StateFormatError as exc:
            if not self.backup_path.exists():
                raise
            raise StateFormatError(f"{exc}; the previous version is in {self.backup_path}") from exc

    def _read_text(self) -> str | None:
        try:
            return self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StateError(f"cannot read state file {self.path}: {exc.strerror}") from exc

    def read_binding(self) -> StateBinding | None:
        """Parse only the head of a file this backend wrote (its fields before ``resources``,
        which holds nearly all of it: a full read of 100,000 resources takes a second); any
        other layout is read whole."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StateError(f"cannot read state file {self.path}: {exc.strerror}") from exc
        end = text.find(_RESOURCES_MARKER)
        if end > 0:
            try:
                head = json.loads(text[:end].rstrip().removesuffix(",") + "}")
                binding = head.get("binding") if isinstance(head, dict) else None
                return None if binding is None else StateBinding.model_validate(binding)
            except ValueError:
                pass  # not the layout we write: the full read says what is wrong
        return super().read_binding()

    def write(self, doc: StateDocument, *, expected_serial: int) -> StateDocument:
        self._ensure_dir()
        with self._write_mutex():
            text = self._read_text()
            where = f"state file {self.path}"
            stored = None if text is None else parse_version(text, where=where)
            check_swap(stored, doc, expected_serial, where=str(self.path))
            new = doc.model_copy(update={"serial": expected_serial + 1})
            self._replace(new.model_dump_json(indent=2) + "\n", keep_backup=stored is not None)
            return new

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
        fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            with self._mutex:
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
