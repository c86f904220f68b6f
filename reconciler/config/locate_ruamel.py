"""The fallback for text libyaml cannot read: ruamel.yaml's round-trip composer.

``locate`` reads everything libyaml's parser accepts. When that parser refuses the text (a
syntax error, a character YAML forbids), this module says what is wrong in ruamel.yaml's words,
which name the token found where another was expected ("expected <block end>, but found
'<block sequence start>'") where libyaml only says what it missed. It is several times slower
than libyaml, so it only ever reads text that is not valid YAML, and of a large text only an
excerpt around the error libyaml met (``explain_near``). Its trees (ruamel.yaml's nodes) are
built and searched by ``locate.Builder`` and ``locate.Locator``.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.composer import Composer
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import AliasEvent
from ruamel.yaml.nodes import Node, ScalarNode
from ruamel.yaml.reader import ReaderError

from reconciler.config import excerpt, locate
from reconciler.config.fastyaml import MAX_DEPTH
from reconciler.config.locate import (
    Composed,
    Located,
    Position,
    Rebuilt,
    SyntaxProblem,
    tab_indented,
)
from reconciler.config.locate import mark_position as _position


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
    if mark is not None and tab_indented(text, mark.line + 1):
        return Located(position, "tab character in indentation: YAML indents with spaces only")
    message = f"YAML syntax error: {problem}"
    if exc.context and exc.problem and exc.context_mark is not None:
        context = where(exc.context_mark)
        if context is not None and context != position:
            message += f" ({exc.context} at {context.describe()})"
    return Located(position, message)


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


def rebuild(text: str) -> Rebuilt:
    """Compose the whole of ``text`` and build its data; raises SyntaxProblem."""
    composed = compose(text)
    builder = locate.Builder()
    data = builder.build(composed.root)
    return Rebuilt(data, composed.problems + builder.problems, locate.Locator(composed))
