"""An emulator in this process for ``provider: {endpoint: embedded}``: runs with no account.

The declared instances are created on first use, so the quickstart runs from a fresh clone;
what was created is reported (a typo in an instance id or region shows the first time), what
the database holds is there to quote when the cloud says an instance does not exist, and
``reset_embedded`` empties it. A running embedded emulator holds a shared ``flock`` on
``<db>.lock`` (freed when its process dies): a reset takes it exclusively, so it never pulls
the database from under a run.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from reconciler.emulator.server import EmulatorOptions, EmulatorServer
from reconciler.emulator.store import EmulatorStore, InstanceRecord
from reconciler.errors import EmulatorError

# Development credentials, accepted by every embedded emulator. They guard nothing real.
DEV_ACCESS_KEY_ID = "LTAI5tReconcilerDevKey"
DEV_ACCESS_KEY_SECRET = "reconciler-dev-secret-not-for-production"  # noqa: S105
# SQLite's companions of the database file, removed with it by a reset.
_SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")
_SHOWN_INSTANCES = 10


@dataclass
class EmbeddedEmulator:
    """A started embedded emulator; ``stop()`` stops it, closes its store and frees its lock."""

    server: EmulatorServer
    db_path: Path
    # The declared instances this start created (none when they were all there).
    created: list[InstanceRecord]
    # Declared instances the database holds in another region: (record held, region declared).
    misplaced: list[tuple[InstanceRecord, str]]
    _lock_fd: int

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def store(self) -> EmulatorStore:
        return self.server.store

    def holdings(self) -> str:
        """What the database holds, for messages: ``post-cn-a (cn-hangzhou), ...``."""
        return describe_instances(self.store.instances())

    def stop(self) -> None:
        try:
            self.server.stop()
        finally:
            os.close(self._lock_fd)


def describe_instances(instances: Sequence[InstanceRecord]) -> str:
    shown = ", ".join(f"{i.instance_id} ({i.region})" for i in instances[:_SHOWN_INSTANCES])
    more = len(instances) - _SHOWN_INSTANCES
    return (shown or "no instance") + (f" and {more} more" if more > 0 else "")


def lock_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".lock")


def start_embedded(
    db_path: Path,
    instances: Sequence[tuple[str, str, bool, Sequence[str]]],
    *,
    options: EmulatorOptions | None = None,
) -> EmbeddedEmulator:
    """Serve the SQLite world at ``db_path`` on a free loopback port, creating the missing
    ``(region, instance_id, independent_naming, topics)`` instances and topics."""
    try:
        db_path.parent.mkdir(parents=True, exist_ok=True)
        lock_fd = _open_lock(db_path)
    except OSError as exc:
        raise EmulatorError(f"cannot open the embedded emulator database {db_path}: {exc}") from exc
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_SH)  # a reset holds it only for an unlink
        try:
            store = EmulatorStore(str(db_path))
        except Exception as exc:  # sqlite3.Error or OSError
            raise EmulatorError(
                f"cannot open the embedded emulator database {db_path}: {exc}"
            ) from exc
        store.add_account(DEV_ACCESS_KEY_ID, DEV_ACCESS_KEY_SECRET)
        created: list[InstanceRecord] = []
        misplaced: list[tuple[InstanceRecord, str]] = []
        for region, instance_id, independent_naming, topics in instances:
            held = store.instance(instance_id)
            record = store.add_instance(
                instance_id,
                region=region,
                independent_naming=independent_naming,
                topics=topics,
                owner=DEV_ACCESS_KEY_ID,
            )
            if held is None:
                created.append(record)
            elif held.region != region:
                misplaced.append((held, region))
        server = EmulatorServer(store, options=options, owns_store=True)
        return EmbeddedEmulator(server.start(), db_path, created, misplaced, lock_fd)
    except BaseException:
        os.close(lock_fd)
        raise


def reset_embedded(db_path: Path) -> list[InstanceRecord] | None:
    """Delete the embedded emulator's database; returns the instances it held (None when there
    was no database). Refused (``EmulatorError``) while an embedded emulator is running on it."""
    if not db_path.exists():
        return None
    try:
        lock_fd = _open_lock(db_path)
    except OSError as exc:
        raise EmulatorError(f"cannot open {lock_path(db_path)}: {exc.strerror or exc}") from exc
    try:
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise EmulatorError(
                f"the embedded emulator {db_path} is in use by a running reconciler command; "
                "reset it when that command has finished"
            ) from None
        held = _held_instances(db_path)
        for suffix in ("", *_SQLITE_SIDE_FILES):
            try:
                Path(f"{db_path}{suffix}").unlink()
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise EmulatorError(f"cannot remove {db_path}{suffix}: {exc.strerror}") from exc
        return held
    finally:
        os.close(lock_fd)


def _held_instances(db_path: Path) -> list[InstanceRecord]:
    try:
        store = EmulatorStore(str(db_path))
    except Exception:  # a damaged database is what a reset is for
        return []
    try:
        return store.instances()
    finally:
        store.close()


def _open_lock(db_path: Path) -> int:
    # Never deleted: removing a flock file lets two processes lock two different inodes.
    return os.open(lock_path(db_path), os.O_RDWR | os.O_CREAT, 0o600)
