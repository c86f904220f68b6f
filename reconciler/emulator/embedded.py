"""An emulator in this process for ``provider: {endpoint: embedded}``: runs with no account."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from reconciler.emulator.server import EmulatorOptions, EmulatorServer
from reconciler.emulator.store import EmulatorStore
from reconciler.errors import EmulatorError

# Development credentials, accepted by every embedded emulator. They guard nothing real.
DEV_ACCESS_KEY_ID = "LTAI5tReconcilerDevKey"
DEV_ACCESS_KEY_SECRET = "reconciler-dev-secret-not-for-production"  # noqa: S105


def start_embedded(
    db_path: Path,
    instances: Sequence[tuple[str, str, bool, Sequence[str]]],
    *,
    options: EmulatorOptions | None = None,
) -> EmulatorServer:
    """Serve the SQLite world at ``db_path`` on a free loopback port, creating the missing
    ``(region, instance_id, independent_naming, topics)`` instances and topics.

    The caller stops the returned server; stopping it also closes the store.
    """
    try:
        db_path.parent.mkdir(parents=True, exist_ok=True)
        store = EmulatorStore(str(db_path))
    except Exception as exc:  # sqlite3.Error or OSError
        raise EmulatorError(f"cannot open the embedded emulator database {db_path}: {exc}") from exc
    store.add_account(DEV_ACCESS_KEY_ID, DEV_ACCESS_KEY_SECRET)
    for region, instance_id, independent_naming, topics in instances:
        store.add_instance(
            instance_id,
            region=region,
            independent_naming=independent_naming,
            topics=topics,
            owner=DEV_ACCESS_KEY_ID,
        )
    server = EmulatorServer(store, options=options, owns_store=True)
    return server.start()
