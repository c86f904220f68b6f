"""Writes the state in a loop until killed: ``python write_worker.py STATE_PATH [journal]``, or
``python write_worker.py DSN SCHEMA journal`` for PostgreSQL.

Prints ``WROTE <serial>`` after each write returns (the write is durable by then). With
``journal``: appends one GID per write and folds the journal (a whole write) after every
third, printing ``WROTE <serial> <resources>``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from reconciler.models import (
    LocalBackendConfig,
    PostgresBackendConfig,
    StateDocument,
    StateResource,
)
from reconciler.state import new_state, open_backend
from reconciler.state.base import StateBackend
from reconciler.state.changes import StateChanges


def main() -> None:
    if sys.argv[1].startswith("postgresql://"):
        config = PostgresBackendConfig.model_validate({"dsn": sys.argv[1], "schema": sys.argv[2]})
        backend = open_backend(config, base_dir=Path.cwd())
    else:
        path = Path(sys.argv[1])
        backend = open_backend(LocalBackendConfig(path=str(path)), base_dir=path.parent)
    doc = backend.read() or backend.write(new_state(), expected_serial=0)
    if sys.argv[-1] == "journal":
        append_and_fold(backend, doc)
    while True:
        group = f"GID_n{doc.serial:06d}"
        item = StateResource(region="cn-hangzhou", instance_id="post-cn-x", group_id=group)
        doc = backend.write(doc.with_resource(item), expected_serial=doc.serial)
        sys.stdout.write(f"WROTE {doc.serial}\n")
        sys.stdout.flush()


def append_and_fold(backend: StateBackend, doc: StateDocument) -> None:
    count = len(doc.resources)
    serial = doc.serial
    while True:
        item = StateResource(
            region="cn-hangzhou", instance_id="post-cn-x", group_id=f"GID_n{count:06d}"
        )
        serial = backend.append(StateChanges(doc.lineage, put=(item,)), expected_serial=serial)
        count += 1
        sys.stdout.write(f"WROTE {serial} {count}\n")
        sys.stdout.flush()
        if count % 3 == 0:
            current = backend.read()
            assert current is not None
            serial = backend.write(current, expected_serial=serial).serial
            sys.stdout.write(f"WROTE {serial} {count}\n")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
