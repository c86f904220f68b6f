"""Replace a file so that a reader, or a crash, sees the old content or the new, never half.

The one place that makes temporary files beside a file we own (the state, its backup and lock
info, saved plans, formatted files). A temporary file is always new: created exclusively under
a random name (``O_CREAT | O_EXCL``, which also refuses to follow a symlink planted there), so
whoever can write into the directory cannot make us write through a link of theirs. A crash
between creating and renaming leaves ``.NAME.XXXXXXXX.tmp`` behind; each write removes such
leftovers of the same target once they are older than ``LEFTOVER_AGE_SECONDS``, so they never
pile up, while a concurrent writer's file (seconds old) is left alone.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import stat
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

# Older than any write takes; a younger temporary file may be another writer's, in use.
LEFTOVER_AGE_SECONDS = 3600
# The characters mkstemp draws its 8-character random part from.
_RANDOM_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789_"
_RANDOM_LENGTH = 8
_LINK_ATTEMPTS = 100


def write_atomic(
    path: Path,
    text: str,
    *,
    mode: int | None = None,
    before_replace: Callable[[], None] | None = None,
    durable: bool = True,
) -> None:
    """Write ``text`` to a new temporary file beside ``path``, fsync it, rename it over
    ``path`` and fsync the directory. ``mode``: the new file's permissions (else 0600, as
    mkstemp makes it). ``before_replace`` runs between the fsync and the rename.
    ``durable=False`` skips both fsyncs (about 9 ms here) for files a crash may lose.
    OSError propagates; the temporary file is removed on any failure."""
    directory = _directory_of(path)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    temporary = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            if mode is not None:
                os.fchmod(handle.fileno(), mode)
            handle.write(text)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        if before_replace is not None:
            before_replace()
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
    remove_leftovers(path)
    if durable:
        fsync_directory(directory)


def copy_atomic(source: Path, target: Path) -> None:
    """Make ``target`` hold what ``source`` holds now, replacing it in one rename: a hard link
    (no copy, and no moment where either name is missing), or a copy where links are not
    supported. The staging name is new and exclusive like ``write_atomic``'s."""
    directory = _directory_of(target)
    staged = _link_to_new_name(source, target)
    if staged is None:  # filesystems without hard links
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
        staged = Path(name)
        try:
            with os.fdopen(fd, "wb") as out, source.open("rb") as data:
                shutil.copyfileobj(data, out)
                shutil.copystat(source, staged)
        except BaseException:
            with contextlib.suppress(OSError):
                staged.unlink()
            raise
    try:
        os.replace(staged, target)
    except BaseException:
        with contextlib.suppress(OSError):
            staged.unlink()
        raise


def remove_leftovers(path: Path, *, older_than: float = LEFTOVER_AGE_SECONDS) -> None:
    """Remove temporary files of ``path`` (our naming pattern, owned by us) left by a crash
    more than ``older_than`` seconds ago. Best effort: what cannot be removed stays."""
    pattern = re.compile(
        rf"\.{re.escape(path.name)}\.[{_RANDOM_ALPHABET}]{{{_RANDOM_LENGTH}}}\.tmp\Z"
    )
    cutoff = time.time() - older_than
    with contextlib.suppress(OSError), os.scandir(_directory_of(path)) as entries:
        for entry in entries:
            if not pattern.match(entry.name):
                continue
            with contextlib.suppress(OSError):
                info = entry.stat(follow_symlinks=False)
                ours = info.st_uid == os.geteuid()
                kind_ok = stat.S_ISREG(info.st_mode) or stat.S_ISLNK(info.st_mode)
                if ours and kind_ok and info.st_mtime < cutoff:
                    os.unlink(entry.path)  # unlink removes a symlink itself, never its target


def _link_to_new_name(source: Path, target: Path) -> Path | None:
    """Hard-link ``source`` to a new temporary name beside ``target``; None when the
    filesystem has no hard links. ``link`` never follows or replaces an existing name."""
    directory = _directory_of(target)
    for _ in range(_LINK_ATTEMPTS):
        token = "".join(secrets.choice(_RANDOM_ALPHABET) for _ in range(_RANDOM_LENGTH))
        staged = directory / f".{target.name}.{token}.tmp"
        try:
            os.link(source, staged)
        except FileExistsError:
            continue
        except OSError:
            return None
        return staged
    raise FileExistsError(f"no free temporary name beside {target}")


def _directory_of(path: Path) -> Path:
    return path.parent if str(path.parent) else Path()


def fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)  # fsync the directory: the rename is durable
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
