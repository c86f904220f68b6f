"""The fallback for text libyaml cannot read: ruamel.yaml's round-trip composer.

``locate`` reads everything libyaml's parser accepts. When that parser refuses the text (a
syntax error, a character YAML forbids), this module says what is wrong in ruamel.yaml's words,
which name the token found where another was expected ("expected <block end>, but found
'<block sequence start>'") where libyaml only says what it missed. It is several times slower
than libyaml, so it only ever reads text that is not valid YAML, and of a large text only an
excerpt around the error libyaml met (``explain_near``). Same interface as ``locate``:
``compose``, ``Builder`` and ``Locator``; the node classes are ruamel's.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.composer import Composer
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import AliasEvent
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.reader import ReaderError

from reconciler.config import excerpt, locate
from reconciler.config.fastyaml import MAX_DEPTH, MERGE_TAG, VALUE_TAG
from reconciler.config.issues import Loc, format_loc
from reconciler.config.locate import Located, Position, Rebuilt, SyntaxProblem

_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_STR_TAG = "tag:yaml.org,2002:str"


def _position(mark: Any) -> Position | None:
    if mark is None:
        return None
    return Position(mark.line + 1, mark.column + 1)


class _PositionComposer(Composer):
    """Notes where each alias is used and refuses reused anchor names."""

    problems: list[Located]
    alias_sites: set[int]

    def compose_node(self, parent: Any, index: Any) -> Any:
        if not hasattr(self, "problems"):
            self.problems = []
            self.alias_sites = set()
        event = self.parser.peek_event()
        if isinstance(event, AliasEvent):
            node = super().compose_node(parent, index)
            # A copy sharing the target's children, positioned at the alias: errors about the
            # aliased value as a whole point where it is used, deeper ones into the anchor.
            copy: Node
            if isinstance(node, ScalarNode):
                copy = ScalarNode(
                    node.tag, node.value, event.start_mark, event.end_mark, node.style
                )
            else:
                copy = type(node)(node.tag, node.value, event.start_mark, event.end_mark)
            self.alias_sites.add(id(copy))
            return copy
        anchor = getattr(event, "anchor", None)
        if anchor is not None and anchor in self.anchors:
            first = _position(self.anchors[anchor].start_mark)
            where = f" (first at {first.describe()})" if first else ""
            self.problems.append(
                Located(_position(event.start_mark), f"anchor &{anchor} is defined twice{where}")
            )
        return super().compose_node(parent, index)


@dataclass(frozen=True, slots=True)
class Composed:
    root: Node | None
    problems: list[Located]
    alias_sites: frozenset[int]  # ids of the nodes standing for an alias (`*name`)


def _parser() -> YAML:
    parser = YAML(typ="rt")
    parser.version = (1, 1)  # the rules PyYAML's fast path uses
    parser.max_depth = MAX_DEPTH
    parser.Composer = _PositionComposer
    return parser


def compose(text: str) -> Composed:
    """The node tree of ``text`` and problems found while composing; raises SyntaxProblem."""
    parser = _parser()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            root = parser.compose(text)
    except MarkedYAMLError as exc:
        raise SyntaxProblem(_syntax_problem(text, exc)) from exc
    except ReaderError as exc:
        raise SyntaxProblem(_reader_problem(text, exc)) from exc
    except (YAMLError, RecursionError) as exc:
        raise SyntaxProblem(Located(None, f"YAML syntax error: {exc}")) from exc
    composer = parser.composer
    return Composed(
        root,
        list(getattr(composer, "problems", [])),
        frozenset(getattr(composer, "alias_sites", ())),
    )


def _syntax_problem(
    text: str, exc: MarkedYAMLError, where: Callable[[Any], Position | None] = _position
) -> Located:
    """The error in words, its marks in ``text`` placed by ``where`` (see ``explain_near``)."""
    mark = exc.problem_mark or exc.context_mark
    position = where(mark)
    problem = str(exc.problem or exc.context or "invalid YAML")
    if "maximum depth" in problem:
        return Located(position, f"nesting is deeper than {MAX_DEPTH} levels")
    if mark is not None and _tab_indented(text, mark.line + 1):
        return Located(position, "tab character in indentation: YAML indents with spaces only")
    message = f"YAML syntax error: {problem}"
    if exc.context and exc.problem and exc.context_mark is not None:
        context = where(exc.context_mark)
        if context is not None and context != position:
            message += f" ({exc.context} at {context.describe()})"
    return Located(position, message)


def _tab_indented(text: str, line_number: int) -> bool:
    lines = text.splitlines()
    if not 0 < line_number <= len(lines):
        return False
    line = lines[line_number - 1]
    indent = line[: len(line) - len(line.lstrip(" \t"))]
    return "\t" in indent


def _reader_problem(text: str, exc: ReaderError) -> Located:
    position = exc.position if isinstance(exc.position, int) else 0
    return locate.character_problem(text, position, exc.character, str(exc.reason))


# --- a large text: ruamel.yaml reads an excerpt ------------------------------------------------

_SURROGATE = re.compile("[\ud800-\udfff]")


def explain_near(text: str, error: BaseException | None) -> Located:
    """The syntax error libyaml met in ``text`` (``error``), in ruamel.yaml's words if it can.

    For texts too large for ruamel.yaml to read whole in good time: it reads only the excerpt
    around libyaml's error (see ``excerpt``). Its answer is kept when it puts the error (and
    the error's context) exactly where libyaml does; else libyaml's own words are reported,
    whose positions are exact. ``error`` None stands for text libyaml cannot even be given (a
    lone surrogate, only possible in text not read from a file).
    """
    if isinstance(error, yaml.error.MarkedYAMLError):
        libyaml = locate.syntax_problem(text, error)
        context = _position(error.context_mark)
    elif isinstance(error, yaml.reader.ReaderError):
        libyaml, context = locate.reader_problem(text, error), None
    else:
        found = _SURROGATE.search(text)
        if found is None:
            return Located(None, f"YAML syntax error: {error}")
        libyaml = locate.character_problem(
            text, found.start(), found.group(), "a lone surrogate is not a character"
        )
        context = None
    expected = libyaml.position
    if expected is None:
        return libyaml
    context_line = None if context is None else context.line - 1
    # First the branch holding the error, then, if its context (an opening quote, say) is
    # further up, all the lines from there.
    far = context_line is not None and context_line < expected.line - 1
    for span in (False, True) if far else (False,):
        near = excerpt.cut(text, expected.line - 1, context_line=context_line, span=span)
        reading = None if near is None else _read_excerpt(near, expected, context)
        if reading is not None:
            return reading
    return libyaml


def _read_excerpt(
    near: excerpt.Excerpt, expected: Position, context: Position | None
) -> Located | None:
    def where(mark: Any) -> Position | None:
        line = None if mark is None else near.line_in_text(mark.line)
        return None if line is None else Position(line + 1, mark.column + 1)

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _parser().compose(near.text)
    except MarkedYAMLError as exc:
        if exc.context_mark is not None and exc.problem_mark is not None:
            # Its context must be found where libyaml's is (or, where libyaml names none,
            # at least in the text).
            theirs = where(exc.context_mark)
            if theirs is None or (context is not None and theirs != context):
                return None
        found = _syntax_problem(near.text, exc, where)
    except ReaderError as exc:
        inside = _reader_problem(near.text, exc)
        line = None if inside.position is None else near.line_in_text(inside.position.line - 1)
        if line is None or inside.position is None:
            return None
        found = Located(Position(line + 1, inside.position.column), inside.message)
    except (YAMLError, RecursionError):
        return None
    else:
        return None  # ruamel.yaml reads the excerpt: it was not cut well
    return found if found.position == expected else None


# --- plain data from nodes --------------------------------------------------------------------


class Builder:
    """Builds plain data from a node tree exactly as the fast path would, noting problems."""

    def __init__(self) -> None:
        self.problems: list[Located] = []
        self._scalars = yaml.constructor.SafeConstructor()
        # Keyed by the children list, which alias copies share with their target.
        self._built: dict[int, Any] = {}
        self._building: set[int] = set()

    def build(self, node: Node | None, loc: Loc = ()) -> Any:
        if node is None:
            return None
        if isinstance(node, ScalarNode):
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
            if isinstance(node, MappingNode):
                value: Any = self._mapping(node, loc)
            else:
                value = [self.build(item, (*loc, i)) for i, item in enumerate(node.value)]
        finally:
            self._building.discard(key)
        self._built[key] = value
        return value

    def scalar(self, node: ScalarNode, loc: Loc) -> Any:
        tag = node.tag or _STR_TAG
        if tag in (MERGE_TAG, VALUE_TAG):
            tag = _STR_TAG
        constructor = self._scalars.yaml_constructors.get(tag)
        if constructor is None or tag in (_MAP_TAG, _SEQ_TAG):
            self._problem(node, f"unsupported tag {node.tag!r}", loc)
            return node.value
        try:
            return constructor(
                self._scalars, yaml.nodes.ScalarNode(tag, node.value, style=node.style)
            )
        except Exception as exc:  # PyYAML raises ValueError & co. for e.g. `!!int abc`
            self._problem(
                node, f"cannot read {node.value!r} as {tag.rsplit(':', 1)[-1]}: {exc}", loc
            )
            return node.value

    def _mapping(self, node: MappingNode, loc: Loc) -> dict[Any, Any]:
        own: dict[Any, Any] = {}
        first_keys: dict[Any, Node] = {}
        merged: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == MERGE_TAG:
                merged = self._merge(value_node, loc)
                continue
            if not isinstance(key_node, ScalarNode):
                self._problem(key_node, "a key must be a plain value, not a list or mapping", loc)
                continue
            key = self.scalar(key_node, loc)
            try:
                first = first_keys.get(key)
            except TypeError:
                self._problem(key_node, "a key must be a plain value", loc)
                continue
            if first is not None:
                where = _position(first.start_mark)
                self.problems.append(
                    Located(
                        _position(key_node.start_mark),
                        f"duplicate key {key!r}"
                        + (f" (first at {where.describe()})" if where else ""),
                        format_loc((*loc, key)) if isinstance(key, str | int) else None,
                    )
                )
            else:
                first_keys[key] = key_node
            own[key] = self.build(value_node, (*loc, key) if isinstance(key, str | int) else loc)
        if not merged:
            return own
        merged = dict(merged)
        merged.update(own)
        return merged

    def _merge(self, node: Node, loc: Loc) -> dict[Any, Any]:
        sources = node.value if isinstance(node, SequenceNode) else [node]
        merged: dict[Any, Any] = {}
        for source in reversed(sources):
            value = self.build(source, loc)
            if isinstance(source, MappingNode) and isinstance(value, dict):
                merged.update(value)
            else:
                self._problem(source, "'<<' (merge) needs a mapping or a list of mappings", loc)
        return merged

    def _problem(self, node: Node, message: str, loc: Loc) -> None:
        self.problems.append(Located(_position(node.start_mark), message, format_loc(loc) or None))


# --- paths to positions -----------------------------------------------------------------------


class Locator:
    """Answers where a data path is in the text, walking the node tree.

    A path that passes through an alias is located at the alias (``*name``): that is where
    the value takes the meaning the problem is about; the anchor is only its template.
    """

    def __init__(self, composed: Composed | None) -> None:
        self._root = composed.root if composed else None
        self._aliases = composed.alias_sites if composed else frozenset()
        self._keys = yaml.constructor.SafeConstructor()

    def find(self, loc: Loc, *, at_key: bool = False) -> Position | None:
        node = self._root
        if node is None:
            return Position(1, 1)  # an empty document: the problem is the whole file
        alias: Node | None = None
        for index, part in enumerate(loc):
            if alias is None and id(node) in self._aliases:
                alias = node
            last = index == len(loc) - 1
            if isinstance(node, MappingNode):
                pair = self._entry(node, part, depth=0)
                if pair is None:
                    break
                if last and at_key:
                    return _position(pair[0].start_mark)
                node = pair[1]
            elif isinstance(node, SequenceNode) and isinstance(part, int):
                if not 0 <= part < len(node.value):
                    break
                node = node.value[part]
            else:
                break
        if alias is None and id(node) in self._aliases:
            alias = node
        return _position((alias or node).start_mark)

    def _entry(self, node: MappingNode, part: str | int, depth: int) -> tuple[Node, Node] | None:
        found = None
        for key_node, value_node in node.value:
            is_key = isinstance(key_node, ScalarNode) and key_node.tag != MERGE_TAG
            if is_key and self._key(key_node) == part:
                found = (key_node, value_node)  # the last duplicate is the one kept
        if found is not None or depth > MAX_DEPTH:
            return found
        for merged in self._merge_sources(node):
            found = self._entry(merged, part, depth + 1)
            if found is not None:
                return found
        return None

    def _merge_sources(self, node: MappingNode) -> Iterator[MappingNode]:
        for key_node, value_node in node.value:
            if key_node.tag == MERGE_TAG:
                sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
                yield from (source for source in sources if isinstance(source, MappingNode))

    def _key(self, node: ScalarNode) -> Any:
        tag = _STR_TAG if node.tag in (VALUE_TAG, None) else str(node.tag)
        constructor = self._keys.yaml_constructors.get(tag)
        if constructor is None:
            return node.value
        try:
            return constructor(self._keys, yaml.nodes.ScalarNode(tag, node.value, style=node.style))
        except Exception:  # an unreadable key matches nothing; the builder reported it
            return node.value


def rebuild(text: str) -> Rebuilt:
    """Compose the whole of ``text`` and build its data; raises SyntaxProblem."""
    composed = compose(text)
    builder = Builder()
    data = builder.build(composed.root)
    return Rebuilt(data, composed.problems + builder.problems, Locator(composed))
