"""The fastest path: a desired file in plain block layout, read line by line.

A file of 100,000 GIDs is some 400,000 libyaml events, each a Python object with two marks;
making them costs about half a second, more than everything done with the data after. The
files this tool and its users write keep to a small part of YAML: block mappings and
sequences by indentation, ``- key: value`` mappings in sequences, sequences under a key at
its own indentation, one-line flow mappings and sequences of plain scalars, comment lines
and blank lines. That part is read here directly from the lines, each scalar typed exactly as
PyYAML's safe loader types it (its own resolvers and constructors, ``fastyaml.PlainScalars``).

Anything else gives None and the caller reads the text with libyaml, as before: quotes,
anchors, aliases, tags, block scalars, directives and document markers, tabs, carriage
returns and other control or unprintable characters, flow collections across lines or
nested, multi-line plain scalars, comments after a value, a key repeated, any indentation a
sibling or child would not have. So this path never has a meaning of its own: either it
builds what libyaml would, or it steps aside (``tests/config/test_line_parser.py`` holds it to
that, example by example and on generated documents).
"""

from __future__ import annotations

import re
from array import array
from typing import Any

from reconciler.config.fastyaml import MAX_DEPTH, ItemLines, PlainScalars

# Characters that end this path wherever they are: tabs, carriage returns, YAML 1.1's other
# line breaks, and what libyaml refuses to read (control characters, lone surrogates, a
# byte order mark inside, U+FFFE and U+FFFF).
_UNREADABLE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff\ud800-\udfff]")
# Those of them an ASCII text can hold. Python knows whether a text is ASCII without reading
# it, and one substring search per character reads 5 MB in a few ms where the pattern's
# search takes twenty.
_UNREADABLE_ASCII = tuple(chr(code) for code in (*range(0x0A), *range(0x0B, 0x20), 0x7F))
# And outside comments: quotes, anchors and aliases, tags, block scalars, directives, escapes.
_UNUSUAL_CHARACTERS = "\"'&*!|>%\\`"
_UNUSUAL = re.compile(f"[{re.escape(_UNUSUAL_CHARACTERS)}]")
# A plain scalar read here starts with no indicator of YAML's, holds no ": " or " #" and
# ends in no space or colon; in a flow collection it holds no ",[]{}" either, nor ":?"
# (libyaml refuses a colon followed by any of ",?[]{}" there).
_NOT_PLAIN_IN_BLOCK = re.compile(r"^[-?:,\[\]{}#&*!|>'\"%@`]|: | #|[ :]$")
_NOT_PLAIN_IN_FLOW = re.compile(r"^[-?:,\[\]{}#&*!|>'\"%@`]|: | #|[ :]$|[,\[\]{}]|:\?")
# A word of letters, digits and "_-./" starting with a letter or "_" is plain in block and
# flow alike (the common GID or topic): one match tells so, where the two patterns above
# search for what would not be.
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_./-]*")


# libyaml takes a key on one line for a key only if its ":" comes within 1,024 characters of
# its start; a longer one (or anything near) is left to libyaml to refuse.
_LONGEST_KEY = 1000


class _NotPlain(Exception):
    """The text leaves the part of YAML read here."""


def parse_lines(text: str, lines: ItemLines | None = None) -> Any | None:
    """What ``fastyaml.load_fast`` returns for ``text``, read line by line; None when the
    text is not in the plain layout (read it with libyaml). ``lines``, when given, receives
    the line of every list item, as ``load_fast`` gives them (only on success)."""
    if _unreadable(text):
        return None
    try:
        reader = _Reader(text)
        value = reader.document()
    except _NotPlain:
        return None
    if lines is not None:
        lines.update(reader.rows)
    return value


def _unreadable(text: str) -> bool:
    if text.isascii():
        return any(character in text for character in _UNREADABLE_ASCII)
    return _UNREADABLE.search(text) is not None


class _Reader:
    def __init__(self, text: str) -> None:
        # (line number, indentation, content) of each line holding something.
        self.entries: list[tuple[int, int, str]] = []
        for number, raw in enumerate(text.split("\n")):
            line = raw.rstrip(" ")
            content = line.lstrip(" ")
            if content and content[0] != "#":
                self.entries.append((number, len(line) - len(content), content))
        # Comments may say anything; the lines holding something may not (one look at the
        # whole text first: most files have none of these characters anywhere).
        if any(character in text for character in _UNUSUAL_CHARACTERS) and any(
            _UNUSUAL.search(entry[2]) for entry in self.entries
        ):
            raise _NotPlain
        self.at = 0
        self.rows: ItemLines = {}
        try:
            self.scalars = PlainScalars()
        except Exception as exc:  # resolvers this path cannot follow
            raise _NotPlain from exc
        self.unclaimed = self.scalars.unclaimed_starts
        # Each distinct scalar text met, block and flow apart, with its value.
        self.block: dict[str, Any] = {}
        self.flow: dict[str, Any] = {}

    def document(self) -> Any:
        if not self.entries:
            raise _NotPlain
        _, indent, content = self.entries[0]
        if indent or _is_item(content):
            raise _NotPlain
        value = self.mapping(0, None, 1)
        if self.at != len(self.entries):
            raise _NotPlain
        return value

    def mapping(self, indent: int, first: str | None, depth: int) -> dict[Any, Any]:
        """The block mapping whose keys are at ``indent``; ``first``: its first entry, the
        rest of a ``- `` line."""
        if depth > MAX_DEPTH:
            raise _NotPlain
        found: dict[Any, Any] = {}
        content = first
        entries = self.entries
        while True:
            if content is None:
                if self.at == len(entries):
                    break
                _, at, content = entries[self.at]
                if at != indent or _is_item(content):
                    if at > indent:
                        raise _NotPlain
                    break
            key_text, colon, rest = content.partition(": ")
            if not colon:
                if content[-1] != ":":
                    raise _NotPlain  # a scalar where a key belongs
                key_text, rest = content[:-1], ""
            if len(key_text) > _LONGEST_KEY:
                raise _NotPlain
            key = self.scalar(key_text, self.block, flow=False)
            if key in found:
                raise _NotPlain
            self.at += 1
            rest = rest.lstrip(" ")
            found[key] = self.inline(rest, depth) if rest else self.nested(indent, depth)
            content = None
        return found

    def nested(self, indent: int, depth: int) -> Any:
        """The value of a key at ``indent`` written on the lines after it (None: none)."""
        if self.at == len(self.entries):
            return None
        _, at, content = self.entries[self.at]
        if at > indent:
            if _is_item(content):
                return self.sequence(at, depth + 1)
            return self.mapping(at, None, depth + 1)
        if at == indent and _is_item(content):
            return self.sequence(at, depth + 1)  # a sequence at its key's own indentation
        return None

    def sequence(self, indent: int, depth: int) -> list[Any]:
        if depth > MAX_DEPTH:
            raise _NotPlain
        items: list[Any] = []
        rows = array("i")
        entries = self.entries
        while self.at < len(entries):
            number, at, content = entries[self.at]
            if at < indent:
                break
            if at > indent or content == "-":
                raise _NotPlain
            if not content.startswith("- "):
                break
            rest = content[2:]
            item = rest.lstrip(" ")
            rows.append(number)
            if _is_item(item):
                raise _NotPlain  # a sequence in a sequence on one line
            if item[0] not in "{[" and (": " in item or item[-1] == ":"):
                column = at + len(content) - len(item)
                items.append(self.mapping(column, item, depth + 1))
            else:
                self.at += 1
                items.append(self.inline(item, depth, number))
        self.rows[id(items)] = rows
        return items

    def inline(self, text: str, depth: int, number: int | None = None) -> Any:
        """A value written on its key's or item's line, in a collection at ``depth``: a
        one-line flow collection or a plain scalar. ``number``: the line, for a flow
        sequence's item lines."""
        start = text[0]
        if start in "{[" and depth >= MAX_DEPTH:
            raise _NotPlain  # as deep as the events path goes
        if start == "{":
            if text[-1] != "}":
                raise _NotPlain
            found: dict[Any, Any] = {}
            inner = text[1:-1].strip(" ")
            seen = self.flow
            # The scalars met before (keys, repeated values) looked up here: a call each
            # costs more than the look-up.
            for entry in inner.split(",") if inner else ():
                key_text, colon, value_text = entry.strip(" ").partition(": ")
                if not colon or len(key_text) > _LONGEST_KEY:
                    raise _NotPlain
                key = seen.get(key_text, _MISSING)
                if key is _MISSING:
                    key = self.scalar(key_text, seen, flow=True)
                if key in found:
                    raise _NotPlain
                value_text = value_text.lstrip(" ")
                value = seen.get(value_text, _MISSING)
                found[key] = (
                    self.scalar(value_text, seen, flow=True) if value is _MISSING else value
                )
            return found
        if start == "[":
            if text[-1] != "]":
                raise _NotPlain
            inner = text[1:-1].strip(" ")
            items = [
                self.scalar(entry.strip(" "), self.flow, flow=True)
                for entry in (inner.split(",") if inner else ())
            ]
            if number is None:
                number = self.entries[self.at - 1][0]
            self.rows[id(items)] = array("i", [number] * len(items))
            return items
        return self.scalar(text, self.block, flow=False)

    def scalar(self, text: str, seen: dict[str, Any], *, flow: bool) -> Any:
        """A plain scalar's value, as the safe loader types it."""
        known = seen.get(text, _MISSING)
        if known is not _MISSING:
            return known
        if text[:1] in self.unclaimed and _WORD.fullmatch(text):
            seen[text] = text  # a string, as ``PlainScalars.value`` would say
            return text
        if not text or (_NOT_PLAIN_IN_FLOW if flow else _NOT_PLAIN_IN_BLOCK).search(text):
            raise _NotPlain
        try:
            value = self.scalars.value(text)
        except Exception as exc:  # a constructor's error (a date that is none): libyaml's
            raise _NotPlain from exc  # path words it
        if value is _UNUSUAL_SCALAR:
            raise _NotPlain
        seen[text] = value
        return value


def _is_item(content: str) -> bool:
    return content == "-" or content.startswith("- ")


_UNUSUAL_SCALAR = PlainScalars.UNUSUAL
_MISSING = object()
