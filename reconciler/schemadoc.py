"""The JSON Schema documents we check in (``schemas/``), built from pydantic models.

A leaf module (pydantic only) so that every layer that owns a document format can use it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

DRAFT = "https://json-schema.org/draft/2020-12/schema"


def schema_document(
    model: type[BaseModel],
    *,
    schema_id: str,
    title: str,
    description: str,
    mode: Literal["validation", "serialization"] = "serialization",
) -> dict[str, Any]:
    """``model``'s JSON Schema headed with the draft, its ``$id``, title and description."""
    schema = model.model_json_schema(mode=mode)
    schema["$schema"] = DRAFT
    schema["$id"] = schema_id
    schema["title"] = title
    schema["description"] = description
    return schema
