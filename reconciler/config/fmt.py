"""Canonical formatting of a desired-state file, keeping its comments.

``format_text`` round-trips the file through ruamel.yaml and:

* sorts the groups of every instance and group set by GID,
* writes a group that is only ``{id: GID_x}`` as the plain string ``GID_x``,
* puts keys in the canonical order (``schema.*_KEYS``),
* indents by two spaces (list dashes indented under their key).

Comments travel with the line they stand on or precede: ruamel attaches a full-line comment to
the entry *before* it, so before anything moves, such comments are re-attached to the entry
after them. The result is stable: formatting formatted text changes nothing.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable
from functools import partial
from itertools import pairwise
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedBase, CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark, YAMLError
from ruamel.yaml.tokens import CommentToken

from reconciler.config import schema
from reconciler.config.access_checks import ACCESS_LISTS
from reconciler.errors import ConfigError, ConfigErrors

_INDENT = 2  # mapping indent; sequences: dash at +2, content at +4

# ruamel comment slots: a sequence item's list is [after-item, before-item]; a mapping entry's is
# [after-key, before-key, after-value, before-value].
_SEQ_AFTER, _SEQ_BEFORE = 0, 1
_MAP_BEFORE, _MAP_AFTER, _MAP_BEFORE_VALUE = 1, 2, 3

# Column of each container's entries (by id) during one format_text call, so that moved
# comments are indented like the entry they now precede.
_COLUMNS: dict[int, int] = {}
_COLUMNS_LOCK = threading.Lock()


def format_text(text: str, source: str = "<string>") -> str:
    """The canonical form of ``text`` (which must already be a valid desired-state file)."""
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.indent(mapping=_INDENT, sequence=_INDENT * 2, offset=_INDENT)
    yaml.width = 4096  # never fold long descriptions
    try:
        document = yaml.load(text)
    except YAMLError as exc:  # validated before, so only a parser disagreement lands here
        raise ConfigErrors([ConfigError(f"cannot format: {exc}", file=source)]) from exc
    if isinstance(document, CommentedMap):
        with _COLUMNS_LOCK:
            try:
                _format_document(document)
            finally:
                _COLUMNS.clear()
    out = io.StringIO()
    yaml.dump(document, out)
    return out.getvalue()


def _keep_anchors(value: Any, seen: set[int]) -> None:
    """ruamel drops anchors nobody refers to (yet); a formatter must not delete them."""
    if id(value) in seen:
        return
    seen.add(id(value))
    anchor = getattr(value, "anchor", None)
    if anchor is not None and getattr(anchor, "value", None):
        anchor.always_dump = True
    if isinstance(value, CommentedMap):
        for item in value.values():
            _keep_anchors(item, seen)
    elif isinstance(value, CommentedSeq):
        for item in value:
            _keep_anchors(item, seen)


def _format_document(document: CommentedMap) -> None:
    _keep_anchors(document, set())
    _attach_comments_forward(document, column=0)
    _reorder(document, schema.TOP_KEYS)
    backend = document.get("backend")
    for parent, name, keys in (
        (document, "provider", schema.PROVIDER_KEYS),
        (document, "defaults", schema.DEFAULTS_KEYS),
        (document, "safety", schema.SAFETY_KEYS),
        (backend, "local", schema.LOCAL_KEYS),
        (backend, "postgres", schema.POSTGRES_KEYS),
    ):
        section = parent.get(name) if isinstance(parent, CommentedMap) else None
        if isinstance(section, CommentedMap):
            _reorder(section, keys)
    sets = document.get("group_sets")
    if isinstance(sets, CommentedMap):
        for name in sets:
            _format_groups(sets, name)
    instances = document.get("instances")
    if isinstance(instances, CommentedSeq):
        if not instances.fa.flow_style() and instances:
            _claim_leading_comment(document, "instances", instances)
        for index, instance in enumerate(instances):
            if isinstance(instance, CommentedMap):
                _reorder(instance, schema.INSTANCE_KEYS)
                _hoist_first_comment(instances, index, instance)
                _format_groups(instance, "groups")
                _format_access(instance)


# Each access list: its entries' key order and how an entry's key is read for sorting.
_ACCESS_ENTRY_KEYS = {
    "identities": schema.IDENTITY_KEYS,
    "permissions": schema.PERMISSION_KEYS,
    "blacklist": schema.BLACKLIST_KEYS,
}


def _access_sort_key(key_of: Callable[[Any], str | None], entry: Any) -> str:
    return key_of(entry) or ""


def _format_access(instance: CommentedMap) -> None:
    """The access block's keys in order, each list's entries' keys in order and the entries
    sorted by their key (as ``state list`` shows them)."""
    access = instance.get("access")
    if not isinstance(access, CommentedMap):
        return
    _reorder(access, schema.ACCESS_KEYS)
    ownership = access.get("ownership")
    if isinstance(ownership, CommentedMap):
        _reorder(ownership, schema.ACCESS_OWNERSHIP_KEYS)
    for name, key_of, _ in ACCESS_LISTS:
        entries = access.get(name)
        if not isinstance(entries, CommentedSeq) or not entries:
            continue
        if not entries.fa.flow_style():
            _claim_leading_comment(access, name, entries)
        for index, entry in enumerate(entries):
            if isinstance(entry, CommentedMap):
                _reorder(entry, _ACCESS_ENTRY_KEYS[name])
                _hoist_first_comment(entries, index, entry)
        _sort_seq(entries, partial(_access_sort_key, key_of))


def _format_groups(parent: CommentedMap, key: str) -> None:
    groups = parent.get(key)
    if not isinstance(groups, CommentedSeq) or not groups:
        return
    if not groups.fa.flow_style():
        _claim_leading_comment(parent, key, groups)
    for index, group in enumerate(groups):
        if isinstance(group, CommentedMap):
            if list(group.keys()) == ["id"] and not group.merge:
                _to_shorthand(groups, index, group)
            else:
                _reorder(group, schema.GROUP_KEYS)
                tags = group.get("tags")
                if isinstance(tags, CommentedMap):
                    _reorder(tags, tuple(sorted(str(key) for key in tags)))
                _hoist_first_comment(groups, index, group)
    _sort_seq(groups, _group_sort_key)


def _claim_leading_comment(parent: CommentedMap, key: str, seq: CommentedSeq) -> None:
    """The comment above a list's first item describes that item: make it move with it."""
    tokens = _slot_token_list(parent, key, _MAP_BEFORE_VALUE)
    if not tokens:
        return
    _set_slot(parent, key, _MAP_BEFORE_VALUE, None)
    if seq.ca.comment and len(seq.ca.comment) > 1:
        seq.ca.comment[1] = None
    lines = [line.strip() for token in tokens for line in token.value.splitlines()]
    column = _comment_column(seq)
    existing = _slot_token_list(seq, 0, _SEQ_BEFORE)
    comments = _comment_tokens([line for line in lines if line.startswith("#")], column)
    _set_slot(seq, 0, _SEQ_BEFORE, comments + existing)


def _group_sort_key(group: Any) -> str:
    if isinstance(group, CommentedMap):
        return str(group.get("id", ""))
    return str(group)


def _to_shorthand(groups: CommentedSeq, index: int, group: CommentedMap) -> None:
    slots = group.ca.items.get("id")
    groups[index] = group["id"]
    if slots:
        groups.ca.items[index] = [slots[_MAP_AFTER], slots[_MAP_BEFORE], None, None]


def _hoist_first_comment(seq: CommentedSeq, index: int, mapping: CommentedMap) -> None:
    """Comments before the first key of a list item go before its dash, not after it."""
    if not mapping or mapping.fa.flow_style():
        return
    first = next(iter(mapping.keys()))
    tokens = _slot_token_list(mapping, first, _MAP_BEFORE)
    if not tokens:
        return
    _set_slot(mapping, first, _MAP_BEFORE, None)
    column = max(_comment_column(mapping) - _INDENT, 0)
    lines = [token.value.strip() for token in tokens if token.value.strip()]
    existing = _slot_token_list(seq, index, _SEQ_BEFORE)
    _set_slot(seq, index, _SEQ_BEFORE, existing + _comment_tokens(lines, column))


def _slot_token_list(owner: CommentedBase, key: Any, slot: int) -> list[CommentToken]:
    slots = owner.ca.items.get(key)
    if not slots or len(slots) <= slot or not slots[slot]:
        return []
    return [token for token in slots[slot] if isinstance(token, CommentToken)]


# --- moving entries with their comments ------------------------------------------------------


def _sort_seq(seq: CommentedSeq, key: Callable[[Any], str]) -> None:
    order = sorted(range(len(seq)), key=lambda index: key(seq[index]))
    if order == list(range(len(seq))):
        return
    tail = _detach_tail(seq)
    items = [seq[index] for index in order]
    comments = [seq.ca.items.get(index) for index in order]
    for position, item in enumerate(items):
        seq[position] = item
    seq.ca.items.clear()
    for position, slots in enumerate(comments):
        if slots is not None:
            seq.ca.items[position] = slots
    _attach_tail(seq, tail)


def _reorder(mapping: CommentedMap, canonical: tuple[str, ...]) -> None:
    if mapping.merge:
        return  # merged keys are not the mapping's own; leave such a mapping as written
    keys = list(mapping.keys())
    rank = {key: index for index, key in enumerate(canonical)}
    wanted = sorted(keys, key=lambda key: rank.get(key, len(rank)))
    if wanted == keys:
        return
    tail = _detach_tail(mapping)
    for key in wanted:
        mapping.move_to_end(key)
    _attach_tail(mapping, tail)


def _last_slot(container: CommentedBase) -> tuple[CommentedBase, Any, int] | None:
    """Where the comment after a container's last line is attached: its deepest last entry."""
    if not isinstance(container, CommentedMap | CommentedSeq) or not container:
        return None
    key, slot = _entry_keys(container)[-1], _after_slot(container)
    value = container[key]
    if isinstance(value, CommentedMap | CommentedSeq) and value and not value.fa.flow_style():
        return _last_slot(value)
    return container, key, slot


def _entry_keys(container: CommentedMap | CommentedSeq) -> list[Any]:
    """A mapping's keys or a sequence's indexes: where ruamel files their comments."""
    return list(container.keys() if isinstance(container, CommentedMap) else range(len(container)))


def _after_slot(container: CommentedBase) -> int:
    return _SEQ_AFTER if isinstance(container, CommentedSeq) else _MAP_AFTER


def _slot_token(owner: CommentedBase, key: Any, slot: int) -> CommentToken | None:
    slots = owner.ca.items.get(key)
    if not slots or len(slots) <= slot:
        return None
    token = slots[slot]
    return token if isinstance(token, CommentToken) else None


def _set_slot(owner: CommentedBase, key: Any, slot: int, value: Any) -> None:
    slots = owner.ca.items.setdefault(key, [None, None, None, None])
    while len(slots) <= slot:
        slots.append(None)
    slots[slot] = value
    if not any(slots):
        # An entry of only Nones is not "no comment" to ruamel: it drops the line break.
        del owner.ca.items[key]


def _split(token: CommentToken) -> tuple[CommentToken | None, list[str]]:
    """A trailing token -> its end-of-line comment (if any) and the full-line comments after
    it, verbatim (indentation included)."""
    text: str = token.value
    lines = text.split("\n")
    eol: CommentToken | None = None
    if not text.startswith("\n") and lines[0].strip():
        eol = CommentToken(lines[0] + "\n", token.start_mark, None)
        lines = lines[1:]
    else:
        lines = lines[1:] if text.startswith("\n") else lines
    return eol, [line for line in lines if line.strip().startswith("#")]


def _comment_tokens(lines: list[str], column: int) -> list[CommentToken]:
    return [CommentToken(line + "\n", CommentMark(column), None) for line in lines]


def _detach_tail(container: CommentedBase) -> list[str]:
    """Take away the full-line comments after a container's last entry (they stay at its end)."""
    where = _last_slot(container)
    if where is None:
        return []
    owner, key, slot = where
    token = _slot_token(owner, key, slot)
    if token is None:
        return []
    eol, following = _split(token)
    _set_slot(owner, key, slot, eol)
    return following  # kept verbatim: these comments stay where they were, at the end


def _attach_tail(container: CommentedBase, lines: list[str]) -> None:
    if not lines:
        return
    where = _last_slot(container)
    if where is None:
        return
    owner, key, slot = where
    token = _slot_token(owner, key, slot)
    text = "".join(line + "\n" for line in lines)
    if token is None:
        _set_slot(owner, key, slot, CommentToken("\n" + text, CommentMark(0), None))
    else:
        _set_slot(owner, key, slot, CommentToken(token.value + text, token.start_mark, None))


def _comment_column(owner: CommentedBase) -> int:
    return _COLUMNS.get(id(owner), 0)


def _attach_comments_forward(container: CommentedBase, column: int) -> None:
    """Move each full-line comment from the entry before it to the entry after it."""
    if not isinstance(container, CommentedMap | CommentedSeq):
        return
    _COLUMNS[id(container)] = column
    keys = _entry_keys(container)
    for key, next_key in pairwise(keys):
        _forward(container, key, next_key=next_key, column=column)
    # Entries nested in a mapping or under a list dash are indented by two more columns.
    for key in keys:
        value = container[key]
        if isinstance(value, CommentedMap | CommentedSeq) and not value.fa.flow_style():
            _attach_comments_forward(value, column + _INDENT)


def _forward(
    container: CommentedMap | CommentedSeq, key: Any, *, next_key: Any, column: int
) -> None:
    value = container[key]
    if isinstance(value, CommentedMap | CommentedSeq) and value and not value.fa.flow_style():
        where = _last_slot(value)
    else:
        where = (container, key, _after_slot(container))
    if where is None:
        return
    owner, owner_key, slot = where
    token = _slot_token(owner, owner_key, slot)
    if token is None:
        return
    eol, following = _split(token)
    if not following:
        return
    _set_slot(owner, owner_key, slot, eol)
    before_slot = _SEQ_BEFORE if isinstance(container, CommentedSeq) else _MAP_BEFORE
    tokens = _comment_tokens([line.strip() for line in following], column)
    before = _slot_token_list(container, next_key, before_slot)
    _set_slot(container, next_key, before_slot, tokens + before)
