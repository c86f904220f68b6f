"""The event-built fast path must mean exactly what PyYAML's composer + constructors mean."""

from __future__ import annotations

import importlib
import math
from typing import Any

import pytest
import yaml

from reconciler.config import fastyaml


def _composed(text: str) -> Any:
    loader = fastyaml._FastLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def _same(left: Any, right: Any) -> bool:
    if isinstance(left, float) and isinstance(right, float) and math.isnan(left):
        return math.isnan(right)
    if isinstance(left, dict) and isinstance(right, dict):
        return list(left) == list(right) and all(_same(left[k], right[k]) for k in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(map(_same, left, right))
    return type(left) is type(right) and left == right


TYPICAL = [
    "",
    "# only a comment\n",
    "---\n",
    "version: 1\ninstances:\n  - id: post-cn-1\n    groups:\n      - GID_a\n"
    "      - {id: GID_b, topic: orders, protect: yes}\n",
    "- a\n- b: [1, 2.5, .inf, -.nan, 0x1f, 0o7, 1_000, 1:30, +1, -2]\n",
    "a: yes\nb: No\nc: ~\nd: null\ne: 2001-12-14t21:59:43.10-05:00\nf: 2002-12-14\ng:\n",
    # The same text plain and quoted, repeated: a scalar resolved once must mean the same
    # each time it comes back, whichever way it is written.
    "a: [orders, 'orders', orders, \"true\", true, 'true', on, 'on', on, 1, '1', 1]\n"
    "b: [null, 'null', null, ~, '~', ~, topic, \"topic\", topic]\n",
    "x: 'q'\ny: \"2\"\nz: |\n  hi\nw: >\n  folded\n",
    "2: a\n1.5: b\ntrue: c\n~: d\n",
    "[[[[[1]]]]]",
    "'<<': 1\n'=': 2\n",
]


@pytest.mark.parametrize("text", TYPICAL)
def test_typical_files_take_the_event_path_and_mean_the_same(text: str) -> None:
    assert _same(fastyaml._load_from_events(text), _composed(text))


UNUSUAL = [
    "<<: {a: 1}\nb: 2\n",
    "a: &x 1\nb: *x\n",
    "!!str 1",
    "a: !!int '3'\n",
    "a: !!set {x, y}\n",
    "a: ! x\n",
    "[" * 51 + "]" * 51,
]


@pytest.mark.parametrize("text", UNUSUAL)
def test_unusual_files_fall_back_to_the_composer(text: str) -> None:
    with pytest.raises(fastyaml._Unusual):
        fastyaml._load_from_events(text)
    assert _same(fastyaml.load_fast(text), _composed(text))


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("a: 1\na: 2\n", fastyaml.DuplicateKeyFound),
        ("{a: 1, a: 1}", fastyaml.DuplicateKeyFound),
        ("--- 1\n--- 2\n", Exception),
        ("a: [\n", Exception),
        ("a: b: c\n", Exception),
        ("a: *nowhere\n", Exception),
        ("a: 2001-13-45\n", Exception),
        ("? [a, b]\n: 1\n", Exception),
        ("a: =\n", Exception),
        ("1: a\ntrue: b\n", fastyaml.DuplicateKeyFound),
    ],
)
def test_problems_raise_what_the_composer_raises(text: str, error: type[Exception]) -> None:
    with pytest.raises(error) as fast:
        fastyaml.load_fast(text)
    with pytest.raises(error) as composed:
        _composed(text)
    assert type(fast.value) is type(composed.value)
    assert str(fast.value) == str(composed.value)


def test_deep_nesting_fails_cleanly_whatever_the_pyyaml_version() -> None:
    # PyYAML 6.0.4's scanner caps flow nesting itself (a YAMLError); older releases recurse.
    with pytest.raises((RecursionError, yaml.YAMLError)):
        fastyaml.load_fast("[" * 2000 + "]" * 2000)


@pytest.mark.parametrize(
    "text",
    [
        "a: 1\nb: [1, 2]\na: 2\n",
        "a: [\n",
        "a: b: c\n",
        "a:\n  - 1\n - 2\n",
        "a: \x07\n",
    ],
)
def test_syntax_errors_and_duplicate_keys_are_heard_once(
    text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The event path met them: the composer would only read the text again to meet them again
    # (for 6 MB, seconds).
    def composer(loader: Any) -> Any:
        raise AssertionError("the text was read a second time")

    monkeypatch.setattr(fastyaml._FastLoader, "get_single_data", composer)
    with pytest.raises((fastyaml.DuplicateKeyFound, *fastyaml.SYNTAX_ERRORS)):
        fastyaml.load_fast(text)


def test_the_docstring_names_the_modules_that_locate_failures() -> None:
    # It once said the loader re-parsed with ruamel.yaml to locate every failure; libyaml's
    # events (locate) do, and libyaml's own words report a syntax error.
    doc = fastyaml.__doc__ or ""
    assert "re-parses with ruamel.yaml" not in doc
    assert "ruamel" not in doc
    assert "round-trip pass says where" not in (fastyaml.DuplicateKeyFound.__doc__ or "")
    assert "``locate``" in doc
    importlib.import_module("reconciler.config.locate")


def test_a_repeated_plain_scalar_is_held_once() -> None:
    # 100,000 "topic: orders" held 100,000 copies of "orders" (and matched each against the
    # resolvers) until the raw tree was freed.
    data = fastyaml.load_fast("- {topic: orders}\n- {topic: orders}\n- {topic: 'orders'}\n")
    assert data == [{"topic": "orders"}] * 3
    assert data[0]["topic"] is data[1]["topic"] is data[2]["topic"]
