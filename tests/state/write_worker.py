"""Writes the local state in a loop until killed: ``python write_worker.py STATE_PATH``.

Prints ``WROTE <serial>`` after each write returns (the write is durable by then).
"""

from __future__ import annotations

import sys
from pathlib import Path

from reconciler.models import LocalBackendConfig, StateResource
from reconciler.state import new_state, open_backend


def main() -> None:
    path = Path(sys.argv[1])
    backend = open_backend(LocalBackendConfig(path=str(path)), base_dir=path.parent)
    doc = backend.read() or backend.write(new_state(), expected_serial=0)
    while True:
        group = f"GID_n{doc.serial:06d}"
        item = StateResource(region="cn-hangzhou", instance_id="post-cn-x", group_id=group)
        doc = backend.write(doc.with_resource(item), expected_serial=doc.serial)
        sys.stdout.write(f"WROTE {doc.serial}\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
