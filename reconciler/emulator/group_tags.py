"""A GID's tags as OnsMqtt 2020-04-20 requests carry them (CreateGroupId, ListGroupId's filter).

SDK 1.7.1 types ``Tags`` as one string; the service documents the sibling ``ListInstances.Tags``
as the JSON list ``[{"key":"k","value":"v"}]`` while the newest ListGroupId page shows the
repeated form ``Tag.N.Key`` / ``Tag.N.Value``. Which one the live service reads is not known,
so the emulator accepts either (never both in one call) and refuses anything else with the
same ``InvalidParameter.Tags`` it answers for a tag the service's rules refuse (a code the
service does not document for this action: chosen, as its custom-auth actions name theirs).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from reconciler.emulator.protocol import ApiError
from reconciler.emulator.store.groups import Tags
from reconciler.models import tags_problem

INVALID_TAGS = "InvalidParameter.Tags"
_REPEATED = re.compile(r"^Tag\.([1-9][0-9]*)\.(Key|Value)$")


def _invalid(reason: str) -> ApiError:
    return ApiError(400, INVALID_TAGS, f"The Tags parameter is invalid: {reason}.")


def requested_tags(params: Mapping[str, str]) -> Tags:
    """The tags a request gives, in its order (none: ``()``); ``ApiError`` when they are
    malformed, repeat a key, or break the service's rules (``models.tags_problem``)."""
    text = params.get("Tags", "").strip()
    repeated = {
        (match[1], match[2]): value
        for name, value in params.items()
        if (match := _REPEATED.match(name)) is not None
    }
    if text and repeated:
        raise _invalid("give Tags or Tag.N.Key/Tag.N.Value, not both")
    pairs = _json_pairs(text) if text else _repeated_pairs(repeated)
    tags: dict[str, str] = {}
    for key, value in pairs:
        if key in tags:
            raise _invalid(f"tag key {key!r} is given twice")
        tags[key] = value
    problem = tags_problem(tags)
    if problem is not None:
        raise _invalid(problem)
    return tuple(tags.items())


def _json_pairs(text: str) -> list[tuple[str, str]]:
    try:
        parsed: Any = json.loads(text)
    except ValueError:
        raise _invalid('expected a JSON list such as [{"key":"k","value":"v"}]') from None
    if not isinstance(parsed, list):
        raise _invalid('expected a JSON list such as [{"key":"k","value":"v"}]')
    pairs = []
    for item in parsed:
        if not (
            isinstance(item, dict)
            and set(item) <= {"key", "value"}
            and isinstance(item.get("key"), str)
            and isinstance(item.get("value", ""), str)
        ):
            raise _invalid(f'each tag is {{"key": "...", "value": "..."}}, found {item!r}')
        pairs.append((item["key"], item.get("value", "")))
    return pairs


def _repeated_pairs(repeated: Mapping[tuple[str, str], str]) -> list[tuple[str, str]]:
    numbers = sorted({int(number) for number, _ in repeated})
    pairs = []
    for number in numbers:
        key = repeated.get((str(number), "Key"))
        if key is None:
            raise _invalid(f"Tag.{number}.Value is given without Tag.{number}.Key")
        pairs.append((key, repeated.get((str(number), "Value"), "")))
    return pairs


def tags_body(tags: Tags) -> list[dict[str, str]]:
    """ListGroupId's ``Tags`` of a GID, as SDK 1.7.1's response model reads them."""
    return [{"TagKey": key, "TagValue": value} for key, value in tags]
