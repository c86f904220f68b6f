"""The precise path: re-read the text with libyaml's parser to say where problems are.

Only used once something is wrong (or a warning must be located). libyaml's C parser streams
events that carry line and column; this module composes them into a node tree in Python,
noting on the way what only the text can show (where each alias ``*name`` is used, anchors
defined twice, nesting too deep) and then answers "where is ``instances[2].groups[5].id``?"
by walking the nodes. Two ways to compose:

* ``compose(text)`` builds the whole tree, for ``Builder`` to rebuild the plain data the fast
  path could not (duplicate keys, bad tags...), noting every problem it meets;
* ``compose(text, wanted=...)`` keeps only the nodes on the paths asked about (and anchored
  values, which a later alias may lead into): when the fast path parsed the file and only its
  checks found problems, locating them costs little more than libyaml scanning the text.

Scalars are resolved and constructed by PyYAML's own resolver and constructors, the ones the
fast path uses, so both paths agree on ``yes``, ``010`` and dates. Text libyaml cannot read is
a ``SyntaxProblem`` in libyaml's own words, at the position libyaml gives.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.error import MarkedYAMLError, YAMLError
from yaml.events import (
    AliasEvent,
    CollectionStartEvent,
    MappingEndEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.reader import ReaderError

from reconciler.config.fastyaml import MAX_DEPTH, MERGE_TAG, VALUE_TAG
from reconciler.config.issues import Loc, format_loc

_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_STR_TAG = "tag:yaml.org,2002:str"
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True, slots=True)
class Position:
    line: int  # 1-based
    column: int  # 1-based

    def describe(self) -> str:
        return f"line {self.line}, column {self.column}"


@dataclass(frozen=True, slots=True)
class Located:
    """A problem the text itself shows, already located."""

    position: Position | None
    message: str
    path: str | None = None


class SyntaxProblem(Exception):
    """The text is not YAML at all; carries one located problem."""

    def __init__(self, problem: Located) -> None:
        self.problem = problem
        super().__init__(problem.message)


def mark_position(mark: Any) -> Position | None:
    """A parser's 0-based mark as a 1-based position."""
    if mark is None:
        return None
    return Position(mark.line + 1, mark.column + 1)


# The trees Builder and Locator walk hold PyYAML's nodes, composed here from libyaml's events;
# they are only read through tag, value, start_mark, style and the kind named in ``id``.
TreeNode = Any
_SCALAR, _SEQUENCE, _MAPPING = ScalarNode.id, SequenceNode.id, MappingNode.id

# --- composing nodes from libyaml's events ----------------------------------------------------

# What to keep of a node: everything (ALL), only the children on wanted paths (a dict from key
# or index to what to keep of that child), or nothing (None).
_ALL: dict[Any, Any] = {}  # identity matters: `interest is _ALL`
Wanted = dict[Any, Any]


def wanted_paths(locs: Iterable[Loc]) -> Wanted:
    """The tree of paths ``compose`` must keep so that ``Locator`` can find each of ``locs``."""
    root: Wanted = {}
    for loc in locs:
        node = root
        for part in loc:
            node = node.setdefault(part, {})
    return root


@dataclass(frozen=True, slots=True)
class Composed:
    root: TreeNode | None
    problems: list[Located]
    alias_sites: frozenset[int]  # ids of the nodes standing for an alias (`*name`)
    # An alias used inside the value it names: only the full build reports it well.
    recursive_alias: bool = False


def compose(text: str, wanted: Wanted | None = None) -> Composed:
    """The node tree of ``text`` (pruned to ``wanted`` paths if given).

    Raises SyntaxProblem, in libyaml's words and at its position, for text that is not YAML,
    and for what the composer refuses (an undefined alias, several documents, nesting too deep).
    """
    try:
        loader = yaml.CSafeLoader(text)
    except UnicodeError as exc:  # lone surrogates cannot even be encoded for libyaml
        raise SyntaxProblem(surrogate_problem(text)) from exc
    try:
        composer = _Composer(text, loader.get_event, loader.resolve, wanted)
        root = composer.single_document()
    except YAMLError as exc:
        raise SyntaxProblem(syntax_problem(text, exc)) from exc
    finally:
        loader.dispose()
    return Composed(
        root, composer.problems, frozenset(composer.alias_sites), composer.recursive_alias
    )


class _Composer:
    """PyYAML's composer over libyaml's events, with positions for aliases and pruning.

    A node is built only when wanted: the fast path already has the data, so an unwanted
    subtree is consumed event by event without resolving a single tag. Anchored values are
    always built whole, since an alias used later may lead anywhere into them.
    """

    def __init__(
        self,
        text: str,
        get_event: Callable[[], Any],  # libyaml's events (loosely typed stubs)
        resolve: Callable[[type[Node], str, tuple[bool, bool]], str],
        wanted: Wanted | None,
    ) -> None:
        self._text = text
        self._get = get_event
        self._resolve = resolve
        self._wanted = _ALL if wanted is None else wanted
        self._anchors: dict[str, Node] = {}
        self._open: set[str] = set()  # anchors whose value is being composed
        self._pending: Any = None
        self.problems: list[Located] = []
        self.alias_sites: set[int] = set()
        self.recursive_alias = False

    def _next(self) -> Any:
        event = self._pending
        if event is not None:
            self._pending = None
            return event
        return self._get()

    def _peek(self) -> Any:
        if self._pending is None:
            self._pending = self._get()
        return self._pending

    def single_document(self) -> Node | None:
        self._next()  # STREAM-START
        document: Node | None = None
        if not isinstance(self._peek(), StreamEndEvent):
            self._next()  # DOCUMENT-START
            document = self._node(self._next(), self._wanted, 0)
            self._next()  # DOCUMENT-END
            self._anchors = {}
        if not isinstance(self._peek(), StreamEndEvent):
            event = self._next()
            raise ComposerError(
                "expected a single document in the stream",
                document.start_mark if document is not None else None,
                "but found another document",
                event.start_mark,
            )
        self._next()  # STREAM-END
        return document

    def _node(self, event: Any, interest: Wanted | None, depth: int) -> Node | None:
        if isinstance(event, AliasEvent):
            return self._alias(event, interest)
        depth += 1
        if depth > MAX_DEPTH:
            raise SyntaxProblem(
                Located(
                    mark_position(event.start_mark), f"nesting is deeper than {MAX_DEPTH} levels"
                )
            )
        anchor: str | None = event.anchor
        if anchor is not None:
            first = self._anchors.get(anchor)
            if first is not None:
                where = mark_position(first.start_mark)
                self.problems.append(
                    Located(
                        mark_position(event.start_mark),
                        f"anchor &{anchor} is defined twice (first at {where.describe()})"
                        if where
                        else f"anchor &{anchor} is defined twice",
                    )
                )
            interest = _ALL
        if isinstance(event, ScalarEvent):
            if interest is None:
                return None
            node: Node = self._scalar(event)
            if anchor is not None:
                self._anchors[anchor] = node
            return node
        if interest is None:
            self._skip(depth)
            return None
        sequence = isinstance(event, SequenceStartEvent)
        tag = event.tag
        if tag is None or tag == "!":
            tag = _SEQ_TAG if sequence else _MAP_TAG
        children: list[Any] = []  # items, or (key, value) pairs
        kind = SequenceNode if sequence else MappingNode
        node = kind(tag, children, event.start_mark, None, event.flow_style)
        if anchor is not None:
            self._anchors[anchor] = node
            self._open.add(anchor)
        if sequence:
            self._sequence(children, interest, depth)
        else:
            self._mapping(children, interest, depth, flow=bool(node.flow_style))
        node.end_mark = self._next().end_mark
        if anchor is not None:
            self._open.discard(anchor)
        return node

    def _alias(self, event: Any, interest: Wanted | None) -> Node | None:
        name = event.anchor
        target = self._anchors.get(name) if name is not None else None
        if target is None:
            raise ComposerError(None, None, f"found undefined alias {name!r}", event.start_mark)
        if name in self._open:
            self.recursive_alias = True
        if interest is None:
            return None
        # A copy sharing the target's children, positioned at the alias: errors about the
        # aliased value as a whole point where it is used, deeper ones into the anchor.
        site = copy.copy(target)
        site.start_mark, site.end_mark = event.start_mark, event.end_mark
        self.alias_sites.add(id(site))
        return site

    def _scalar(self, event: Any) -> ScalarNode:
        tag = event.tag
        if tag is None or tag == "!":
            tag = self._resolve(ScalarNode, event.value, event.implicit)
        return ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)

    def _sequence(self, items: list[Node | None], interest: Wanted, depth: int) -> None:
        index = 0
        while not isinstance(self._peek(), SequenceEndEvent):
            child = interest if interest is _ALL else interest.get(index)
            items.append(self._node(self._next(), child, depth))
            index += 1

    def _mapping(
        self, pairs: list[tuple[Node, Node]], interest: Wanted, depth: int, *, flow: bool
    ) -> None:
        everything = interest is _ALL
        while not isinstance(self._peek(), MappingEndEvent):
            event = self._next()
            # Only a plain key can be on a wanted path (the locator skips the others).
            plain = everything or isinstance(event, ScalarEvent | AliasEvent)
            key = self._node(event, _ALL if plain else None, depth)
            child = _ALL if everything else _value_interest(interest, key)
            event = self._next()
            value = self._node(event, child, depth)
            if key is None or value is None:
                continue
            pairs.append((key, value))

    def _skip(self, depth: int) -> None:
        """Consume the rest of an unwanted collection, composing only anchored values."""
        level = 1  # the nesting below the collection at ``depth``
        while level:
            event = self._peek()
            if isinstance(event, MappingEndEvent | SequenceEndEvent):
                level -= 1
                self._next()
                continue
            # An alias's anchor is the name it uses: _node checks it is defined; an anchored
            # value is composed whole; a node too deep makes _node raise.
            if event.anchor is not None or depth + level > MAX_DEPTH:
                self._node(self._next(), None, depth + level - 1)
                continue
            if isinstance(event, CollectionStartEvent):
                level += 1
            self._next()


def _value_interest(interest: Wanted, key: Node | None) -> Wanted | None:
    if not isinstance(key, ScalarNode):
        return None
    if key.tag == MERGE_TAG:
        return _ALL  # the locator searches merged mappings for the wanted keys
    try:
        return interest.get(key_value(key))
    except TypeError:  # an unhashable key is no part of a path
        return None


_KEYS = yaml.constructor.SafeConstructor()


def key_value(node: TreeNode) -> Any:
    """A mapping key's value as the fast path constructs it (its text if it cannot)."""
    tag = _STR_TAG if node.tag in (VALUE_TAG, None) else str(node.tag)
    if tag == _STR_TAG:
        return node.value
    constructor = _KEYS.yaml_constructors.get(tag)
    if constructor is None:
        return node.value
    try:
        return constructor(_KEYS, ScalarNode(tag, node.value, style=node.style))
    except Exception:  # an unreadable key matches nothing; the builder reports it
        return node.value


# --- syntax errors ----------------------------------------------------------------------------


def syntax_problem(text: str, exc: YAMLError) -> Located:
    """libyaml's own wording of a syntax error (its marks are exact)."""
    if isinstance(exc, ReaderError):
        return _reader_problem(text, exc)
    if not isinstance(exc, MarkedYAMLError):
        return Located(None, f"YAML syntax error: {exc}")
    mark = exc.problem_mark or exc.context_mark
    position = mark_position(mark)
    problem = str(exc.problem or exc.context or "invalid YAML")
    if position is not None and tab_indented(text, position.line):
        return Located(position, "tab character in indentation: YAML indents with spaces only")
    message = f"YAML syntax error: {problem}"
    if exc.context and exc.problem and exc.context_mark is not None:
        context = mark_position(exc.context_mark)
        if context is not None and context != position:
            message += f" ({exc.context} at {context.describe()})"
    return Located(position, message)


def _reader_problem(text: str, exc: ReaderError) -> Located:
    """libyaml's wording of a character YAML does not allow (its position counts bytes)."""
    index = len(text.encode("utf-8", "surrogatepass")[: exc.position].decode("utf-8", "ignore"))
    return _character_problem(text, index, exc.character, str(exc.reason))


def surrogate_problem(text: str) -> Located:
    """A lone surrogate (only text not read from a file holds one): libyaml cannot be given it."""
    found = _SURROGATE.search(text)
    if found is None:
        return Located(None, "YAML syntax error: the text cannot be encoded as UTF-8")
    reason = "a lone surrogate is not a character"
    return _character_problem(text, found.start(), found.group(), reason)


def _character_problem(text: str, index: int, character: object, reason: str) -> Located:
    """A character YAML does not allow, at ``index`` of ``text``."""
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    code = character if isinstance(character, int) else ord(str(character)[:1] or "\0")
    return Located(
        Position(line, column), f"character U+{code:04X} is not allowed in YAML ({reason})"
    )


def tab_indented(text: str, line_number: int) -> bool:
    lines = text.splitlines()
    if not 0 < line_number <= len(lines):
        return False
    line = lines[line_number - 1]
    indent = line[: len(line) - len(line.lstrip(" \t"))]
    return "\t" in indent


# --- plain data from nodes --------------------------------------------------------------------


class Builder:
    """Builds plain data from a node tree exactly as the fast path would, noting problems."""

    def __init__(self) -> None:
        self.problems: list[Located] = []
        self._scalars = yaml.constructor.SafeConstructor()
        # Keyed by the children list, which alias copies share with their target.
        self._built: dict[int, Any] = {}
        self._building: set[int] = set()

    def build(self, node: TreeNode | None, loc: Loc = ()) -> Any:
        if node is None:
            return None
        if node.id == _SCALAR:
            return self.scalar(node, loc)
        key = id(node.value)
        if key in self._built:
            return self._built[key]
        if key in self._building:
            self._problem(node, "an alias refers to the collection that contains it", loc)
            return None
        self._building.add(key)
        try:
            if node.tag not in (_MAP_TAG, _SEQ_TAG):
                self._problem(node, f"unsupported tag {node.tag!r}", loc)
            if node.id == _MAPPING:
                value: Any = self._mapping(node, loc)
            else:
                value = [self.build(item, (*loc, i)) for i, item in enumerate(node.value)]
        finally:
            self._building.discard(key)
        self._built[key] = value
        return value

    def scalar(self, node: TreeNode, loc: Loc) -> Any:
        tag = node.tag or _STR_TAG
        if tag == _STR_TAG:
            return node.value  # what PyYAML's construct_yaml_str does, minus two calls
        if tag in (MERGE_TAG, VALUE_TAG):
            tag = _STR_TAG
        constructor = self._scalars.yaml_constructors.get(tag)
        if constructor is None or tag in (_MAP_TAG, _SEQ_TAG):
            self._problem(node, f"unsupported tag {node.tag!r}", loc)
            return node.value
        try:
            return constructor(self._scalars, ScalarNode(tag, node.value, style=node.style))
        except Exception as exc:  # PyYAML raises ValueError & co. for e.g. `!!int abc`
            self._problem(
                node, f"cannot read {node.value!r} as {tag.rsplit(':', 1)[-1]}: {exc}", loc
            )
            return node.value

    def _mapping(self, node: TreeNode, loc: Loc) -> dict[Any, Any]:
        own: dict[Any, Any] = {}
        first_keys: dict[Any, TreeNode] = {}
        merged: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == MERGE_TAG:
                merged = self._merge(value_node, loc)
                continue
            if key_node.id != _SCALAR:
                self._problem(key_node, "a key must be a plain value, not a list or mapping", loc)
                continue
            key = self.scalar(key_node, loc)
            try:
                first = first_keys.get(key)
            except TypeError:
                self._problem(key_node, "a key must be a plain value", loc)
                continue
            if first is not None:
                where = mark_position(first.start_mark)
                self.problems.append(
                    Located(
                        mark_position(key_node.start_mark),
                        f"duplicate key {key!r}"
                        + (f" (first at {where.describe()})" if where else ""),
                        format_loc((*loc, key)) if isinstance(key, str | int) else None,
                    )
                )
            else:
                first_keys[key] = key_node
            own[key] = self.build(value_node, (*loc, key) if isinstance(key, str | int) else loc)
        # The mapping's own keys override merged ones, as in PyYAML.
        return {**merged, **own} if merged else own

    def _merge(self, node: TreeNode, loc: Loc) -> dict[Any, Any]:
        sources = node.value if node.id == _SEQUENCE else [node]
        merged: dict[Any, Any] = {}
        for source in reversed(sources):
            value = self.build(source, loc)
            if source.id == _MAPPING and isinstance(value, dict):
                merged.update(value)
            else:
                self._problem(source, "'<<' (merge) needs a mapping or a list of mappings", loc)
        return merged

    def _problem(self, node: TreeNode, message: str, loc: Loc) -> None:
        self.problems.append(
            Located(mark_position(node.start_mark), message, format_loc(loc) or None)
        )


# --- paths to positions -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rebuilt:
    """The plain data rebuilt from the text, the problems met doing it, and its locator."""

    data: Any
    problems: list[Located]
    locator: Locator


def rebuild(text: str) -> Rebuilt:
    """Compose the whole of ``text`` and build its data; raises SyntaxProblem."""
    composed = compose(text)
    builder = Builder()
    data = builder.build(composed.root)
    return Rebuilt(data, composed.problems + builder.problems, Locator(composed))


class Locator:
    """Answers where a data path is in the text, walking the node tree.

    A path that passes through an alias is located at the alias (``*name``): that is where
    the value takes the meaning the problem is about; the anchor is only its template. A tree
    composed with ``wanted`` answers the paths it was composed for.
    """

    def __init__(self, composed: Composed | None) -> None:
        self._root = composed.root if composed else None
        self._aliases = composed.alias_sites if composed else frozenset()

    def find(self, loc: Loc, *, at_key: bool = False) -> Position | None:
        node = self._root
        if node is None:
            return Position(1, 1)  # an empty document: the problem is the whole file
        alias: TreeNode | None = None
        for index, part in enumerate(loc):
            if alias is None and id(node) in self._aliases:
                alias = node
            last = index == len(loc) - 1
            if node.id == _MAPPING:
                pair = self._entry(node, part, depth=0)
                if pair is None:
                    break
                if last and at_key:
                    return mark_position(pair[0].start_mark)
                node = pair[1]
            elif node.id == _SEQUENCE and isinstance(part, int):
                if not 0 <= part < len(node.value) or node.value[part] is None:
                    break
                node = node.value[part]
            else:
                break
        if alias is None and id(node) in self._aliases:
            alias = node
        return mark_position((alias or node).start_mark)

    def _entry(
        self, node: TreeNode, part: str | int, depth: int
    ) -> tuple[TreeNode, TreeNode] | None:
        found = None
        merged: list[TreeNode] = []  # the mappings merged in with `<<`, searched after its own
        for key_node, value_node in node.value:
            if key_node.tag == MERGE_TAG:
                merged += value_node.value if value_node.id == _SEQUENCE else [value_node]
            elif key_node.id == _SCALAR and key_value(key_node) == part:
                found = (key_node, value_node)  # the last duplicate is the one kept
        if found is not None or depth > MAX_DEPTH:
            return found
        for source in merged:
            if source.id == _MAPPING and (found := self._entry(source, part, depth + 1)):
                return found
        return None
