"""Generate the desired-state JSON Schemas from ``schema.DesiredFile``.

Two documents, both from the same models: ``schemas/desired-state.schema.json`` for a whole
desired-state file, and ``schemas/desired-state-fragment.schema.json`` for one file of a split
desired state (a directory merged by ``config.merge``). A fragment may hold any part of the
document the merge rules allow in any file (instances with their GIDs, group sets, the shared
blocks, and whatever the models add), so its schema is the whole file's with nothing required:
``version`` may stand in another file of the directory. Deriving it keeps both in step when
the models grow.

``python -m reconciler.config.schema_gen`` rewrites the checked-in files;
``python -m reconciler.config.schema_gen --check`` exits 1 when one is out of date.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from reconciler.config.schema import DesiredFile

SCHEMA_PATH = Path("schemas") / "desired-state.schema.json"
SCHEMA_ID = "urn:reconciler:schema:desired-state"
FRAGMENT_SCHEMA_PATH = Path("schemas") / "desired-state-fragment.schema.json"
FRAGMENT_SCHEMA_ID = "urn:reconciler:schema:desired-state-fragment"


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


def build_fragment_schema() -> dict[str, Any]:
    """The whole file's schema with no top-level key required."""
    fragment = build_schema()
    fragment.pop("required", None)
    fragment["$id"] = FRAGMENT_SCHEMA_ID
    fragment["title"] = "reconciler desired state, one file of a split desired state"
    fragment["description"] = (
        "One file of a desired state split across files (a directory that reconciler merges: "
        "for example a team's own instances and GIDs). It may hold any key a whole file holds; "
        "none is required here, version included, since another file of the directory may "
        "give it. Generated from reconciler/config/schema.py by "
        "`python -m reconciler.config.schema_gen`."
    )
    return fragment


def _render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def render_schema() -> str:
    return _render(build_schema())


def render_fragment_schema() -> str:
    return _render(build_fragment_schema())


def rendered() -> dict[Path, str]:
    """Each checked-in schema's path (relative to the checkout) and its text."""
    return {SCHEMA_PATH: render_schema(), FRAGMENT_SCHEMA_PATH: render_fragment_schema()}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    documents = rendered()
    if "--check" in args:
        stale = [
            path
            for path, text in documents.items()
            if (path.read_text(encoding="utf-8") if path.exists() else "") != text
        ]
        for path in stale:
            sys.stderr.write(f"{path} is out of date: run python -m reconciler.config.schema_gen\n")
        return 1 if stale else 0
    for path, text in documents.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        sys.stdout.write(f"wrote {path}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
