"""parse_lines, the line parser of plain block YAML, must mean exactly what libyaml means.

The reference is ``fastyaml.load_fast`` with its line path switched off (libyaml's events, or
PyYAML's composer for what they leave). Whenever ``parse_lines`` answers (anything but None)
its data must equal the reference's: the same values and types, key order, and the same line
for every list item. Whenever the reference raises, ``parse_lines`` must answer None, so the
caller asks libyaml and hears the same error. And the shapes real files have must take the
line path, or the parser would be right only by never answering.
"""

from __future__ import annotations

import itertools
import re
import sys
from array import array
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from reconciler.config import fastyaml
from reconciler.config import lines as line_parser
from reconciler.config.lines import parse_lines

ROOT = Path(__file__).resolve().parents[2]
ItemLines = fastyaml.ItemLines

# ---------------------------------------------------------------------------------------------
# The comparison


def _lists_in(data: Any) -> Iterator[list[Any]]:
    if isinstance(data, dict):
        for value in data.values():
            yield from _lists_in(value)
    elif isinstance(data, list):
        yield data
        for value in data:
            yield from _lists_in(value)


def _exactly(value: Any) -> Any:
    """What two scalars must share to be the same: their type, and their repr(), which tells
    -0.0 from 0.0 and makes a NaN equal a NaN (ints by value: a huge one has no repr())."""
    return (type(value), value if type(value) is int else repr(value))


def _shown(value: Any) -> str:
    """repr() of ``value``, cut short: a 1,100-character key would drown the message."""
    try:
        text = repr(value)
    except ValueError:  # an int of more than 4,300 digits
        return f"<an int of {value.bit_length()} bits>"
    return text if len(text) <= 300 else f"{text[:150]}...{text[-150:]}"


def _test_id(text: str) -> str:
    """A readable, short test id for a text (pytest would number the odd ones)."""
    shown = ascii(text)[1:-1]
    return shown if len(shown) <= 40 else f"{shown[:30]}...({len(text)} chars)"


def _differences(
    fast: Any,
    slow: Any,
    fast_lines: ItemLines | None,
    slow_lines: ItemLines | None,
    path: str = "$",
) -> Iterator[str]:
    """Where ``fast`` (parse_lines') and ``slow`` (libyaml's) data differ, walking both."""
    if type(fast) is not type(slow):
        kinds = f"{type(fast).__name__} vs {type(slow).__name__}"
        yield f"{path}: {_shown(fast)} vs {_shown(slow)} ({kinds})"
        return
    if isinstance(slow, dict):
        if list(map(_exactly, fast)) != list(map(_exactly, slow)):
            yield f"{path}: keys {_shown(list(fast))} vs {_shown(list(slow))}"
            return
        for (key, fast_value), slow_value in zip(fast.items(), slow.values(), strict=True):
            yield from _differences(
                fast_value, slow_value, fast_lines, slow_lines, f"{path}[{_shown(key)}]"
            )
    elif isinstance(slow, list):
        if len(fast) != len(slow):
            yield f"{path}: {_shown(fast)} vs {_shown(slow)}"
            return
        if fast_lines is not None and slow_lines is not None:
            fast_row, slow_row = fast_lines.get(id(fast)), slow_lines.get(id(slow))
            if slow_row is None:
                # load_fast left the event path (anchors, tags, merges...): no lines there.
                yield f"{path}: load_fast fell back to the composer, parse_lines answered"
            elif fast_row is None:
                yield f"{path}: parse_lines recorded no item lines"
            elif (fast_row.typecode, fast_row.tolist()) != (slow_row.typecode, slow_row.tolist()):
                yield f"{path}: item lines {_shown(fast_row)} vs {_shown(slow_row)}"
        for index, (fast_item, slow_item) in enumerate(zip(fast, slow, strict=True)):
            yield from _differences(
                fast_item, slow_item, fast_lines, slow_lines, f"{path}[{index}]"
            )
    elif _exactly(fast) != _exactly(slow):
        yield f"{path}: {_shown(fast)} vs {_shown(slow)}"


def _libyaml_load(text: str, lines: ItemLines, asked: list[str] | None = None) -> Any:
    """``load_fast`` with its line path switched off: libyaml's events (or PyYAML's composer)
    alone, the reference parse_lines is held to."""

    def step_aside(text: str, lines: ItemLines | None = None) -> None:
        if asked is not None:
            asked.append(text)

    # load_fast looks the line parser up when called, so this reaches it; a test below checks.
    original = line_parser.parse_lines
    line_parser.parse_lines = step_aside
    try:
        return fastyaml.load_fast(text, lines)
    finally:
        line_parser.parse_lines = original


def test_the_reference_is_load_fast_without_the_line_path() -> None:
    asked: list[str] = []
    assert _libyaml_load("a: [1]\n", {}, asked) == {"a": [1]}
    assert asked == ["a: [1]\n"]
    assert parse_lines("a: [1]\n") == {"a": [1]}  # the stand-in was put back


def _parse(text: str, lines: ItemLines | None) -> Any:
    try:
        return parse_lines(text, lines)
    except Exception as exc:  # it must answer None for what it cannot read, never raise
        raise AssertionError(f"parse_lines raised on {_shown(text)}") from exc


def assert_same(text: str) -> Any:
    """parse_lines' answer for ``text`` (None: it leaves it to libyaml), checked against
    libyaml's: the same data and item lines, or None when libyaml raises."""
    fast_lines: ItemLines = {}
    fast = _parse(text, fast_lines)
    # Without a lines dict it must answer the same (lines are only an extra output).
    plain = _parse(text, None)
    assert (plain is None) == (fast is None), f"parse_lines(lines=None) disagrees on {_shown(text)}"
    slow_lines: ItemLines = {}
    try:
        slow = _libyaml_load(text, slow_lines)
    except Exception as exc:
        assert fast is None, (
            f"libyaml refuses {_shown(text)} ({type(exc).__name__}: {exc}) "
            f"but parse_lines gives {_shown(fast)}"
        )
        return None
    if fast is None:
        return None
    problems = list(_differences(fast, slow, fast_lines, slow_lines))
    problems += list(_differences(plain, slow, None, None))
    # Lines of lists that are not in the data are stale ids: one may name a later list.
    listed = {id(each) for each in _lists_in(fast)}
    if set(fast_lines) != listed:
        problems.append(f"lines of {len(fast_lines)} lists for {len(listed)} lists in the data")
    assert not problems, f"{_shown(text)}:\n" + "\n".join(problems)
    return fast


def assert_fast(text: str) -> Any:
    """As assert_same, and the fast path must have been taken."""
    data = assert_same(text)
    assert data is not None, f"parse_lines left a common shape to libyaml:\n{text[:2000]}"
    return data


# Each kind of wrong answer must fail the comparison, or every test here could pass unheard.
def _wrong_lines(text: str, lines: ItemLines | None = None) -> Any:
    data = _libyaml_load(text, {})
    if lines is not None:
        lines[id(data["k"])] = array("i", [0])  # the item is on line 1
    return data


def _stale_lines(text: str, lines: ItemLines | None = None) -> Any:
    data = _libyaml_load(text, {} if lines is None else lines)
    if lines is not None:
        lines[id(text)] = array("i", [0])
    return data


def _no_lines(text: str, lines: ItemLines | None = None) -> Any:
    return _libyaml_load(text, {})


def _only_with_lines(text: str, lines: ItemLines | None = None) -> Any:
    return None if lines is None else _libyaml_load(text, lines)


WRONG_ANSWERS = {
    "true as 1": ("a: true\n", lambda text, lines=None: {"a": 1}),
    "1 as 1.0": ("a: 1\n", lambda text, lines=None: {"a": 1.0}),
    "null as a string": ("a: null\n", lambda text, lines=None: {"a": "null"}),
    "key order": ("a: 2\nb: 1\n", lambda text, lines=None: {"b": 1, "a": 2}),
    "a key typed": ("1: a\n", lambda text, lines=None: {"1": "a"}),
    "an answer where libyaml refuses": ("a: 1\na: 2\n", lambda text, lines=None: {"a": 2}),
    "item lines": ("k:\n- x\n", _wrong_lines),
    "stale item lines": ("k:\n- x\n", _stale_lines),
    "no item lines": ("k:\n- x\n", _no_lines),
    "an answer only with lines": ("k:\n- x\n", _only_with_lines),
}


@pytest.mark.parametrize(("text", "wrong"), WRONG_ANSWERS.values(), ids=list(WRONG_ANSWERS))
def test_the_comparison_catches_a_wrong_answer(
    text: str, wrong: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys.modules[__name__], "parse_lines", wrong)
    with pytest.raises(AssertionError):
        assert_same(text)


# ---------------------------------------------------------------------------------------------
# The shapes real files have: each must take the fast path.

README_EXAMPLE = """\
# yaml-language-server: $schema=../schemas/desired-state.schema.json
version: 1
provider:
  region: cn-shanghai
  api: ons
  endpoint: embedded
  profile: ci
backend:
  postgres:
    dsn: ${RECONCILER_PG_DSN}
    schema: reconciler
    workspace: production
defaults:
  ownership: managed
  protect: false
safety:
  max_deletes: 10
  max_delete_share: 0.25
  share_min_groups: 20
group_sets:
  standard:
    - GID_audit
    - id: GID_ota
      topic: firmware
      # never deleted without --allow-protected-delete
      protect: true
      description: Over-the-air updates
instances:
  - id: post-cn-fleet0001
    region: cn-beijing
    ownership: exclusive
    independent_naming: true
    include: [standard]
    groups:
      - GID_factory-line2
      - id: GID_old-poller
        absent: true
  - id: mqtt-cn-upgraded01
    api: onsmqtt
    groups:
      - id: GID_meters
        clients: [GID_meters@@@meter-1]
        tags: {team: metering, env: prod}
"""


def _estate(instances: int, groups: int, *, long: bool) -> str:
    """The shape of bench/bench_plan.py's write_estate, small."""
    lines = ["version: 1", "backend:", "  local:", "    path: big-state.json", "instances:"]
    for i in range(instances):
        lines += [f"  - id: post-cn-{i:04d}", "    groups:"]
        for j in range(groups):
            gid = f"GID_{i:03d}_{j:05d}"
            lines.append(f"      - {{id: {gid}, topic: orders}}" if long else f"      - {gid}")
    return "\n".join(lines) + "\n"


COMMON_SHAPES = {
    "readme": README_EXAMPLE,
    "estate long": _estate(3, 4, long=True),
    "estate short": _estate(3, 4, long=False),
    "block form groups": (
        "instances:\n  - id: post-1\n    groups:\n      - id: GID_x\n        topic: orders\n"
        "        protect: true\n      - GID_y\n"
    ),
    "indentless sequences": (
        "instances:\n- id: post-1\n  groups:\n  - GID_a\n  - {id: GID_b, topic: orders}\n"
        "  - id: GID_c\n    protect: false\n- id: post-2\n  groups:\n  - GID_d\n"
    ),
    "indent 4": (
        "version: 1\nbackend:\n    local:\n        path: s.json\ninstances:\n"
        "    -   id: post-1\n        groups:\n            - GID_a\n"
        "            -   id: GID_b\n                topic: t\n"
    ),
    "indent 4, dash at 4, mapping after one space": (
        "instances:\n    - id: post-1\n      groups:\n          - GID_a\n          - GID_b\n"
    ),
    "mixed widths per level": ("a:\n    b:\n      c: 1\n      d:\n      - x\n    e: 2\nf: 3\n"),
    "comments and blank lines": (
        "# head\n\nversion: 1\n\n# instances follow\ninstances:\n  # first\n  - id: post-1\n\n"
        "    groups:\n      # the orders\n      - GID_a\n\n      - GID_b\n# trailing\n\n"
    ),
    "empty values": "version: 1\ndefaults:\nsafety:\ninstances:\n  - id: post-1\n    groups:\n",
    "empty collections": "instances: []\ngroup_sets: {}\ntags: {}\nclients: []\n",
    "empty collections in a list": "instances:\n  - id: a\n    groups: []\n    tags: {}\n",
    "flow lists and mappings": (
        "include: [a, b]\nclients: [GID_a@@@dev1, GID_a@@@dev2]\ntags: {team: a, env: prod}\n"
    ),
    "flow items in a list": "groups:\n  - {id: GID_a, topic: orders, protect: true}\n  - [a, b]\n",
    "group sets": (
        "group_sets:\n  standard:\n    - GID_audit\n  extra: [GID_x, GID_y]\ninstances:\n"
        "  - id: post-1\n    include: [standard, extra]\n"
    ),
    "access block": (
        "instances:\n  - id: post-cn-telemetry01\n    api: onsmqtt\n    access:\n"
        "      ownership: {permissions: exclusive}\n      identities:\n"
        "        - {username: sensors, sign_mode: signed, secret: x}\n      permissions:\n"
        "        - {user: sensors, topic: telemetry/#, effect: allow, action: pub}\n"
        "        - {client: dashboard-1, topic: telemetry/+/config, effect: deny, action: sub}\n"
        "      blacklist:\n        - stolen-sensor-0042\n"
    ),
    "no final newline": "version: 1\ninstances:\n  - id: post-1",
    "spaces in values": "description: Order events consumers\nb: a  b\n",
    "extra spaces after the colon": "a:   b\nc:    [x, y]\n",
    "comment with quotes and punctuation": (
        '# the team\'s GIDs: "orders" & more! *see* |docs| 100%\nversion: 1\n'
        "instances:\n  # don't touch `these`\n  - id: post-1\n"
    ),
    "team file": (ROOT / "examples/teams/teams/orders.yaml").read_text(encoding="utf-8"),
}


@pytest.mark.parametrize("text", list(COMMON_SHAPES.values()), ids=list(COMMON_SHAPES))
def test_common_shapes_take_the_fast_path_and_mean_the_same(text: str) -> None:
    assert_fast(text)


@pytest.mark.parametrize("text", list(COMMON_SHAPES.values()), ids=list(COMMON_SHAPES))
def test_load_fast_gives_the_line_path_s_data_and_lines(text: str) -> None:
    # The wiring: load_fast hands its lines dict to parse_lines and returns its answer.
    wired_lines: ItemLines = {}
    wired = fastyaml.load_fast(text, wired_lines)
    slow_lines: ItemLines = {}
    slow = _libyaml_load(text, slow_lines)
    problems = list(_differences(wired, slow, wired_lines, slow_lines))
    assert not problems, "\n".join(problems)


def test_item_lines_of_the_big_file_shape() -> None:
    lines: ItemLines = {}
    data = parse_lines(_estate(2, 3, long=True), lines)
    assert data is not None
    groups = data["instances"][1]["groups"]
    assert lines[id(groups)].tolist() == [12, 13, 14]
    assert lines[id(data["instances"])].tolist() == [5, 10]


EXAMPLE_FILES = sorted(
    path for pattern in ("*.yaml", "*.yml") for path in (ROOT / "examples").rglob(pattern)
)


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda path: path.name)
def test_example_files_mean_the_same(path: Path) -> None:
    assert_same(path.read_text(encoding="utf-8"))


# ---------------------------------------------------------------------------------------------
# Scalars whose YAML type matters, in every position.

# Real files hold these (GIDs, topics, counts, switches, shares): they must take the fast path
# in every value position, typed as PyYAML types them.
COMMON_SCALARS = [
    "yes", "no", "on", "off", "true", "false", "True", "FALSE", "Yes", "NULL", "null", "Null",
    "~", "1", "+1", "0", "10", "0x1F", "0o17", "017", "1_000", "1.5", ".5", "0.25", "1e3",
    "1.0e3", ".inf", ".NaN",
    "GID_a", "GID-b_c", "a:b", "http://x", "http://x:80/p", "x#y", "$x", "${VAR}", "x-",
    "post-cn-1", "GID_a@@@dev1", "telemetry/#", "telemetry/+/config", "a.b.json",
    "中文", "🙂", "é", "x" * 300, "a b", "a  b",
]  # fmt: skip

# These must only mean the same (or be left to libyaml): dates and sexagesimal numbers are
# typed too, but no file of ours holds them; the rest is odd or not YAML at all.
TRICKY_SCALARS = [
    *COMMON_SCALARS,
    "-1", "-.5", "-.inf", "-x", "--", "-:", "-#", "x:?y", "x:?", "x?:y", "x::y",
    "2001-12-14", "2001-12-14t21:59:43.10-05:00", "2001-12-14 21:59:43.10 -5",
    "2001-12-15T02:59:43.1Z", "2001-13-14", "2002-02-29", "2001-1-1",
    "12:30", "190:20:30", "190:20:30.15", "-1:30", "1:60", "1.5:30",
    "y", "n", "Y", "N", "YES", "yEs", "ON", "oFF", "tRUE", "nULL", "NuLL",
    "0b101", "0x_1F", "0o", "08", "09.5", "00", "-0", "-0.0", "+0.0", "1__0", "_1", "1_",
    "1.", "+.inf", ".INF", ".Inf", ".iNf", ".nan", ".NAN", "-.nan", "1.0e+3", "6.8523015e+5",
    "685.230_15e+03", "0x", "0xG",
    "=", "<<", "@x", "`x", "%x", "&x", "*x", "!x", "|x", ">x", "?x", "? x", "- x", ": x",
    "x:", "x: y", "x #y", "x # y", "#x", "x,y", "x, y", "{x}", "[x]", "x{y}", "x[y]", "x}",
    "x]", "}x", "]x", "{", "}", "[", "]", ",", "-", "?", ":", "x'y", 'x"y', "'x'", '"x"',
    " x", "x ", "\tx", "x\t", "x\ty", "\xa0", "x\xa0", "a\u2028b", "a\x85b", "a\rb",
    "\ufeffx", "x\x0cy", "x\x00", "x" * 1100, "-1x", "1x", "+", "0:", "a:b:c",
    "1" * 5000, "1" * 5000 + ".5", "1:" * 2000 + "1", "0x" + "f" * 5000,
]  # fmt: skip

PLACES = {
    "block value": "k: {0}\n",
    "nested value": "a:\n  b: {0}\n",
    "block key": "{0}: v\n",
    "nested key": "a:\n  {0}: v\n",
    "sequence item": "k:\n  - {0}\n",
    "indentless item": "k:\n- {0}\n",
    "compact mapping": "k:\n  - {0}: v\n    k: {0}\n",
    "top-level item": "- {0}\n",
    "flow sequence": "k: [a, {0}, b]\n",
    "flow sequence alone": "k: [{0}]\n",
    "flow mapping value": "k: {{a: {0}, b: c}}\n",
    "flow mapping key": "k: {{{0}: a}}\n",
    "flow in a list": "k:\n  - {{id: {0}}}\n  - [{0}]\n",
    "top level": "{0}",
}
VALUE_PLACES = [
    "block value", "nested value", "sequence item", "indentless item", "flow sequence",
    "flow sequence alone", "flow mapping value", "flow in a list",
]  # fmt: skip


@pytest.mark.parametrize("place", list(PLACES))
@pytest.mark.parametrize("scalar", TRICKY_SCALARS, ids=_test_id)
def test_tricky_scalars_mean_the_same_everywhere(scalar: str, place: str) -> None:
    assert_same(PLACES[place].format(scalar))


# In a flow collection "{" opens a mapping: "${VAR}" is no plain scalar there.
FAST_SCALARS_IN_PLACES = [
    (scalar, place)
    for scalar in COMMON_SCALARS
    for place in VALUE_PLACES
    if not (scalar == "${VAR}" and "flow" in place)
]


@pytest.mark.parametrize(
    ("scalar", "place"),
    FAST_SCALARS_IN_PLACES,
    ids=[f"{_test_id(scalar)} as {place}" for scalar, place in FAST_SCALARS_IN_PLACES],
)
def test_common_scalars_take_the_fast_path_typed_as_pyyaml_types_them(
    scalar: str, place: str
) -> None:
    assert_fast(PLACES[place].format(scalar))


# Every scalar of three characters from YAML's indicators and a few others: libyaml's rules
# for single characters (": " ends a key, ":?" is refused in a flow...) met exhaustively.
THREE_CHARACTER_ALPHABET = "-?:,[]{}#@~=. 0a"


THREE_CHARACTER_PLACES = {
    "block value": "k: {0}\n",
    "block key": "{0}: v\n",
    "sequence item": "k:\n- {0}\n",
    "flow sequence": "k: [{0}]\n",
    "flow mapping key": "k: {{{0}: v}}\n",
    "flow mapping value": "k: {{v: {0}}}\n",
}


@pytest.mark.parametrize("place", THREE_CHARACTER_PLACES.values(), ids=list(THREE_CHARACTER_PLACES))
def test_every_three_character_scalar_means_the_same(place: str) -> None:
    failures = []
    for characters in itertools.product(THREE_CHARACTER_ALPHABET, repeat=3):
        try:
            assert_same(place.format("".join(characters)))
        except AssertionError as exc:
            failures.append(str(exc).splitlines()[0])
    assert not failures, f"{len(failures)} differ, the first:\n" + "\n".join(failures[:10])


@pytest.mark.parametrize(
    "key", ["GID_a", "id", "a:b", "x-", "中文", "🙂", "a b", "1", "true", "~", "x#y"]
)
def test_common_keys_take_the_fast_path(key: str) -> None:
    assert_fast(f"{key}: v\nk:\n  {key}: w\n")
    assert_fast(f"k: {{{key}: v}}\n")


# ---------------------------------------------------------------------------------------------
# Structures outside the subset, or at its edge: None, or the same data.

EDGE_CASES = [
    "",
    "\n",
    "   \n",
    "# only a comment\n",
    "# one\n\n# two\n",
    "a: 1\tb\n",
    "a:\n\t- b\n",
    "a:\tb\n",
    "a: b\t\n",
    "\ta: b\n",
    "a: 1\r\nb: 2\r\n",
    "a: 1\rb: 2\r",
    "a: 1\x85b: 2\n",
    "a: 1\u2028b: 2\n",
    "a: 1\u2029b: 2\n",
    "a: 1\x0bb: 2\n",
    "a: 1\x0cb: 2\n",
    "a: 1\x1cb: 2\n",
    "\ufeffa: 1\n",
    "a: 1\n\ufeffb: 2\n",
    "a: \x07\n",
    "a: \ud800\n",
    "---\na: 1\n",
    "--- a: 1\n",
    "a: 1\n...\n",
    "a: 1\n---\nb: 2\n",
    "---\n",
    "a: ---\n",
    "a: ...\n",
    "- ---\n",
    "%YAML 1.1\n---\na: 1\n",
    "%TAG ! tag:x,2000:\n---\na: 1\n",
    "a: &x 1\nb: *x\n",
    "a: &x [1]\nb: *x\n",
    "a: !!str 1\n",
    "a: !x b\n",
    "!!map {a: 1}\n",
    "<<: {a: 1}\nb: 2\n",
    "a:\n  <<: {x: 1}\n",
    "a: 'q'\n",
    'a: "q"\n',
    "'a': q\n",
    "a: [b, 'c']\n",
    "a: |\n  x\n",
    "a: >\n  x\n  y\n",
    "a: |-\n  x\n",
    "- |\n  x\n",
    "a: [b,\n  c]\n",
    "a: {b: c,\n  d: e}\n",
    "a: [\n  b]\n",
    "a: b\n  c\n",
    "a: b\n  c\nd: e\n",
    "- a\n  b\n",
    "- a\n    b\n",
    "a: b\n\n  c\n",
    "a: b # c\n",
    "a: [b] # c\n",
    "a: {b: c} # d\n",
    "- a # b\n",
    "a: # c\n  b: 1\n",
    "a: b #c\n",
    "a: b#c\n",
    "a:#c\n",
    "a: 1\na: 2\n",
    "a:\n  b: 1\n  b: 2\n",
    "- a: 1\n  a: 2\n",
    "a: {b: 1, b: 2}\n",
    "1: a\n0x1: b\n",
    "1: a\ntrue: b\n",
    "true: a\nyes: b\n",
    "0: a\nfalse: b\n",
    "1.0: a\n1: b\n",
    "~: a\nnull: b\n",
    "a: 1\n'a': 2\n",
    ".nan: a\n.nan: b\n",
    "2001-12-14: a\n2001-12-14: b\n",
    "- - a\n",
    "- - a\n  - b\n",
    "- - - a\n",
    "- \n",
    "-\n",
    "- \n- a\n",
    "-\n  a: 1\n",
    "-\n  - a\n",
    "-\n  a\n",
    "- a:\n  - b\n",
    "- a: - b\n",
    "a: - b\n",
    "a: b: c\n",
    "- a: b: c\n",
    "? a\n: b\n",
    "? a\n",
    "? [a]\n: b\n",
    "[a]: b\n",
    "{a: 1}: b\n",
    ": a\n",
    "a:\n  b: 1\n c: 2\n",
    "a:\n  b: 1\n    c: 2\n",
    "a:\n  - b\n - c\n",
    "a:\n  - b\n    - c\n",
    "a:\n - b\n  - c\n",
    " a: 1\nb: 2\n",
    "a: 1\n b: 2\n",
    "  a: 1\n  b: 2\n",
    "a:\n  b: 1\nc:\n    d: 2\n",
    "a:\n- b\nc: d\n",
    "a:\n- b\n  c: d\n",
    "a:\n- b\n  - c\n",
    "- a\nb: c\n",
    "a: b\n- c\n",
    "a:\n  - b\n  c: d\n",
    "a:\n  b: c\n  - d\n",
    "a: 1\n# c\n  b: 2\n",
    "a:\n  # c\n  b: 1\n",
    "a:\n    # c\n  b: 1\n",
    "a:\n# c\n  b: 1\n",
    "a:\n  b:\n  c:\n",
    "a", "1", "~", "true", "a b", "[a]", "{a: b}", "a: b", "-", "- a",
    "- a\n- b: 1\n  c: 2\n",
    "{a: 1, b: two}\n",
    "[a, 1, true]\n",
    "1: a\n",
    "yes: b\n",
    "null: a\n",
    "~: a\n",
    "1.5: a\n",
    "2001-12-14: a\n",
    "{a}\n",
    "{a, b: c}\n",
    "{a: }\n",
    "{: a}\n",
    "{a: b, }\n",
    "{a: [b]}\n",
    "{a: {b: c}}\n",
    "[a, [b]]\n",
    "[[a]]\n",
    "[a, {b: c}]\n",
    "[a, ]\n",
    "[a,,b]\n",
    "[,]\n",
    "[ ]\n",
    "{ }\n",
    "[ a , b ]\n",
    "[a,b]\n",
    "{a:b}\n",
    "{a:1, c: d}\n",
    "[a:1]\n",
    "[a: 1]\n",
    "[a: 1, b]\n",
    "{a: b c}\n",
    "[a b, c]\n",
    "[http://x]\n",
    "{url: http://x:80}\n",
    "[a#b]\n",
    "[a #b]\n",
    "[a] b\n",
    "[a]]\n",
    "{a: b}}\n",
    "[-]\n",
    "[- a]\n",
    "[-a]\n",
    "{a: -}\n",
    "[?]\n",
    "[? a]\n",
    "{? a}\n",
    "[a\n",
    "{a: b\n",
    "]\n",
    "a: ]\n",
    "a: }\n",
    "a: [b]c\n",
    "a: [b] c\n",
    "a: {b: c}d\n",
    "a: [b]\n  c\n",
    "- [a]\n  b\n",
    "a:\n  [b]\n",
    "a:\n  {b: c}\n",
    "a:\n  b\n",
    "a:\n  b\n  c\n",
    "a:    \n  b: 1\n",
    "a: 1   \n",
    "a  : 1\n",
    "a :1\n",
    "a:1\n",
    "a:1\nb: 2\n",
    "- a:1\n",
    "a::\n",
    "a: :\n",
    "a: b:\n",
    "-a: b\n",
    "--a: b\n",
    "- -a: b\n",
    "a-: b\n",
    "x" * 1023 + ": v\n",
    "x" * 1024 + ": v\n",
    "x" * 1025 + ": v\n",
    "{" + "x" * 1100 + ": v}\n",
    "k: {" + "x" * 1025 + ": v}\n",
    "k:\n  - " + "x" * 1025 + ": v\n",
    "k:\n  - a: b\n    " + "x" * 1025 + ": v\n",
    "中" * 1024 + ": v\n",
    "中" * 1025 + ": v\n",
    "🙂" * 1025 + ": v\n",
    "a:\n" + "  " * 60 + "b: 1\n",
    "".join("  " * depth + f"k{depth}:\n" for depth in range(60)),
    "".join("  " * depth + "- \n" for depth in range(60)),
    "- " * 60 + "a\n",
    "a: " + "[" * 60 + "]" * 60 + "\n",
]  # fmt: skip


@pytest.mark.parametrize("text", EDGE_CASES, ids=_test_id)
def test_edge_cases_give_none_or_the_same(text: str) -> None:
    assert_same(text)


# Lines of the shapes above (and some outside them), each at every indentation up to 4: every
# document of two of them, so each way one line can follow another is met, not left to chance.
LINE_SHAPES = [
    "k{0}:", "k{0}: v", "k{0}: [v, w]", "k{0}: {{a: b}}", "k{0}: []", "- v{0}", "- k{0}:",
    "- k{0}: v", "-  k{0}: v", "- [v]", "- {{id: g{0}}}", "-", "- - v", "# c", "", "v{0}",
    "? k{0}", ": v", "k:",
]  # fmt: skip


def test_every_two_line_document_means_the_same() -> None:
    lines = [" " * indent + shape for shape in LINE_SHAPES for indent in range(5)]
    failures = []
    for first, second in itertools.product(lines, repeat=2):
        text = f"{first.format(0)}\n{second.format(1)}\n"
        try:
            assert_same(text)
        except AssertionError as exc:
            failures.append(str(exc).splitlines()[0])
    assert not failures, f"{len(failures)} differ, the first:\n" + "\n".join(failures[:10])


def _nested_mappings(depth: int, leaf: str) -> str:
    keys = [f"{'  ' * level}k{level}:" for level in range(depth)]
    return "\n".join(keys) + f" {leaf}\n"


def _nested_items(depth: int, leaf: str) -> str:
    """``depth`` sequences, each item a mapping holding the next (2 levels each)."""
    items = [f"{'  ' * level}- k{level}:" for level in range(depth - 1)]
    return "k:\n" + "\n".join(items) + f"\n{'  ' * (depth - 1)}- {leaf}\n"


# Around fastyaml.MAX_DEPTH libyaml's event path hands over to PyYAML's composer (no item
# lines there): the line parser must stop where it stops, flow collections counted.
DEPTHS = {
    **{
        f"{depth} mappings, {leaf}": _nested_mappings(depth, leaf)
        for depth in range(fastyaml.MAX_DEPTH - 2, fastyaml.MAX_DEPTH + 2)
        for leaf in ["v", "[a]", "{a: b}", "[]", "{}"]
    },
    **{
        f"{depth} items, {leaf}": _nested_items(depth, leaf)
        for depth in range(fastyaml.MAX_DEPTH // 2 - 2, fastyaml.MAX_DEPTH // 2 + 2)
        for leaf in ["v", "[a]", "{a: b}", "x: [a]"]
    },
}


@pytest.mark.parametrize("text", DEPTHS.values(), ids=list(DEPTHS))
def test_nesting_near_the_depth_limit_means_the_same(text: str) -> None:
    assert_same(text)


def test_nesting_well_below_the_depth_limit_takes_the_fast_path() -> None:
    assert_fast(_nested_mappings(fastyaml.MAX_DEPTH - 5, "[a]"))
    assert_fast(_nested_items(fastyaml.MAX_DEPTH // 2 - 3, "[a]"))


# ---------------------------------------------------------------------------------------------
# Random documents close to the files' shapes, and their one-character mutations.

FUZZ = settings(
    max_examples=300,  # each example is three small parses: cheap, and the grammar is wide
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

SAFE_KEYS = [
    "version", "backend", "local", "path", "provider", "region", "api", "defaults",
    "ownership", "protect", "safety", "max_deletes", "instances", "id", "groups", "topic",
    "include", "clients", "tags", "team", "env", "group_sets", "standard", "description",
]  # fmt: skip
SAFE_VALUES = [
    "GID_a", "GID_orders-1", "orders", "post-cn-fleet0001", "cn-hangzhou", "managed",
    "big-state.json", "telemetry/#", "telemetry/+/config", "GID_a@@@dev1", "a:b",
    "1", "0", "10", "0.25", "true", "false", "yes", "no", "null", "~",
    "Over the air updates",
]  # fmt: skip
ODD_CHARACTERS = " -:#{}[],'\"\t\n&*!|>?%@~\r\x85\u2028\ufeff"
MUTATION_CHARACTERS = st.sampled_from(ODD_CHARACTERS + "abxyz019.")


def _mostly(usual: st.SearchStrategy[str], *rare: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """``usual``, but one draw in six from ``rare``: a document with an odd scalar in every
    line would always be left to libyaml, and test nothing of the fast path."""
    return st.integers(0, 5).flatmap(lambda n: usual if n else st.one_of(*rare))


def _sometimes(draw: st.DrawFn, one_in: int) -> bool:
    return draw(st.integers(0, one_in - 1)) == one_in - 1  # shrinks to False


ANY_VALUES = _mostly(
    st.sampled_from(SAFE_VALUES + COMMON_SCALARS),
    st.sampled_from(TRICKY_SCALARS),
    st.text(alphabet=ODD_CHARACTERS + "abxy01.", min_size=1, max_size=5),
)
ANY_KEYS = _mostly(
    st.sampled_from([*SAFE_KEYS, "1", "true", "~", "a:b", "x-", "中文", "x" * 1024, "x" * 1025]),
    st.sampled_from(TRICKY_SCALARS),
    st.text(alphabet=ODD_CHARACTERS + "ab01", min_size=1, max_size=3),
)
MAX_DEPTH = 3


class _Writer:
    """Writes one random document, line by line, from a YAML-ish grammar of the files' shapes.

    ``safe``: only what every real file is made of (unique word keys, common scalars, widths 2
    and 4, full-line comments and empty lines), all of which the fast path must take. Else
    now and then also odd scalars, odd indentation, duplicate keys, trailing comments and
    spaces, document markers, and sequences in sequences.
    """

    def __init__(self, draw: st.DrawFn, *, safe: bool) -> None:
        self.draw = draw
        self.safe = safe
        self.values = st.sampled_from(SAFE_VALUES) if safe else ANY_VALUES
        self.keys = st.sampled_from(SAFE_KEYS) if safe else ANY_KEYS
        self.out: list[str] = []

    def odd(self, one_in: int) -> bool:
        return not self.safe and _sometimes(self.draw, one_in)

    def width(self) -> int:
        return self.draw(st.sampled_from([1, 3, 8] if self.odd(8) else [2, 4]))

    def document(self) -> str:
        top = "mapping"
        if self.odd(6):
            top = self.draw(st.sampled_from(["sequence", "scalar", "flow"]))
        if top == "mapping":
            self.mapping(self.width() if self.odd(20) else 0, 0)
        elif top == "sequence":
            self.sequence(0, 0)
        elif top == "scalar":
            self.emit(self.value())
        else:
            self.emit(self.flow())
        end = "\n"
        if self.odd(4):
            end = self.draw(st.sampled_from(["", "\n\n", "\n# end", "\n---\n", "\n...\n"]))
        elif self.safe:
            end = self.draw(st.sampled_from(["\n", ""]))
        return "\n".join(self.out) + end

    def value(self) -> str:
        return self.draw(self.values)

    def emit(self, line: str) -> None:
        if self.odd(30):
            line += self.draw(st.sampled_from([" ", "  ", "\t", " # c", " #", "#c", "\r"]))
        self.out.append(line)
        self.filler(len(line) - len(line.lstrip(" -")))

    def filler(self, indent: int) -> None:
        if not _sometimes(self.draw, 5):
            return
        fillers = ["", " " * indent + "# c", "# top", " " * indent + "#", "  "]
        if self.odd(5):
            fillers = ["\t", " " * (indent + 1) + "# c", "---", "...", "# it's", "%x", "? x"]
        self.out.append(self.draw(st.sampled_from(fillers)))

    def key_list(self, *, at_least: int) -> list[str]:
        unique = not self.odd(15)
        return self.draw(st.lists(self.keys, min_size=at_least, max_size=4, unique=unique))

    def flow(self) -> str:
        comma = self.draw(st.sampled_from([", ", ",", " , "])) if self.odd(5) else ", "
        if self.draw(st.booleans()):
            return "[" + comma.join(self.draw(st.lists(self.values, max_size=3))) + "]"
        pairs = [f"{key}: {self.value()}" for key in self.key_list(at_least=0)]
        if pairs and self.odd(10):
            pairs[-1] = pairs[-1].split(":")[0]  # {a} or {a, b: c}
        return "{" + comma.join(pairs) + "}"

    def mapping(self, indent: int, depth: int, first: str | None = None) -> None:
        for index, key in enumerate(self.key_list(at_least=1)):
            prefix = first if index == 0 and first is not None else " " * indent
            if index and self.odd(25):
                prefix = " " * max(0, indent + self.draw(st.sampled_from([-1, 1])))
            self.entry(f"{prefix}{key}:", indent, depth)

    def entry(self, head: str, indent: int, depth: int) -> None:
        kinds = ["scalar", "scalar", "empty", "flow"]
        if depth < MAX_DEPTH:
            kinds += ["mapping", "sequence", "sequence", "indentless"]
        kind = self.draw(st.sampled_from(kinds))
        if kind == "scalar":
            self.emit(f"{head} {self.value()}")
        elif kind == "empty":
            self.emit(head)
        elif kind == "flow":
            self.emit(f"{head} {self.flow()}")
        else:
            self.emit(head)
            width = 0 if kind == "indentless" else self.width()
            if kind == "mapping":
                self.mapping(indent + width, depth + 1)
            else:
                self.sequence(indent + width, depth + 1)

    def sequence(self, indent: int, depth: int) -> None:
        kinds = ["scalar", "scalar", "flow"]
        if depth < MAX_DEPTH:
            kinds += ["compact", "compact"]
        for _ in range(self.draw(st.integers(1, 3))):
            kind = self.draw(st.sampled_from(kinds))
            if depth < MAX_DEPTH and self.odd(10):
                kind = self.draw(st.sampled_from(["nested", "next line", "empty"]))
            spaces = self.draw(st.integers(1, 3)) if self.odd(5) else 1
            dash = " " * indent + "-" + " " * spaces
            if kind == "scalar":
                self.emit(dash + self.value())
            elif kind == "flow":
                self.emit(dash + self.flow())
            elif kind == "compact":
                self.mapping(len(dash), depth + 1, first=dash)
            elif kind == "nested":
                self.emit(dash + "- " + self.value())
            elif kind == "next line":
                self.emit(dash.rstrip())
                self.mapping(indent + self.width(), depth + 1)
            else:
                self.emit(dash.rstrip())


@st.composite
def documents(draw: st.DrawFn, *, safe: bool) -> str:
    return _Writer(draw, safe=safe).document()


MUTATIONS = st.lists(
    st.tuples(
        st.sampled_from(["insert", "delete", "replace"]),
        st.integers(min_value=0, max_value=10_000),
        MUTATION_CHARACTERS,
    ),
    max_size=2,
)


def _mutated(text: str, mutations: list[tuple[str, int, str]]) -> str:
    for operation, position, character in mutations:
        at = position % (len(text) + 1)
        if operation == "insert":
            text = text[:at] + character + text[at:]
        elif operation == "delete":
            text = text[:at] + text[at + 1 :]
        else:
            text = text[:at] + character + text[at + 1 :]
    return text


@FUZZ
@given(documents(safe=True))
@example("a: 1\nb:\n  - c\n  - d: e\n    f: [g, h]\n")
def test_random_documents_of_the_common_shapes_take_the_fast_path(text: str) -> None:
    assert_fast(text)


@FUZZ
@given(documents(safe=True), MUTATIONS)
def test_mutated_common_documents_mean_the_same(
    text: str, mutations: list[tuple[str, int, str]]
) -> None:
    assert_same(_mutated(text, mutations))


@FUZZ
@given(documents(safe=False), MUTATIONS)
def test_random_yamlish_documents_mean_the_same(
    text: str, mutations: list[tuple[str, int, str]]
) -> None:
    assert_same(_mutated(text, mutations))


def test_a_resolver_claiming_a_letter_is_followed(monkeypatch: pytest.MonkeyPatch) -> None:
    """A plain word starting with a letter no resolver claims is a string without asking; one
    a resolver (here an added one, for "G") claims must still be asked, on both paths."""
    claimed = {
        start: list(resolvers)
        for start, resolvers in fastyaml._FastLoader.yaml_implicit_resolvers.items()
    }
    claimed.setdefault("G", []).append(("tag:yaml.org,2002:null", re.compile(r"^GONE$")))
    monkeypatch.setattr(fastyaml._FastLoader, "yaml_implicit_resolvers", claimed)
    text = "a: GONE\nb: [GONE, GONE_1, Hello_2]\nc:\n  - {x: GONE, y: GID_1}\n"
    assert assert_fast(text) == {
        "a": None,
        "b": [None, "GONE_1", "Hello_2"],
        "c": [{"x": None, "y": "GID_1"}],
    }


def test_the_ascii_shortcuts_name_the_patterns_own_characters() -> None:
    # An ASCII text is searched character by character instead of by the patterns.
    for character in map(chr, range(0x80)):
        unreadable = line_parser._UNREADABLE.search(character) is not None
        assert (character in line_parser._UNREADABLE_ASCII) == unreadable, repr(character)
        assert line_parser._unreadable(f"a: b{character}\n") == unreadable, repr(character)
        unusual = line_parser._UNUSUAL.search(character) is not None
        assert (character in line_parser._UNUSUAL_CHARACTERS) == unusual, repr(character)
    assert line_parser._unreadable("a: é\u2028\n")
    assert not line_parser._unreadable("a: é\n")
