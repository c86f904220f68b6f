"""Cut the few lines of a large YAML text that a parser needs to meet one error again.

ruamel.yaml words syntax errors best but reads about 20 times slower than libyaml: a 6 MB file
takes it most of a minute. Yet a parser that meets an error at line 200,000 only needs, to meet
it again at the same place, the lines that open the blocks enclosing that place and the branch
holding it; the sibling blocks before them can go. So the excerpt keeps:

* the head of the document (comments, directives and ``---`` before its first line of content,
  and that line, where the top-level block starts);
* a window of whole lines from some lines before the error (or, with ``span``, before the
  error's context, say an opening quote) to some lines after it;
* the line of the error's context (where the block being parsed starts, say), and, for it and
  the window, every line opening a block around them (the nearest earlier line less indented
  than the last one kept, and so on outwards) and the first line under each of them, where
  that block starts: error messages name it ("while parsing a block mapping at line 3").

Whole lines are kept, so columns do not change and each line of the excerpt maps back to its
line in the text. Indentation only guesses at structure (flow collections and multi-line scalars
do not follow it), so whoever reads the excerpt must check the answer against a position known
to be right.
"""

from __future__ import annotations

from dataclasses import dataclass

# Line breaks other than "\n" (and "\r\n") would make the parsers count lines otherwise.
_OTHER_BREAKS = ("\x85", "\u2028", "\u2029")
_MARKERS = ("---", "...", "%")


@dataclass(frozen=True, slots=True)
class Excerpt:
    text: str
    lines: tuple[int, ...]  # for each line of the excerpt, its line in the whole text (0-based)
    reaches_end: bool  # the last line of the text is kept: the excerpt ends where the text does

    def line_in_text(self, line: int) -> int | None:
        """The text's line (0-based) for a line of the excerpt, None for its artificial end."""
        if 0 <= line < len(self.lines):
            return self.lines[line]
        return None


def cut(
    text: str,
    line: int,
    *,
    context_line: int | None = None,
    span: bool = False,
    before: int = 20,
    after: int = 50,
    max_window: int = 1000,
) -> Excerpt | None:
    """The excerpt of ``text`` around ``line`` (0-based), or None when it would not be small.

    ``before`` lines of content at least precede ``line`` (with ``span``, ``context_line``),
    ``after`` lines follow it; a window longer than ``max_window`` lines is refused.
    """
    if any(mark in text for mark in _OTHER_BREAKS) or "\r" in text.replace("\r\n", ""):
        return None
    lines = text.split("\n")
    last = len(lines) - 1
    line = min(max(line, 0), last)
    context = None if context_line is None else min(max(context_line, 0), line)
    start = _window_start(lines, context if span and context is not None else line, before)
    end = min(line + after, last)
    if end - start > max_window:
        return None
    head_end = _first_content(lines, 0)
    kept = set(range(start, end + 1)) | set(range(0, min(head_end, start) + 1))
    kept |= _enclosing(lines, start, head_end)
    if context is not None and context < start:
        kept |= {context} | _enclosing(lines, context, head_end)
    order = tuple(sorted(kept))
    excerpt = "\n".join(lines[i] for i in order)
    reaches_end = order[-1] == last
    if not reaches_end:
        # A break after the last line kept: an end of stream met in the excerpt is on a line
        # of its own, which maps to no line of the text (so it cannot pass for a real position).
        excerpt += "\n"
    return Excerpt(excerpt, order, reaches_end)


def _window_start(lines: list[str], first: int, before: int) -> int:
    """Where the window starts: ``before`` lines of content up from ``first``.

    Any line will do: the lines opening the blocks around it are kept, so whatever the window
    holds sits in the same blocks as in the text; what is dropped are whole earlier entries of
    those blocks.
    """
    seen = 0
    index = first
    while index > 0 and seen < before:
        index -= 1
        if _depth(lines[index]) is not None:
            seen += 1
    return index


def _enclosing(lines: list[str], index: int, head_end: int) -> set[int]:
    """The lines opening the blocks around line ``index``, and the first line under each."""
    found: set[int] = set()
    level = _depth(lines[index])
    index -= 1
    while index >= head_end and level is not None and level > 0:
        line = lines[index]
        # Most lines are deeper, as their indentation shows: skip them cheaply.
        if 2 * (len(line) - len(line.lstrip(" "))) >= level:
            index -= 1
            continue
        depth = _depth(line)
        if depth is not None and depth < level:
            found.add(index)
            found.add(_first_content(lines, index + 1))  # where the block it opens starts
            level = depth
        index -= 1
    return found


def _first_content(lines: list[str], index: int) -> int:
    """The first line at or after ``index`` holding content (the last line if none does)."""
    while index < len(lines) - 1 and _depth(lines[index]) is None:
        index += 1
    return index


def _depth(line: str) -> int | None:
    """How deep a line's content sits, None for lines without content (blank, comment,
    directive, document marker) or indented with tabs (no telling). Twice the indentation, plus
    one for a ``- `` item: a list may sit at its parent key's indentation, yet inside it."""
    content = line.lstrip(" ")
    if not content.strip() or content.startswith(("#", "\t")):
        return None
    indent = len(line) - len(content)
    if indent == 0 and content.startswith(_MARKERS):
        return None
    dash = content.startswith("-") and content[1:2] in ("", " ", "\t", "\r")
    return 2 * indent + (1 if dash else 0)
