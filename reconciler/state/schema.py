"""JSON Schema of the state document (``schemas/state.schema.json`` is generated from it)."""

from __future__ import annotations

from typing import Any

from reconciler.models import StateDocument

SCHEMA_ID = "https://reconciler.dev/schemas/state.schema.json"


def state_json_schema() -> dict[str, Any]:
    """The schema of a stored state document (local state.json, the postgres document column)."""
    schema = StateDocument.model_json_schema(mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = SCHEMA_ID
    schema["title"] = "reconciler state"
    schema["description"] = (
        "What reconciler created or adopted. `lineage` identifies one state for its whole life; "
        "`serial` grows by one on every write (compare-and-swap)."
    )
    return schema
