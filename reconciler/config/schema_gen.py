"""Generate ``schemas/desired-state.schema.json`` from ``schema.DesiredFile``.

``python -m reconciler.config.schema_gen`` rewrites the checked-in file;
``python -m reconciler.config.schema_gen --check`` exits 1 when it is out of date.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from reconciler.config.schema import DesiredFile

SCHEMA_PATH = Path("schemas") / "desired-state.schema.json"
SCHEMA_ID = "urn:reconciler:schema:desired-state"


def build_schema() -> dict[str, Any]:
    generated = DesiredFile.model_json_schema(by_alias=True, mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "description": "A reconciler desired-state file (format version 1): which Group IDs "
        "each Alibaba Cloud MQTT instance must have. Generated from "
        "reconciler/config/schema.py by `python -m reconciler.config.schema_gen`.",
        **generated,
    }


def render_schema() -> str:
    return json.dumps(build_schema(), indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    text = render_schema()
    if "--check" in args:
        current = SCHEMA_PATH.read_text(encoding="utf-8") if SCHEMA_PATH.exists() else ""
        if current != text:
            sys.stderr.write(
                f"{SCHEMA_PATH} is out of date: run python -m reconciler.config.schema_gen\n"
            )
            return 1
        return 0
    SCHEMA_PATH.parent.mkdir(parents=True, exist_ok=True)
    SCHEMA_PATH.write_text(text, encoding="utf-8")
    sys.stdout.write(f"wrote {SCHEMA_PATH}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
