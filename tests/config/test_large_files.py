"""Problems in large files: reported without ruamel.yaml reading the whole text.

Above ``loader.ROUND_TRIP_MAX_CHARS`` the round-trip parser (about 20 times slower than libyaml)
only reads an excerpt around a syntax error libyaml met, and its words are kept when it puts
the error where libyaml does; tabs and the other places where the two parsers differ are read
as libyaml (and the fast path) read them. The expected messages below are what ruamel.yaml
said reading the whole file.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from ruamel.yaml import YAML

from reconciler.config import excerpt, loader
from reconciler.config.loader import load_desired_text_result
from reconciler.errors import ConfigErrors

HEAD = "# desired state\nversion: 1\nprovider:\n  region: cn-hangzhou\ninstances:\n"


def _instance(index: int, gids: int) -> str:
    lines = [f"  - id: post-cn-{index:04d}", "    independent_naming: true", "    groups:"]
    for gid in range(gids):
        if gid % 2:
            lines.append(f"      - GID_g-{index:04d}-{gid:04d}")
        else:
            lines += [f"      - id: GID_g-{index:04d}-{gid:04d}", "        topic: orders"]
    return "\n".join(lines) + "\n"


# About 300 KB, well above the limit: 4 instances of 2,000 GIDs.
LARGE = HEAD + "".join(_instance(index, 2000) for index in range(4))
LAST_GID = "GID_g-0003-1999"
LAST_LINE = LARGE.count("\n")  # the line holding the last GID (1-based)


@pytest.fixture
def ruamel_reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """The length of every text ruamel.yaml is asked to read."""
    lengths: list[int] = []
    compose = YAML.compose

    def spy(self: YAML, stream: Any) -> Any:
        lengths.append(len(stream))
        return compose(self, stream)

    monkeypatch.setattr(YAML, "compose", spy)
    yield lengths


def _errors(text: str) -> list[str]:
    with pytest.raises(ConfigErrors) as caught:
        load_desired_text_result(text, "big.yaml", env={})
    return [error.format().removeprefix("big.yaml:") for error in caught.value.errors]


def test_the_large_text_is_above_the_round_trip_limit() -> None:
    assert len(LARGE) > 4 * loader.ROUND_TRIP_MAX_CHARS
    load_desired_text_result(LARGE, "big.yaml", env={})  # valid as generated


def _line(fragment: str) -> int:
    """The line (1-based) of LARGE where ``fragment`` first is."""
    return LARGE[: LARGE.index(fragment)].count("\n") + 1


SECOND = "  - id: post-cn-0001\n    independent_naming: true\n"
SYNTAX_CASES = [
    pytest.param(
        LARGE.replace(LAST_GID, LAST_GID + ": [", 1),
        f"{LAST_LINE + 1}:1: YAML syntax error: expected the node content, but found "
        "'<stream end>'",
        id="an unclosed flow list at the end",
    ),
    pytest.param(
        LARGE.replace("      - GID_g-0002-0501", "     - GID_g-0002-0501", 1),
        f"{_line('GID_g-0002-0501')}:6: YAML syntax error: expected <block end>, but found "
        f"'<block sequence start>' (while parsing a block mapping at line "
        f"{_line('post-cn-0002')}, column 5)",
        id="a list item indented one space less, mid-file",
    ),
    pytest.param(
        LARGE.replace("      - GID_g-0003-1999", "\t- GID_g-0003-1999", 1),
        f"{LAST_LINE}:1: tab character in indentation: YAML indents with spaces only",
        id="tab indentation",
    ),
    pytest.param(
        LARGE.replace(SECOND, SECOND.replace(" post", " 'post").replace(" true", " 'true"), 1),
        f"{_line('post-cn-0001') + 1}:26: YAML syntax error: expected <block end>, but found "
        f"'<scalar>' (while parsing a block mapping at line {_line('post-cn-0001')}, column 5)",
        id="a quoted scalar over two lines",
    ),
    pytest.param(
        LARGE.replace("post-cn-0001", "'post-cn-0001", 1),
        f"{LAST_LINE + 1}:1: YAML syntax error: found unexpected end of stream (while scanning "
        f"a quoted scalar at line {_line('post-cn-0001')}, column 9)",
        id="an unclosed quote (libyaml's words are the same)",
    ),
    pytest.param(
        LARGE.replace(LAST_GID, LAST_GID + "\x07", 1),
        f"{LAST_LINE}:24: character U+0007 is not allowed in YAML "
        "(special characters are not allowed)",
        id="a control character",
    ),
]


@pytest.mark.parametrize(("text", "expected"), SYNTAX_CASES)
def test_a_syntax_error_is_worded_by_ruamel_reading_an_excerpt(
    text: str, expected: str, ruamel_reads: list[int]
) -> None:
    assert _errors(text) == [expected]
    # The unclosed quote spans most of the file: too long an excerpt, libyaml words it.
    assert all(length < len(text) // 5 for length in ruamel_reads), ruamel_reads


@pytest.mark.parametrize(("text", "expected"), SYNTAX_CASES)
def test_the_excerpt_words_errors_as_the_whole_text_does(
    text: str, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(loader, "ROUND_TRIP_MAX_CHARS", len(text))
    assert _errors(text) == [expected]


def test_when_the_excerpt_misleads_ruamel_libyaml_words_the_error(
    monkeypatch: pytest.MonkeyPatch, ruamel_reads: list[int]
) -> None:
    def only_the_line(text: str, line: int, **_: Any) -> excerpt.Excerpt:
        # Without the lines around it, the wrongly indented item is a fine list.
        return excerpt.Excerpt(text.split("\n")[line] + "\n", (line,), reaches_end=False)

    monkeypatch.setattr(excerpt, "cut", only_the_line)
    text = LARGE.replace("      - GID_g-0002-0501", "     - GID_g-0002-0501", 1)
    assert _errors(text) == [
        f"{_line('GID_g-0002-0501')}:6: YAML syntax error: did not find expected key (while "
        f"parsing a block mapping at line {_line('post-cn-0002')}, column 5)"
    ]
    assert ruamel_reads and set(ruamel_reads) == {len("     - GID_g-0002-0501\n")}


def test_tabs_in_a_large_file_are_read_as_libyaml_reads_them(ruamel_reads: list[int]) -> None:
    # libyaml (the fast path) reads a tab inside a plain scalar; ruamel.yaml refuses it. A
    # small file gets ruamel.yaml's syntax error; a large one its real error, located.
    text = LARGE.replace("topic: orders", "topic: ord\terz", 1).replace(LAST_GID, "gid_bad", 1)
    errors = _errors(text)
    assert len(errors) == 2
    assert errors[0].startswith("10:16: 'ord\\terz' is not valid: a parent topic")
    assert errors[1].startswith(f"{LAST_LINE}:9: 'gid_bad' is not valid")
    assert ruamel_reads == []


def test_a_warning_in_a_large_file_with_a_tab_is_located_by_libyaml(
    ruamel_reads: list[int],
) -> None:
    text = LARGE.replace("region: cn-hangzhou", "region: cn-hangzou", 1)
    text = text.replace("topic: orders", "topic: orders\t# tabbed comment", 1)
    result = load_desired_text_result(text, "big.yaml", env={})
    assert [warning.format() for warning in result.warnings] == [
        "big.yaml:4:11: warning: unknown region 'cn-hangzou' (did you mean 'cn-hangzhou'?); "
        "fine if the region is new (at provider.region)"
    ]
    assert ruamel_reads == []


def test_a_lone_surrogate_in_a_large_text_is_located() -> None:
    text = LARGE.replace(LAST_GID, LAST_GID + "\ud800", 1)
    assert _errors(text) == [
        f"{LAST_LINE}:24: character U+D800 is not allowed in YAML (special characters are not "
        "allowed)"
    ]


# --- the excerpt itself ---------------------------------------------------------------------


def test_the_excerpt_keeps_the_enclosing_lines_and_the_branch() -> None:
    text = (
        "# head\n"  # 0
        "version: 1\n"  # 1
        "instances:\n"  # 2
        "  - id: a\n"  # 3
        "    groups:\n"  # 4
        "      - GID_a1\n"  # 5
        "  - id: b\n"  # 6
        "    region: x\n"  # 7
        "    groups:\n"  # 8
        "      - GID_b1\n"  # 9
        "      - GID_b2\n"  # 10
        "      - GID_b3\n"  # 11
        "      - GID_b4\n"  # 12
        "  - id: c\n"  # 13
    )
    near = excerpt.cut(text, 11, before=1, after=1)
    assert near is not None
    # Head and first line; `instances:` and its first item; `- id: b` and the first line
    # under it (its mapping starts on its own line, but a block may start below its opener);
    # `groups:` and its first item; the window: a line up from 11, and one down.
    assert near.lines == (0, 1, 2, 3, 6, 7, 8, 9, 10, 11, 12)
    assert near.text.splitlines()[-1] == "      - GID_b4"
    assert not near.reaches_end and near.text.endswith("\n")
    assert near.line_in_text(4) == 6
    assert near.line_in_text(len(near.lines)) is None


def test_the_excerpt_maps_the_end_of_the_text_when_it_reaches_it() -> None:
    text = "a:\n  - 1\n  - 2\n  - [3\n"
    near = excerpt.cut(text, 4, before=1)
    assert near is not None and near.reaches_end
    assert near.text.endswith("\n") and near.line_in_text(len(near.lines) - 1) == 4


@pytest.mark.parametrize("text", ["a:\r  - 1\r", "a:\u2028  - 1\n", "a: \x85\n"])
def test_no_excerpt_of_text_with_other_line_breaks(text: str) -> None:
    assert excerpt.cut(text, 1) is None


def test_no_excerpt_when_the_window_would_be_long() -> None:
    # A window from the error's context (an opening quote, say), 100 lines up.
    text = "a: '\n" + "".join(f"  k{index}: v\n" for index in range(100)) + "b: [\n"
    assert excerpt.cut(text, 101, context_line=0, span=True, max_window=50) is None
    near = excerpt.cut(text, 101, context_line=0, span=True, max_window=200)
    assert near is not None and near.text == text
