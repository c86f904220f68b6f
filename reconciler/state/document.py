"""Reading a stored state document as strictly as a desired file.

A state is trusted by the planner (``protect`` is remembered there), so whatever edited it by
hand, or tampered with it, must not be able to change its meaning through the parser: a key
given twice in one JSON object, a value of the wrong type (``"protect": "yes"`` is not true),
an unknown field, or one resource recorded twice is an error naming the entry, never resolved
by "the last one wins" or by coercion. Strictness is asked of pydantic for the whole document
(``strict=True`` on validation), so every model in it, present or added later, is read
strictly; one resource per key is ``StateDocument``'s own rule.

Formats: 2 records each resource's ``kind`` and must name it. 1 (reconciler 0.1.0 and every
release before kinds; a document naming no format is one) is read as GIDs and returned as
format 2, so the next write upgrades the stored document in place; the read changes nothing.
A newer format is refused: this code cannot know what its fields mean.
"""

from __future__ import annotations

import functools
import json
import operator
import re
import types
import typing
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from reconciler.errors import StateError
from reconciler.models import (
    GID_KIND_NAME,
    STATE_FORMAT_VERSION,
    StateDocument,
    StateResource,
    first_duplicate,
)

_Path = tuple[str | int, ...]
# How much of a refused value a message quotes.
_QUOTED_VALUE_LENGTH = 40


class StateFormatError(StateError):
    """The stored document is not a valid state; the message names the entry."""


def parse_state(text: str, *, where: str) -> StateDocument:
    """The state document stored as JSON ``text``; ``where`` names it in messages
    (``state file PATH``). Raises ``StateFormatError``: ``WHERE is corrupt: PROBLEM``."""
    document = _read_in_pieces(text)
    if document is not None:
        if not _surely_no_repeated_keys(text, document):
            refuse_repeated_keys(text, where)
        refuse_missing_kind(document.resources, where)
        return document
    try:
        document = StateDocument.model_validate_json(text, strict=True)
    except ValidationError as exc:
        document = _read_format_1(text, where, exc)
    else:
        if "format_version" not in document.model_fields_set:
            document = _read_format_1(text, where, None)
        elif not _surely_no_repeated_keys(text, document):
            refuse_repeated_keys(text, where)
    refuse_missing_kind(document.resources, where)
    return document


# --- a large document, validated a piece at a time ------------------------------------------
#
# pydantic parses a JSON text into a tree of its own before validating it: for a state of
# 100,000 resources (22 MB) that tree cost 130 MB at once, more than the models it became, and
# it was a plan's peak memory. A document in the layout this package writes (compact, its
# resources last, no backslash) is validated as its head with no resources, then its resources
# a piece of about ``_PIECE_CHARACTERS`` at a time, each as strictly as the whole document
# (the same models, ``strict=True``), then the document from those. Correct whatever the cut:
# the text is the head, ``[``, the pieces joined by commas, ``]}``; when the head with ``[]``
# is a valid document whose last field is ``resources`` and every ``[piece]`` is a valid
# array of resources, the whole is that document with those resources in order. Anything else
# (a cut inside a string, any mistake) returns None, and the whole text is read as before,
# which names the mistake.

_RESOURCES_OPENING = '"resources":['
_CLOSING = "]}"
_PIECE_CHARACTERS = 1 << 20
# Between two resources of the compact layout; a cut is made just after the brace.
_BETWEEN_RESOURCES = '},{"'


def _read_in_pieces(text: str) -> StateDocument | None:
    # A file ends with a newline; JSON allows whitespace after the document.
    end = len(text)
    while end and text[end - 1] in " \t\r\n":
        end -= 1
    end -= len(_CLOSING)
    if end < 2 * _PIECE_CHARACTERS or "\\" in text or not text.startswith(_CLOSING, end):
        return None
    opening = text.find(_RESOURCES_OPENING)
    # An even number of quotes before it: the bracket is outside every string (no escapes).
    if opening < 0 or text.count('"', 0, opening) % 2:
        return None
    start = opening + len(_RESOURCES_OPENING)
    try:
        head = StateDocument.model_validate_json(text[:start] + _CLOSING, strict=True)
    except ValidationError:
        return None
    if "format_version" not in head.model_fields_set:
        return None
    resources: list[StateResource] = []
    adapter = _resources_adapter()
    while start < end:
        cut = text.find(_BETWEEN_RESOURCES, min(start + _PIECE_CHARACTERS, end), end)
        stop = end if cut < 0 else cut + 1
        try:
            resources.extend(adapter.validate_json(f"[{text[start:stop]}]", strict=True))
        except ValidationError:
            return None
        start = stop + 1  # past the comma
    # The head and every resource are validated: the document's own rule is all that is left
    # to check (validating the whole again would revisit each resource).
    if first_duplicate(resources) is not None:
        return None
    return head.model_copy(update={"resources": tuple(resources)})


@functools.cache
def _resources_adapter() -> TypeAdapter[list[StateResource]]:
    return TypeAdapter(list[StateResource])


def _read_format_1(text: str, where: str, exc: ValidationError | None) -> StateDocument:
    """``text`` read as a format 1 document upgraded to format 2, when it is one; otherwise
    the error ``exc`` (format 2's) reports, or the newer format is refused."""
    keys = _UniqueKeys()
    try:
        data = json.loads(text, object_pairs_hook=keys.hook)
    except json.JSONDecodeError as bad:
        raise StateFormatError(
            f"{where} is corrupt: not valid JSON: line {bad.lineno} column {bad.colno}: {bad.msg}"
        ) from exc
    except RecursionError:
        raise StateFormatError(f"{where} is corrupt: nested too deeply") from exc
    version = data.get("format_version", 1) if isinstance(data, dict) else None
    _refuse_newer(version, where)
    if version != 1 and exc is not None:
        raise StateFormatError(f"{where} is corrupt: {first_problem(exc, data)}") from exc
    duplicate = _find_duplicate(data) if keys.seen_duplicate else None
    if duplicate is not None:
        raise _repeated_key(duplicate, data, where)
    resources = data.get("resources")
    if isinstance(resources, list):
        # Every format 1 resource is a GID; its fields are format 2's, kind aside.
        data["resources"] = [
            {"kind": GID_KIND_NAME, **item} if isinstance(item, dict) else item
            for item in resources
        ]
    data["format_version"] = STATE_FORMAT_VERSION
    try:
        return StateDocument.model_validate_json(json.dumps(data), strict=True)
    except ValidationError as upgraded_exc:
        problem = first_problem(upgraded_exc, data)
        raise StateFormatError(f"{where} is corrupt: {problem}") from upgraded_exc


def _refuse_newer(version: object, where: str) -> None:
    if isinstance(version, int) and version > STATE_FORMAT_VERSION:
        raise StateFormatError(
            f"{where} has state format version {version}, newer than this reconciler reads "
            f"({STATE_FORMAT_VERSION}): use a newer reconciler"
        )


def refuse_missing_kind(
    resources: tuple[StateResource, ...], where: str, *, field: str = "resources"
) -> None:
    """Format 2 names each resource's kind: the model's default serves code building
    resources, never a stored document."""
    # The validated resources share a few fields sets: one look at each (100,000 resources
    # took a tenth of a second one by one); the entry is looked for only when one lacks it.
    if all("kind" in names for names in _distinct_fields_sets(resources)):
        return
    for index, resource in enumerate(resources):
        if "kind" not in resource.model_fields_set:
            raise StateFormatError(
                f"{where} is corrupt: {field}[{index}] ({resource.instance_id}/"
                f"{resource.group_id}): kind: Field required"
            )


# --- a key given twice in one JSON object ---------------------------------------------------
#
# pydantic's parser keeps the last of repeated keys. The exact check re-parses the text with
# the json module (about 0.3 s for 100,000 resources); the common case is proven free of
# repeats by counting instead. Without backslashes (so no escaped quote, and no key spelled
# with escapes) and without whitespace between a closing quote and a colon, every '":' in
# the text ends a key (or opens a string starting with ':'), so count('":') is at least the
# number of keys in all objects; and that is at least the number of distinct keys, which the
# validated models tell (the fields each was given, and the keys of any dict). Equality
# therefore means no object repeats a key; anything else takes the exact check.

_SPACE_BEFORE_COLON = re.compile(r'"[ \t\n\r]+:')
_SCALARS = (str, int, float, bool, type(None))


def _surely_no_repeated_keys(text: str, document: BaseModel) -> bool:
    if "\\" in text or _space_before_colon(text):
        return False
    return text.count('":') == _distinct_keys(document)


def _space_before_colon(text: str) -> bool:
    # A compact document holds no whitespace but its final newline, and looking for one
    # character is many times cheaper than the pattern's scan of a large document.
    end = len(text)
    while end and text[end - 1] in _WHITESPACE:
        end -= 1
    return any(text.find(space, 0, end) >= 0 for space in _WHITESPACE) and bool(
        _SPACE_BEFORE_COLON.search(text)
    )


_WHITESPACE = " \t\n\r"


def _distinct_fields_sets(models: Sequence[BaseModel]) -> list[set[str]]:
    """Each distinct ``model_fields_set`` of ``models`` once (by identity: they are shared)."""
    by_identity = {id(names): names for names in map(_FIELDS_SET, models)}
    return list(by_identity.values())


_FIELDS_SET = operator.attrgetter("__pydantic_fields_set__")


def _distinct_keys(value: object) -> int:
    """The distinct keys of every JSON object ``value`` was validated from."""
    if isinstance(value, BaseModel):
        return _model_keys(value, _fields_holding_objects(type(value)))
    if isinstance(value, dict):
        return len(value) + sum(_distinct_keys(item) for item in value.values())
    if isinstance(value, list | tuple):
        if value and all(type(item) is StateResource for item in value):
            return _resources_keys(value)
        count = 0
        holding: dict[type[BaseModel], tuple[str, ...]] = {}
        for item in value:
            if isinstance(item, BaseModel):
                # Inline for the 100,000 resources of a large state: one call each, not three.
                kind = type(item)
                fields = holding.get(kind)
                if fields is None:
                    fields = holding[kind] = _fields_holding_objects(kind)
                count += _model_keys(item, fields)
            else:
                count += _distinct_keys(item)
        return count
    return 0


def _resources_keys(resources: Sequence[StateResource]) -> int:
    """``_distinct_keys`` of a large state's resources, without a Python call per resource:
    the keys each was given, plus those of the few objects held by the fields that hold
    any (nearly every resource has no attributes or digests)."""
    count = sum(map(len, map(_FIELDS_SET, resources)))
    for name in _fields_holding_objects(StateResource):
        count += sum(map(_distinct_keys, filter(None, map(operator.attrgetter(name), resources))))
    return count


def _model_keys(model: BaseModel, holding: tuple[str, ...]) -> int:
    count = len(model.__pydantic_fields_set__)
    for name in holding:
        held = getattr(model, name)
        # Most are empty (a resource's attributes and digests): no call for them. A model is
        # never falsy.
        if held:
            count += _distinct_keys(held)
    return count


@functools.cache
def _fields_holding_objects(model: type[BaseModel]) -> tuple[str, ...]:
    """The fields of ``model`` whose values may hold JSON objects (models, dicts, Any)."""
    return tuple(
        name for name, field in model.model_fields.items() if not _scalars_only(field.annotation)
    )


def _scalars_only(annotation: object) -> bool:
    """True when a value of this type can hold no JSON object; False when unsure."""
    origin = typing.get_origin(annotation)
    if origin is None:
        return annotation in _SCALARS
    if origin is Literal:
        return True
    args = [arg for arg in typing.get_args(annotation) if arg is not Ellipsis]
    if origin is Annotated:
        return _scalars_only(args[0])
    if origin in (tuple, list, frozenset, set, typing.Union, types.UnionType):
        return all(_scalars_only(arg) for arg in args)
    return False


def refuse_repeated_keys(text: str, where: str) -> None:
    """The exact check: raise naming the first object that repeats a key, if one does."""
    keys = _UniqueKeys()
    data = json.loads(text, object_pairs_hook=keys.hook)  # valid: pydantic parsed it
    duplicate = _find_duplicate(data) if keys.seen_duplicate else None
    if duplicate is not None:
        raise _repeated_key(duplicate, data, where)


def _repeated_key(duplicate: tuple[_Path, str], data: object, where: str) -> StateFormatError:
    path, key = duplicate
    return StateFormatError(
        f"{where} is corrupt: {_entry(path, data)}key {key!r} is given twice in one object"
    )


class StoredVersion(BaseModel):
    """A stored document's lineage and serial only: what a compare-and-swap compares."""

    model_config = ConfigDict(frozen=True, extra="ignore", defer_build=True)

    # Any format this code reads (1 or 2); a newer one is refused by ``parse_version``.
    format_version: int = 1
    lineage: str
    serial: int = Field(default=0, ge=0)


def parse_version(text: str, *, where: str) -> StoredVersion:
    """The lineage and serial of the state document stored as JSON ``text``, without
    validating its resources: a write replaces them, and ``parse_state`` read them strictly
    before (about 20 times cheaper than ``parse_state`` on a 100,000-resource state, which
    matters since every write re-reads the file it replaces). Raises ``StateFormatError``."""
    try:
        stored = StoredVersion.model_validate_json(text, strict=True)
    except ValidationError as exc:
        error = exc.errors()[0]
        if error["type"] == "json_invalid":
            raise StateFormatError(f"{where} is corrupt: not valid JSON") from exc
        raise StateFormatError(f"{where} is corrupt: {first_problem(exc, None)}") from exc
    _refuse_newer(stored.format_version, where)
    return stored


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


def first_problem(exc: ValidationError, data: object) -> str:
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
