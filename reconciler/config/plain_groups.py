"""Group lists checked in one pass instead of a model per GID.

A file of 100,000 GIDs is almost all group entries: GID strings, or mappings of a few keys
(``{id: GID_x, topic: orders}``). The schema would build a ``GroupSpec`` for each (about 1 us
apiece, most of the whole document's validation) only for ``resolve`` to read it once and
build the ``DesiredGroup``. So a list whose every entry is valid by the schema's own rules (its
patterns, types and lengths) is checked here and kept as the file gave it: a ``str`` or a
``PlainGroup`` mapping. pydantic validates the rest of the document, and every list holding
anything else (a wrong value, a type YAML does not build), exactly as before. When the rest is
not valid, the whole document is validated again (``checks.check_whole_shape``), so every
error is worded and ordered as it always was.

Nothing is accepted here that the schema refuses: each rule below is stricter than or equal to
the schema's (exact ``str``, ``bool``, ``list`` and ``dict`` types, the schema's own patterns
matched whole, its lengths), and ``tests/config/test_plain_groups.py`` proves the two agree on
random entries. The one string pydantic refuses whatever its rules, one holding a lone
surrogate, never gets here: libyaml refuses the escape that would make it.
"""

from __future__ import annotations

import re
from typing import Any, Required, TypedDict

from pydantic import ValidationError

from reconciler.config.schema import (
    GROUP_DESCRIPTION_MAX_LENGTH,
    TOPIC_PATTERN,
    DesiredFile,
    GroupSpec,
)
from reconciler.models import (
    CLIENT_ID_MAX_LENGTH,
    GROUP_ID_RE,
    MAX_TAGS,
    TAG_KEY_MAX_LENGTH,
    TAG_VALUE_MAX_LENGTH,
)


class PlainGroup(TypedDict, total=False):
    """A long-form group entry as the file gave it, checked here: the ``GroupSpec`` fields,
    each valid."""

    id: Required[str]
    topic: str | None
    protect: bool | None
    absent: bool
    description: str | None
    clients: list[str]
    tags: dict[str, str] | None


# What a checked document's group lists hold: the schema's entries, or, for a list checked
# here, the entries as the file gave them.
CheckedGroup = str | GroupSpec | PlainGroup

PLAIN_GROUP_KEYS = frozenset(PlainGroup.__annotations__)
# fullmatch, not match: the schema's patterns end in '$', which Python's re (unlike the
# pattern engine of pydantic-core) lets match before a final newline.
_GID = GROUP_ID_RE.fullmatch
_TOPIC = re.compile(TOPIC_PATTERN).fullmatch


def is_plain(entries: list[Any]) -> bool:
    """Whether every entry is a valid GID string or a valid ``PlainGroup`` mapping."""
    gid_match = _GID
    topics: set[str] = set()  # the valid topics met (a file uses a handful, over and over)
    for entry in entries:
        kind = type(entry)
        if kind is str:
            if gid_match(entry) is None:
                return False
            continue
        if kind is not dict or not PLAIN_GROUP_KEYS.issuperset(entry):
            return False
        gid = entry.get("id")
        if type(gid) is not str or gid_match(gid) is None:
            return False
        topic = entry.get("topic")
        if topic is not None:
            if type(topic) is not str:
                return False
            if topic not in topics:
                if _TOPIC(topic) is None:
                    return False
                topics.add(topic)
        # One loop, no call per entry; the keys other than id and topic only when given.
        if len(entry) > (1 if topic is None else 2) and not _plain_flags(entry):
            return False
    return True


def _plain_flags(entry: dict[Any, Any]) -> bool:
    """Whether the keys but id and topic, where given, are valid."""
    protect = entry.get("protect")
    if protect is not None and type(protect) is not bool:
        return False
    # Unlike protect, absent and clients may not be null.
    if "absent" in entry and type(entry["absent"]) is not bool:
        return False
    description = entry.get("description")
    if description is not None and (
        type(description) is not str or len(description) > GROUP_DESCRIPTION_MAX_LENGTH
    ):
        return False
    if "clients" in entry and not _plain_clients(entry["clients"]):
        return False
    tags = entry.get("tags")
    return tags is None or _plain_tags(tags)


def _plain_clients(clients: Any) -> bool:
    return type(clients) is list and all(
        type(client) is str and 0 < len(client) <= CLIENT_ID_MAX_LENGTH for client in clients
    )


def _plain_tags(tags: Any) -> bool:
    return (
        type(tags) is dict
        and len(tags) <= MAX_TAGS
        and all(
            type(key) is str
            and 0 < len(key) <= TAG_KEY_MAX_LENGTH
            and type(value) is str
            and len(value) <= TAG_VALUE_MAX_LENGTH
            for key, value in tags.items()
        )
    )


class SetAside:
    """A document with its plain group lists emptied, and those lists."""

    # A plain class: creating a frozen dataclass costs about 1 ms, at every start-up.
    __slots__ = ("instance_groups", "rest", "set_groups")

    def __init__(
        self,
        rest: dict[Any, Any],
        instance_groups: dict[int, list[Any]],
        set_groups: dict[str, list[Any]],
    ) -> None:
        self.rest = rest
        self.instance_groups = instance_groups
        self.set_groups = set_groups

    def validated(self) -> DesiredFile | None:
        """The document validated, its plain lists put back; None when the rest is not valid
        (the caller validates the whole document again to word every problem)."""
        try:
            doc = DesiredFile.model_validate(self.rest)
        except ValidationError:
            return None
        update: dict[str, Any] = {}
        if self.instance_groups:
            update["instances"] = [
                spec.model_copy(update={"groups": self.instance_groups[index]})
                if index in self.instance_groups
                else spec
                for index, spec in enumerate(doc.instances)
            ]
        if self.set_groups:
            update["group_sets"] = {
                name: self.set_groups.get(name, entries) for name, entries in doc.group_sets.items()
            }
        return doc.model_copy(update=update)


def set_aside(data: dict[Any, Any]) -> SetAside | None:
    """``data`` with each plain group list replaced by an empty one (the lists themselves are
    left as they are), or None when no list is plain."""
    instance_groups: dict[int, list[Any]] = {}
    set_groups: dict[str, list[Any]] = {}
    rest = dict(data)
    instances = data.get("instances")
    if type(instances) is list:
        copied = list(instances)
        for index, instance in enumerate(instances):
            groups = instance.get("groups") if type(instance) is dict else None
            if type(groups) is list and groups and is_plain(groups):
                instance_groups[index] = groups
                copied[index] = {**instance, "groups": []}
        rest["instances"] = copied
    sets = data.get("group_sets")
    if type(sets) is dict:
        kept = dict(sets)
        for name, entries in sets.items():
            if type(name) is str and type(entries) is list and entries and is_plain(entries):
                set_groups[name] = entries
                kept[name] = []
        rest["group_sets"] = kept
    if not instance_groups and not set_groups:
        return None
    return SetAside(rest, instance_groups, set_groups)
