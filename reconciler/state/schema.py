"""JSON Schema of the state document (``schemas/state.schema.json`` is generated from it)."""

from __future__ import annotations

from typing import Any

from reconciler.models import StateDocument
from reconciler.schemadoc import schema_document

SCHEMA_ID = "urn:reconciler:schema:state"


def state_json_schema() -> dict[str, Any]:
    """The schema of a stored state document (local state.json, the postgres document column)."""
    schema = schema_document(
        StateDocument,
        schema_id=SCHEMA_ID,
        title="reconciler state",
        description="What reconciler created or adopted. `lineage` identifies one state for its "
        "whole life; `serial` grows by one on every write (compare-and-swap); `binding` names "
        "the desired inputs and the cloud it describes (plan and apply refuse others). Format 1 "
        "(no kinds: every resource a GID) is read too and upgraded by the next write.",
    )
    # A stored document names its format and each resource's kind (the models' defaults
    # serve code that builds them).
    schema["required"] = sorted({*schema.get("required", ()), "format_version"})
    resource = schema["$defs"]["StateResource"]
    resource["required"] = sorted({*resource.get("required", ()), "kind"})
    return schema
