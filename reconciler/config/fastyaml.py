"""The happy path: parse with libyaml (PyYAML's ``CSafeLoader``), fast and without positions.

A typical file (plain mappings, lists and scalars: no tags, anchors, aliases or merge keys) is
built straight from libyaml's event stream. PyYAML would first compose a node for every value
(each with two position marks) and only then construct: for 100,000 GIDs that node tree
peaks at about 200 MB and, freed, leaves the heap fragmented, while the values themselves take
40 MB. Anything outside that common subset, and any problem at all, falls back to PyYAML's own
composer and constructors below, so the two paths cannot disagree on what a file means.

Two gaps of the C loader are closed on that fallback path, cheaply:

* it silently keeps the last of duplicate keys; ``construct_mapping`` below is a drop-in for
  PyYAML's that notices them (it is no slower: one dict lookup per key replaces PyYAML's
  ``isinstance(key, Hashable)`` check);
* its composer recurses in C and crashes the process on very deep nesting (``[[[[...`` or
  ``- - - -...`` tens of thousands deep), so ``too_deep`` refuses such text before it is
  handed over; the located error then comes from ``locate``'s composer, which stops at
  MAX_DEPTH.

Nothing here turns a failure into words for a person. A syntax error (SYNTAX_ERRORS) carries
libyaml's message and exact marks, and the loader reports just that. Any other failure is only
a signal: the loader reads the text again with libyaml's events (``locate``) to locate every
problem. A syntax error or duplicate key met by the event path is raised as is: PyYAML's
composer would only read the text again to meet it again.
"""

from __future__ import annotations

import string
from array import array
from collections.abc import Callable
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.events import (
    CollectionEndEvent,
    CollectionStartEvent,
    DocumentEndEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
    StreamStartEvent,
)
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.parser import ParserError
from yaml.reader import ReaderError
from yaml.scanner import ScannerError

MERGE_TAG = "tag:yaml.org,2002:merge"
VALUE_TAG = "tag:yaml.org,2002:value"
# The implicit scalar tags the event path constructs itself (with PyYAML's constructors).
_PLAIN_SCALAR_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("null", "bool", "int", "float", "timestamp")
)
# A valid file nests about 7 levels deep; anything near this is a mistake or an attack.
MAX_DEPTH = 50
# Below this bound on the depth, libyaml's recursive composer is safe (it crashes near 30,000).
_SAFE_DEPTH_BOUND = 1000
# What libyaml's reader, scanner and parser raise: the text is not YAML at all.
SYNTAX_ERRORS = (ReaderError, ScannerError, ParserError)


class DuplicateKeyFound(Exception):
    """A mapping holds the same key twice (``locate`` says where)."""


class _FastLoader(yaml.CSafeLoader):
    def construct_mapping(self, node: Node, deep: bool = False) -> dict[Any, Any]:
        if not isinstance(node, MappingNode):
            raise ConstructorError(None, None, "expected a mapping node", node.start_mark)
        mapping: dict[Any, Any] = {}
        merge: Node | None = None
        construct = self.construct_object
        for key_node, value_node in node.value:
            tag = key_node.tag
            if tag == MERGE_TAG:
                if merge is not None:
                    raise DuplicateKeyFound("<<")
                merge = value_node
                continue
            key = key_node.value if tag == VALUE_TAG else construct(key_node, deep=deep)
            try:
                seen = key in mapping
            except TypeError as exc:
                raise ConstructorError(
                    None, None, "found an unhashable key", key_node.start_mark
                ) from exc
            if seen:
                raise DuplicateKeyFound(str(key))
            mapping[key] = construct(value_node, deep=deep)
        if merge is None:
            return mapping
        merged = self._merged(merge)
        merged.update(mapping)  # the mapping's own keys override merged ones, as in PyYAML
        return merged

    def _merged(self, node: Node) -> dict[Any, Any]:
        sources = node.value if isinstance(node, SequenceNode) else [node]
        merged: dict[Any, Any] = {}
        # In a list of merged mappings the first one wins, so apply them last to first.
        for source in reversed(sources):
            if not isinstance(source, MappingNode):
                raise ConstructorError(
                    None, None, "'<<' needs a mapping or a list of mappings", source.start_mark
                )
            merged.update(self.construct_object(source, deep=True))
        return merged


class _Unusual(Exception):
    """The event path met something it leaves to PyYAML's composer (or a problem)."""


class PlainScalars:
    """Plain scalars typed as the safe loader types them: its implicit resolvers (picked by
    the first character) and constructors. A file repeats its plain strings ("topic",
    "orders" 100,000 times): each is matched against the resolvers and kept once. Quoted
    scalars are strings whatever they say, and are not asked here."""

    # What ``value`` gives for a scalar some other resolver claims ("<<", "="): left to
    # PyYAML's composer and constructors.
    UNUSUAL: Any = object()

    def __init__(self) -> None:
        loader = _FastLoader("")
        # The resolvers must depend on nothing but the scalar's first character.
        if None in loader.yaml_implicit_resolvers or loader.yaml_path_resolvers:
            raise _Unusual
        self._loader = loader
        self._resolvers = loader.yaml_implicit_resolvers
        self._strings: dict[str, str] = {}
        # The first characters no resolver claims: a plain scalar starting with one is a
        # string whatever follows.
        self.unclaimed_starts = frozenset(
            start for start in string.ascii_letters + "_" if not self._resolvers.get(start)
        )

    def shared(self, text: str) -> str:
        """A quoted scalar's text: the plain one's string when there is one."""
        return self._strings.get(text, text)

    def value(self, text: str) -> Any:
        """The value of the plain scalar ``text`` (a constructor's error, such as a date
        that is none, passes through)."""
        known = self._strings.get(text)
        if known is not None:
            return known
        candidates = self._resolvers.get(text[:1])
        if not candidates:
            return text  # a string, and likely unique (a GID): not kept
        for tag, regexp in candidates:
            if regexp.match(text):
                if tag not in _PLAIN_SCALAR_TAGS:
                    return self.UNUSUAL
                node = ScalarNode(tag, text)
                return self._loader.yaml_constructors[tag](self._loader, node)
        self._strings[text] = text
        return text


# id() of each list built -> the 0-based line of each of its items, in order.
ItemLines = dict[int, "array[int]"]


def load_fast(text: str, lines: ItemLines | None = None) -> Any:
    """Parse ``text``; raises yaml.YAMLError, DuplicateKeyFound or RecursionError on problems.

    ``lines``, when given, receives the line of every list item the event path built (keyed
    by the list's id(), valid while the data lives): where each GID is declared comes free
    with the parse. The fallback path (anchors, tags...) leaves it empty.
    """
    # The plain block layout nearly every file keeps to is read from its lines, without
    # libyaml's events; anything else from the events, and the rest by PyYAML's composer.
    from reconciler.config.lines import parse_lines  # noqa: PLC0415  (it builds on this module)

    value = parse_lines(text, lines)
    if value is not None:
        return value
    try:
        return _load_from_events(text, lines)
    except _Unusual:
        if lines is not None:
            lines.clear()
    if too_deep(text):
        raise RecursionError("nesting too deep")
    loader = _FastLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def _load_from_events(text: str, lines: ItemLines | None = None) -> Any:
    """What ``_FastLoader.get_single_data`` returns, built from the events in one pass.

    Raises _Unusual for anything outside plain mappings, sequences and implicitly typed
    scalars, nesting deeper than MAX_DEPTH, and errors the fallback would word otherwise;
    syntax errors (SYNTAX_ERRORS) and DuplicateKeyFound pass through.
    """
    loader = _FastLoader(text)
    try:
        return _build(loader, lines)
    except (_Unusual, DuplicateKeyFound, *SYNTAX_ERRORS):
        # A syntax error or duplicate key met here is what PyYAML's composer would meet too
        # (every event before it was plain: no alias, anchor or tag): no need to read the
        # text a second time to hear it again.
        raise
    except Exception as exc:  # a bad timestamp...
        raise _Unusual from exc
    finally:
        loader.dispose()


def _build(loader: _FastLoader, lines: ItemLines | None = None) -> Any:
    get_event: Callable[[], Any] = loader.get_event
    scalars = PlainScalars()
    unusual = scalars.UNUSUAL
    if type(get_event()) is not StreamStartEvent:
        raise _Unusual
    event = get_event()
    if type(event) is StreamEndEvent:
        return None
    if type(event) is not DocumentStartEvent:
        raise _Unusual
    no_key = _NO_KEY
    # Open collections, and for each the key waiting for its value (no_key in lists and
    # between a mapping's entries).
    stack: list[Any] = []
    keys: list[Any] = []
    # With ``lines``: the start line of each open collection, and the item lines of each open
    # list (None for a mapping).
    collect = lines is not None
    opened: list[int] = []
    rows: list[array[int] | None] = []
    line = 0
    while True:
        event = get_event()
        kind = type(event)
        if kind is ScalarEvent:
            if event.tag is not None or event.anchor is not None:
                raise _Unusual
            if collect:
                line = event.start_mark.line
            if event.implicit[0]:
                value = scalars.value(event.value)
                if value is unusual:
                    raise _Unusual  # "<<", "=", ...
            else:
                value = scalars.shared(event.value)
        elif kind is MappingStartEvent or kind is SequenceStartEvent:
            if event.tag is not None or event.anchor is not None:
                raise _Unusual
            if stack and keys[-1] is no_key and type(stack[-1]) is dict:
                raise _Unusual  # a collection as a mapping key
            if len(stack) >= MAX_DEPTH:
                raise _Unusual
            stack.append({} if kind is MappingStartEvent else [])
            keys.append(no_key)
            if collect:
                opened.append(event.start_mark.line)
                rows.append(array("i") if kind is SequenceStartEvent else None)
            continue
        elif kind is MappingEndEvent or kind is SequenceEndEvent:
            value = stack.pop()
            keys.pop()
            if collect:
                line = opened.pop()
                row = rows.pop()
                if row is not None:
                    lines[id(value)] = row  # type: ignore[index]
        else:
            raise _Unusual  # an alias
        if not stack:
            break
        parent = stack[-1]
        if type(parent) is list:
            parent.append(value)
            if collect:
                rows[-1].append(line)  # type: ignore[union-attr]
        elif keys[-1] is no_key:
            if value in parent:
                raise DuplicateKeyFound(str(value))
            keys[-1] = value
        else:
            parent[keys[-1]] = value
            keys[-1] = no_key
    if type(get_event()) is not DocumentEndEvent or type(get_event()) is not StreamEndEvent:
        raise _Unusual  # several documents
    return value


_NO_KEY = object()


def too_deep(text: str) -> bool:
    """True when ``text`` may nest deeper than MAX_DEPTH (or cannot even be scanned)."""
    # Block nesting needs indentation or "- "/"? " indicators on one line; flow nesting needs
    # brackets. So this bound is cheap and safe; only text above it is scanned event by event.
    longest = max(map(len, text.splitlines()), default=0)
    if 2 * longest + text.count("[") + text.count("{") <= _SAFE_DEPTH_BOUND:
        return False
    depth = 0
    try:
        for event in yaml.parse(text, Loader=yaml.CSafeLoader):
            if isinstance(event, CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    return True
            elif isinstance(event, CollectionEndEvent):
                depth -= 1
    except yaml.YAMLError:
        return True
    return False
