"""State backends (local file, PostgreSQL) behind one contract, and their locks.

May import: models, errors, schemadoc (see ARCHITECTURE.md, state and locking).
"""

from __future__ import annotations

import uuid
from pathlib import Path

from reconciler.models import BackendConfig, LocalBackendConfig, StateDocument
from reconciler.state.base import LockInfo, StateBackend

__all__ = ["LockInfo", "StateBackend", "new_state", "open_backend"]


def open_backend(config: BackendConfig, *, base_dir: Path) -> StateBackend:
    """The backend ``config`` names; a relative local path is taken from ``base_dir``."""
    if isinstance(config, LocalBackendConfig):
        from reconciler.state.local import LocalBackend  # noqa: PLC0415

        return LocalBackend(config, base_dir=base_dir)
    # Imported here so commands on the local backend never pay for psycopg.
    from reconciler.state.postgres import PostgresBackend  # noqa: PLC0415

    return PostgresBackend(config)


def new_state() -> StateDocument:
    """An empty state with a fresh lineage; its first write uses expected_serial=0."""
    return StateDocument(lineage=str(uuid.uuid4()), serial=0)
