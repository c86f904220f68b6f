"""Replace a file so that a reader, or a crash, sees the old content or the new, never half."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def write_atomic(
    path: Path,
    text: str,
    *,
    mode: int | None = None,
    temp_name: str | None = None,
    before_replace: Callable[[], None] | None = None,
    durable: bool = True,
) -> None:
    """Write ``text`` to a temporary file beside ``path``, fsync it, rename it over ``path``
    and fsync the directory. ``mode``: the new file's permissions (else 0600, as mkstemp makes
    it, or as ``temp_name`` already has). ``temp_name``: a fixed temporary name, for callers
    that serialise their writers (a crash then leaves at most one leftover, reused next time).
    ``before_replace`` runs between the fsync and the rename. ``durable=False`` skips both
    fsyncs (about 9 ms here) for files a crash may lose. OSError propagates; the temporary
    file is removed on any failure."""
    directory = path.parent if str(path.parent) else Path()
    if temp_name is not None:
        temporary = directory / temp_name
        fd = os.open(
            temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if mode is None else mode
        )
    else:
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
        temporary = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        if mode is not None:
            os.chmod(temporary, mode)
        if before_replace is not None:
            before_replace()
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
    if not durable:
        return
    fd = os.open(directory, os.O_RDONLY)  # fsync the directory: the rename is durable
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
