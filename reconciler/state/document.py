"""Reading a stored state document as strictly as a desired file.

A state is trusted by the planner (``protect`` is remembered there), so whatever edited it by
hand, or tampered with it, must not be able to change its meaning through the parser: a key
given twice in one JSON object, a value of the wrong type (``"protect": "yes"`` is not true),
an unknown field, or one resource recorded twice is an error naming the entry, never resolved
by "the last one wins" or by coercion. Strictness is asked of pydantic for the whole document
(``strict=True`` on validation), so every model in it, present or added later, is read
strictly; one resource per key is ``StateDocument``'s own rule.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from reconciler.errors import StateError
from reconciler.models import StateDocument, share_fields_sets

_Path = tuple[str | int, ...]
# How much of a refused value a message quotes.
_QUOTED_VALUE_LENGTH = 40


class StateFormatError(StateError):
    """The stored document is not a valid state; the message names the entry."""


def parse_state(text: str, *, where: str) -> StateDocument:
    """The state document stored as JSON ``text``; ``where`` names it in messages
    (``state file PATH``). Raises ``StateFormatError``: ``WHERE is corrupt: PROBLEM``."""
    keys = _UniqueKeys()
    try:
        data = json.loads(text, object_pairs_hook=keys.hook)
    except json.JSONDecodeError as exc:
        raise StateFormatError(
            f"{where} is corrupt: not valid JSON: line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from exc
    except RecursionError as exc:
        raise StateFormatError(f"{where} is corrupt: nested too deeply") from exc
    duplicate = _find_duplicate(data) if keys.seen_duplicate else None
    if duplicate is not None:
        path, key = duplicate
        raise StateFormatError(
            f"{where} is corrupt: {_entry(path, data)}key {key!r} is given twice in one object"
        )
    try:
        document = StateDocument.model_validate_json(text, strict=True)
    except ValidationError as exc:
        raise StateFormatError(f"{where} is corrupt: {_first_problem(exc, data)}") from exc
    share_fields_sets(document.resources)
    return document


class StoredVersion(BaseModel):
    """A stored document's lineage and serial only: what a compare-and-swap compares."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    format_version: Literal[1] = 1
    lineage: str
    serial: int = Field(default=0, ge=0)


def parse_version(text: str, *, where: str) -> StoredVersion:
    """The lineage and serial of the state document stored as JSON ``text``, without
    validating its resources: a write replaces them, and ``parse_state`` read them strictly
    before (about 20 times cheaper than ``parse_state`` on a 100,000-resource state, which
    matters since every write re-reads the file it replaces). Raises ``StateFormatError``."""
    try:
        return StoredVersion.model_validate_json(text, strict=True)
    except ValidationError as exc:
        error = exc.errors()[0]
        if error["type"] == "json_invalid":
            raise StateFormatError(f"{where} is corrupt: not valid JSON") from exc
        raise StateFormatError(f"{where} is corrupt: {_first_problem(exc, None)}") from exc


class _UniqueKeys:
    """``object_pairs_hook`` that marks objects naming a key twice (found again, with their
    path, only when there is one: the common case pays one ``len`` per object)."""

    def __init__(self) -> None:
        self.seen_duplicate = False

    def hook(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(pairs)
        if len(obj) == len(pairs):
            return obj
        self.seen_duplicate = True
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                return _Duplicated(obj, key)
            seen.add(key)
        return obj  # not reached: fewer keys than pairs means one repeated


class _Duplicated(dict[str, Any]):
    def __init__(self, obj: dict[str, Any], key: str) -> None:
        super().__init__(obj)
        self.key = key


def _find_duplicate(data: object, path: _Path = ()) -> tuple[_Path, str] | None:
    """The path of the first object that named a key twice, and that key."""
    if isinstance(data, _Duplicated):
        return path, data.key
    if isinstance(data, dict):
        children: list[tuple[str | int, object]] = list(data.items())
    elif isinstance(data, list):
        children = list(enumerate(data))
    else:
        return None
    for name, child in children:
        found = _find_duplicate(child, (*path, name))
        if found is not None:
            return found
    return None


def _first_problem(exc: ValidationError, data: object) -> str:
    error = exc.errors()[0]
    loc = tuple(error["loc"])
    if error["type"] == "extra_forbidden":
        problem = "unknown field"
    else:
        problem = str(error["msg"])
        if error["type"] not in ("missing", "duplicate_resource"):
            problem += f" (found {_quoted(error.get('input'))})"
    if not loc:
        return problem
    *entry, field = loc
    return f"{_entry(tuple(entry), data)}{field}: {problem}"


def _entry(path: _Path, data: object) -> str:
    """``resources[3] (INSTANCE/GROUP): `` for a path into a resource, else the JSON path."""
    if not path:
        return ""
    text = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path)
    text = text.lstrip(".")
    resource = _resource_at(path, data)
    if resource is not None:
        text += f" ({resource})"
    return text + ": "


def _resource_at(path: _Path, data: object) -> str | None:
    if len(path) < 2 or path[0] != "resources" or not isinstance(path[1], int):
        return None
    try:
        found = data["resources"][path[1]]  # type: ignore[index]
        return f"{found['instance_id']}/{found['group_id']}"
    except (KeyError, IndexError, TypeError):
        return None


def _quoted(value: object) -> str:
    scalar = value is None or isinstance(value, str | int | float | bool)
    text = json.dumps(value) if scalar else f"a JSON {_json_kind(value)}"
    if len(text) > _QUOTED_VALUE_LENGTH:
        text = text[: _QUOTED_VALUE_LENGTH - 3] + "..."
    return text


def _json_kind(value: object) -> str:
    return "object" if isinstance(value, dict) else "array" if isinstance(value, list) else "value"
