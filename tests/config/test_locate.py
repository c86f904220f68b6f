"""Locating problems with libyaml's events, at the positions libyaml gives.

A missing value (``key:`` and nothing) is where libyaml puts it: right after the colon in a
block mapping, at the next token in a flow mapping. The hypothesis test checks, for every node
of random documents, that the tree pruned to the path asked about locates it where the whole
tree does.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.config import locate
from reconciler.config.issues import Loc
from reconciler.config.loader import load_desired_text_result
from reconciler.errors import ConfigErrors

HEAD = "version: 1\ninstances:\n  - id: post-1\n"
EMPTY_GROUPS = "expected a list, found nothing (an empty value) (at instances[0].groups)"
REGION = "unknown region 'cn-hangzou' (did you mean 'cn-hangzhou'?); fine if the region is new"

CASES = [
    pytest.param(
        HEAD + "    groups:\n    ownership: managed\n",
        [f"4:12: {EMPTY_GROUPS}"],
        id="missing value before the next key",
    ),
    pytest.param(
        HEAD + "    groups:  # none yet\n    ownership: managed\n",
        [f"4:12: {EMPTY_GROUPS}"],
        id="missing value with a comment",
    ),
    pytest.param(
        HEAD + "    groups:\n  - id: post-2\n",
        [f"4:12: {EMPTY_GROUPS}"],
        id="missing value at the end of a mapping",
    ),
    pytest.param(
        HEAD + "    groups:  # none yet\n\n  - id: post-2\n",
        [f"4:12: {EMPTY_GROUPS}"],
        id="missing value, comment, end of a mapping",
    ),
    pytest.param(
        HEAD + "    groups:",
        [f"4:12: {EMPTY_GROUPS}"],
        id="missing value at the end of a text without a final newline",
    ),
    pytest.param(
        HEAD + "    groups: [{id: , topic: orders}]\n",
        ["4:19: expected a string, found nothing (an empty value) (at instances[0].groups[0].id)"],
        id="missing value in a flow mapping",
    ),
    pytest.param(
        # libyaml ends a text without a final line break on the line after it.
        "---",
        ["2:1: the file is empty: a desired-state file starts with 'version: 1'"],
        id="an empty document",
    ),
    pytest.param(
        "version: 1\ninstances:\n  - &first\n    id: post-1\n    region: cn-hangzou\n"
        "  - <<: *first\n    id: post-2\n",
        [
            f"5:13: warning: {REGION} (at instances[0].region)",
            f"5:13: warning: {REGION} (at instances[1].region)",
        ],
        id="a warning under a merge",
    ),
    pytest.param(
        "version: 1\nprovider:\n  region: &r cn-hangzou\n"
        "instances:\n  - id: post-1\n    region: *r\n",
        [
            f"3:11: warning: {REGION} (at provider.region)",
            f"6:13: warning: {REGION} (at instances[0].region)",
        ],
        id="a warning on an alias",
    ),
    pytest.param(
        "version: 1\ninstances: [\n",
        ["3:1: YAML syntax error: did not find expected node content"],
        id="a syntax error in libyaml's words",
    ),
    pytest.param(
        # libyaml, as the fast path, reads the tab (ruamel.yaml refused it: a syntax error).
        HEAD + "    groups: [GID_orders]\n    description: a\tb\n",
        ["5:5: unknown key 'description' (at instances[0].description)"],
        id="a tab in a plain scalar",
    ),
    pytest.param(
        # libyaml ends the name at the colon (ruamel.yaml read an alias named 'region:').
        "version: 1\nprovider: *region: cn\n",
        ["2:11: YAML syntax error: found undefined alias 'region'"],
        id="an alias name followed by a colon",
    ),
    pytest.param(
        "version: 1\ngroup_sets:\n  base: &b [GID_orders, *b]\n",
        [
            "3:25: an alias refers to the collection that contains it (at group_sets.base[1])",
            "3:25: expected a GID string or a mapping with keys 'id', 'topic', 'protect', "
            "'absent', 'description', 'clients' or 'tags', found nothing (an empty value) "
            "(at group_sets.base[1])",
        ],
        id="an alias inside the collection it names",
    ),
    pytest.param(
        "version: 1\ndefaults: &d\n  ownership: mine\ninstances:\n  - id: post-1\nsafety: *d\n",
        [
            "3:3: unknown key 'ownership' (at safety.ownership)",
            "3:14: 'mine' is not allowed here: expected 'managed' or 'exclusive' "
            "(at defaults.ownership)",
        ],
        id="keys of an aliased mapping",
    ),
]


def _report(text: str) -> list[str]:
    try:
        result = load_desired_text_result(text, "d.yaml", env={})
    except ConfigErrors as exc:
        lines = [error.format() for error in exc.errors]
    else:
        lines = [warning.format() for warning in result.warnings]
    return [line.removeprefix("d.yaml:") for line in lines]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_problems_are_located_where_libyaml_puts_them(text: str, expected: list[str]) -> None:
    assert _report(text) == expected


def test_yaml_11_booleans_after_a_document_start_make_no_phantom_error() -> None:
    # ruamel.yaml read a document after `---` as YAML 1.2, where `yes` is a string: the
    # located errors then included one the loaded data does not have.
    text = (
        "---\nversion: 1\ninstances:\n  - id: post-1\n"
        "    groups: [{id: GID_abc, protect: yes}]\n    regoin: x\n"
    )
    assert _report(text) == [
        "6:5: unknown key 'regoin' (did you mean 'region'?) (at instances[0].regoin)"
    ]


def test_a_pruned_tree_keeps_only_the_wanted_paths_and_anchors() -> None:
    text = (
        "version: 1\ngroup_sets:\n  base: &b [GID_one]\ninstances:\n"
        "  - id: post-1\n    groups: [GID_a, GID_b]\n  - id: post-2\n    groups: *b\n"
    )
    composed = locate.compose(text, locate.wanted_paths([("instances", 1, "groups", 0)]))
    root = composed.root
    assert isinstance(root, yaml.MappingNode)
    # group_sets is not on the path: dropped, though its anchored list was composed for *b.
    assert [key.value for key, _ in root.value] == ["instances"]
    instances = root.value[0][1]
    assert instances.value[0] is None and instances.value[1] is not None
    position = locate.Locator(composed).find(("instances", 1, "groups", 0))
    assert position == locate.Position(8, 13)  # at the alias *b


# --- every node, both locators -------------------------------------------------------------


KEYS = st.sampled_from(["id", "groups", "region", "a b", "yes", "1", "<<x"])
LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.sampled_from(["GID_x", "", "a: b", "#c", "multi\nline", "- x", "'q'"]),
)
DOCUMENTS = st.recursive(
    LEAVES,
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(KEYS, children, max_size=3)
    ),
    max_leaves=12,
)


def _paths(data: Any, loc: Loc = ()) -> list[tuple[Loc, bool]]:
    found: list[tuple[Loc, bool]] = [(loc, False)]
    if isinstance(data, dict):
        for key, value in data.items():
            found.append(((*loc, key), True))
            found.extend(_paths(value, (*loc, key)))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found.extend(_paths(value, (*loc, index)))
    return found


def _text(data: Any, flow: bool | None, empty_nulls: bool, comments: bool, newline: bool) -> str:
    text = yaml.safe_dump(data, default_flow_style=flow, sort_keys=False)
    if empty_nulls:  # `key:` and `-` with nothing after them, as people write them
        text = text.replace(": null\n", ":\n").replace("- null\n", "-\n")
    if comments:
        text = text.replace(":\n", ":  # note\n")
    return text if newline else text.rstrip("\n")


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(DOCUMENTS, st.sampled_from([None, False, True]), st.booleans(), st.booleans(), st.booleans())
def test_a_pruned_tree_locates_every_node_where_the_whole_tree_does(
    data: Any, flow: bool | None, empty_nulls: bool, comments: bool, newline: bool
) -> None:
    text = _text(data, flow, empty_nulls, comments, newline)
    full = locate.Locator(locate.compose(text))
    for loc, at_key in _paths(yaml.safe_load(text)):
        expected = full.find(loc, at_key=at_key)
        assert expected is not None, (text, loc, at_key)
        pruned = locate.Locator(locate.compose(text, locate.wanted_paths([loc])))
        assert pruned.find(loc, at_key=at_key) == expected, (text, loc, at_key)
