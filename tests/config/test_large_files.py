"""Problems in large files: reported in libyaml's words, without ruamel.yaml reading the text.

ruamel.yaml (about 20 times slower than libyaml) is only for ``fmt``: a syntax error is
libyaml's, at the position libyaml gives (the positions below are the ones ruamel.yaml gave
reading the whole file), and tabs are read as libyaml (and the fast path) read them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from ruamel.yaml import YAML

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


# About 300 KB: 4 instances of 2,000 GIDs.
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


def test_the_large_text_is_valid() -> None:
    assert len(LARGE) > 256 * 1024
    load_desired_text_result(LARGE, "big.yaml", env={})


def _line(fragment: str) -> int:
    """The line (1-based) of LARGE where ``fragment`` first is."""
    return LARGE[: LARGE.index(fragment)].count("\n") + 1


SECOND = "  - id: post-cn-0001\n    independent_naming: true\n"
SYNTAX_CASES = [
    pytest.param(
        LARGE.replace(LAST_GID, LAST_GID + ": [", 1),
        f"{LAST_LINE + 1}:1: YAML syntax error: did not find expected node content",
        id="an unclosed flow list at the end",
    ),
    pytest.param(
        LARGE.replace("      - GID_g-0002-0501", "     - GID_g-0002-0501", 1),
        f"{_line('GID_g-0002-0501')}:6: YAML syntax error: did not find expected key (while "
        f"parsing a block mapping at line {_line('post-cn-0002')}, column 5)",
        id="a list item indented one space less, mid-file",
    ),
    pytest.param(
        LARGE.replace("      - GID_g-0003-1999", "\t- GID_g-0003-1999", 1),
        f"{LAST_LINE}:1: tab character in indentation: YAML indents with spaces only",
        id="tab indentation",
    ),
    pytest.param(
        LARGE.replace(SECOND, SECOND.replace(" post", " 'post").replace(" true", " 'true"), 1),
        f"{_line('post-cn-0001') + 1}:26: YAML syntax error: did not find expected key (while "
        f"parsing a block mapping at line {_line('post-cn-0001')}, column 5)",
        id="a quoted scalar over two lines",
    ),
    pytest.param(
        LARGE.replace("post-cn-0001", "'post-cn-0001", 1),
        f"{LAST_LINE + 1}:1: YAML syntax error: found unexpected end of stream (while scanning "
        f"a quoted scalar at line {_line('post-cn-0001')}, column 9)",
        id="an unclosed quote",
    ),
    pytest.param(
        LARGE.replace(LAST_GID, LAST_GID + "\x07", 1),
        f"{LAST_LINE}:24: character U+0007 is not allowed in YAML "
        "(control characters are not allowed)",
        id="a control character",
    ),
]


@pytest.mark.parametrize(("text", "expected"), SYNTAX_CASES)
def test_a_syntax_error_is_worded_by_libyaml_where_it_met_it(
    text: str, expected: str, ruamel_reads: list[int]
) -> None:
    assert _errors(text) == [expected]
    assert ruamel_reads == []


def test_tabs_in_a_large_file_are_read_as_libyaml_reads_them(ruamel_reads: list[int]) -> None:
    # libyaml (the fast path) reads a tab inside a plain scalar (ruamel.yaml refused it): the
    # file gets its real errors, located.
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
        f"{LAST_LINE}:24: character U+D800 is not allowed in YAML (a lone surrogate is not a "
        "character)"
    ]
