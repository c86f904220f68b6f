"""Group lists checked apart (``plain_groups``) give what the whole validation gives.

The fast check keeps a list of valid GID strings and mappings as the file gave it, skipping a
``GroupSpec`` per GID; ``resolve`` then builds each ``DesiredGroup`` from the mapping. Proved
here against the whole-document validation (``check_whole_shape``) on random entries: the
same problems, or the same resolved state and the same GIDs declared.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from reconciler.config import merge, plain_groups
from reconciler.config.checks import Expanded, check_shape, check_whole_shape
from reconciler.config.loader import load_desired_text_result
from reconciler.config.resolve import resolve
from reconciler.config.schema import GROUP_KEYS, GroupSpec
from reconciler.errors import ConfigErrors

FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])

GIDS = st.sampled_from(
    [
        "GID_orders",
        "GID-orders_2",
        "GID_" + "a" * 60,
        # Each refused by the schema.
        "GID_" + "a" * 61,
        "GID_ab",
        "gid_orders",
        "GID_orders\n",  # Python's '$' would match before the newline
        "GID_ord\u0663rs",  # a digit, but not an ASCII one
        "GID_ord ers",
        "",
    ]
)
VALUES = st.one_of(
    GIDS,
    st.sampled_from(["orders", "ab", "x" * 64, "x" * 65, "orders\n", "d" * 1024, "d" * 1025]),
    st.none(),
    st.booleans(),
    st.integers(min_value=0, max_value=1),
    st.just(1.0),
    st.just([]),
    st.just(["GID_orders@@@device"]),
    st.just({"team": "a"}),
    st.text(max_size=6),
)
CLIENTS = st.lists(
    st.sampled_from(["GID_orders@@@device", "GID_other@@@d", "", "c" * 64, "c" * 65, 1, None]),
    max_size=3,
)
TAG_WORDS = st.sampled_from(["team", "env", "", "k" * 128, "k" * 129, "v" * 128, "v" * 129])
TAGS = st.dictionaries(
    st.one_of(TAG_WORDS, st.text(min_size=1, max_size=2), st.sampled_from([1, True, None])),
    st.one_of(TAG_WORDS, st.sampled_from([1, None, True, ["a"]])),
    max_size=22,  # at most 20
)
KEYS = st.sampled_from([*GROUP_KEYS, "other", 1])
MAPPINGS = st.dictionaries(KEYS, VALUES, max_size=5) | st.fixed_dictionaries(
    {"id": GIDS},
    optional={
        "topic": st.sampled_from(["orders", "ab", None, 3, ["orders"]]),
        "protect": st.sampled_from([True, False, None, "yes", 1]),
        "absent": st.sampled_from([True, False, None, 0]),
        "description": st.sampled_from(["d", "d" * 1024, "d" * 1025, None, 5]),
        "clients": CLIENTS | st.sampled_from([None, "GID_orders@@@device", ("x",)]),
        "tags": TAGS | st.sampled_from([None, [], "team"]),
    },
)
ENTRIES = st.one_of(GIDS, MAPPINGS, st.sampled_from([None, 1, True, [], ["GID_orders"]]))
GROUP_LISTS = st.lists(ENTRIES, max_size=4)


def _document(
    groups: list[list[Any]], sets: list[list[Any]], protect: Any, extra: dict[str, Any]
) -> dict[str, Any]:
    names = [f"set{index}" for index in range(len(sets))]
    instances = [
        {"id": f"post-cn-{index}", "include": names if index == 0 else [], "groups": entries}
        for index, entries in enumerate(groups)
    ]
    return {
        "version": 1,
        "defaults": {"protect": protect},
        "group_sets": dict(zip(names, sets, strict=True)),
        "instances": instances,
        **extra,
    }


@FUZZ
@given(
    groups=st.lists(GROUP_LISTS, max_size=3),
    sets=st.lists(GROUP_LISTS, max_size=2),
    protect=st.sampled_from([True, False, "no"]),
    extra=st.sampled_from([{}, {"regoin": "x"}, {"safety": {"max_deletes": -1}}]),
)
@example(
    groups=[["GID_orders", {"id": "GID_other", "topic": "orders"}]], sets=[], protect=True, extra={}
)
@example(
    groups=[[{"id": "GID_orders", "absent": True}]], sets=[["GID_set"]], protect=True, extra={}
)
@example(groups=[[{"id": "GID_orders\n"}]], sets=[], protect=False, extra={})
@example(
    groups=[
        [
            {"id": "GID_known", "clients": ["GID_known@@@a", "GID_known@@@b"], "tags": {"t": "a"}},
            {"id": "GID_other", "tags": {"team": "a", "env": "b"}, "description": "d"},
        ]
    ],
    sets=[[{"id": "GID_set", "clients": [], "tags": None, "protect": False}]],
    protect=True,
    extra={},
)
@example(groups=[[{"id": "GID_orders", "absent": None}]], sets=[], protect=False, extra={})
@example(groups=[["GID_orders"]], sets=[], protect=False, extra={"regoin": "x"})
def test_checked_apart_or_whole_the_outcome_is_the_same(
    groups: list[list[Any]], sets: list[list[Any]], protect: Any, extra: dict[str, Any]
) -> None:
    data = _document(groups, sets, protect, extra)
    fast, fast_issues = check_shape(data)
    whole, whole_issues = check_whole_shape(data)
    assert fast_issues == whole_issues
    assert (fast is None) == (whole is None)
    if fast is None or whole is None:
        return
    fast_state = resolve(fast, Expanded(), source="f.yaml")
    whole_state = resolve(whole, Expanded(), source="f.yaml")
    assert fast_state == whole_state
    fast_groups = [g for i in fast_state.instances for g in i.groups]
    whole_groups = [g for i in whole_state.instances for g in i.groups]
    assert [g.model_fields_set for g in fast_groups] == [g.model_fields_set for g in whole_groups]
    # Where each GID is declared: the line of each entry stands for its place.
    lines = merge.GroupLines(
        [range(1000 * index, 1000 * index + len(entries)) for index, entries in enumerate(groups)],
        {
            f"set{index}": range(500 + 1000 * index, 500 + 1000 * index + len(entries))
            for index, entries in enumerate(sets)
        },
    )
    keys = [(i.instance_id, g.group_id) for i in whole_state.instances for g in i.groups]
    assert _declared(fast, lines, keys) == _declared(whole, lines, keys)


def _declared(doc: Any, lines: merge.GroupLines, keys: list[tuple[str, str]]) -> Any:
    origins = merge.single_file_origins(doc)
    return merge.declarations(doc, origins, ["f.yaml"], [""], lines).locate(keys)


@FUZZ
@given(entry=ENTRIES)
def test_an_entry_taken_as_plain_is_one_the_schema_accepts(entry: Any) -> None:
    data = {"version": 1, "instances": [{"id": "post-cn-1", "groups": [entry]}]}
    if plain_groups.is_plain([entry]):
        assert check_whole_shape(data)[0] is not None


# Each key's edge values, and values of every kind YAML builds: the fast check takes exactly
# what the schema takes.
_ANY_KIND: list[Any] = [None, True, 0, 1, 1.0, "", "text", [], ["a"], {}, {"a": "b"}]
EDGES: dict[str, list[Any]] = {
    "topic": ["abc", "ab", "x" * 64, "x" * 65, "orders\n", "ord ers", "ord\u0663rs"],
    "protect": [False],
    "absent": [False],
    "description": ["d" * 1024, "d" * 1025],
    "clients": [
        [""],
        ["c" * 64],
        ["c" * 65],
        [1],
        [None],
        ["GID_orders@@@device", ""],
        ["GID_orders@@@device", "GID_orders@@@device"],  # a duplicate: the meaning checks'
    ],
    "tags": [
        {"": "v"},
        {"k": ""},
        {"k" * 128: "v"},
        {"k" * 129: "v"},
        {"k": "v" * 128},
        {"k": "v" * 129},
        {1: "v"},
        {True: "v"},
        {"k": 1},
        {"k": None},
        {"k": ["v"]},
        {f"key{number}": "value" for number in range(20)},
        {f"key{number}": "value" for number in range(21)},
        {"aliyun:team": "v"},  # reserved: the meaning checks'
    ],
}
ONE_KEY = [(key, value) for key, edges in EDGES.items() for value in [*edges, *_ANY_KIND]]


@pytest.mark.parametrize(("key", "value"), ONE_KEY)
def test_a_valid_entry_is_plain_and_an_invalid_one_is_not(key: str, value: Any) -> None:
    entry = {"id": "GID_orders", key: value}
    data = {"version": 1, "instances": [{"id": "post-cn-1", "groups": [entry]}]}
    assert plain_groups.is_plain([entry]) == (check_whole_shape(data)[0] is not None)


class _Text(str):
    """A string YAML never builds: the schema takes it, the fast check leaves it to it."""


def test_plain_lists_are_kept_as_given_and_the_others_validated() -> None:
    plain = [
        "GID_short",
        {"id": "GID_long", "topic": "orders", "protect": False},
        {"id": "GID_known", "clients": ["GID_known@@@device"], "tags": {"team": "a"}},
    ]
    unusual = [{"id": "GID_next", "topic": "orders"}, _Text("GID_text")]
    data = {
        "version": 1,
        "group_sets": {"base": [{"id": "GID_base", "absent": True}]},
        "instances": [
            {"id": "post-cn-1", "include": ["base"], "groups": plain},
            {"id": "post-cn-2", "groups": unusual},
        ],
    }
    doc, issues = check_shape(data)
    assert issues == []
    assert doc is not None
    assert doc.instances[0].groups is plain
    assert doc.group_sets["base"] is data["group_sets"]["base"]
    kept = doc.instances[1].groups
    assert isinstance(kept[0], GroupSpec)
    assert kept[0].topic == "orders"
    assert kept[1] == "GID_text"
    assert type(kept[1]) is str


def test_an_unusual_entry_leaves_its_list_to_the_schema() -> None:
    assert plain_groups.is_plain(["GID_orders", {"id": "GID_other", "description": None}])
    for unusual in (
        {"id": "GID_orders", "tags": {"team": 1}},
        {"id": "GID_orders", "tags": {f"k{n}": "v" for n in range(21)}},
        {"id": "GID_orders", "tags": {"": "v"}},
        {"id": "GID_orders", "clients": None},
        {"id": "GID_orders", "clients": ["c" * 65]},
        {"id": "GID_orders", "absent": None},
        {"id": "GID_orders", "topic": "orders\n"},
        {"id": "GID_orders", "topic": ["orders"]},
        {"id": "GID_orders", "topic": {"orders": 1}},
        {"id": "GID_orders", "protect": "yes"},
        {"id": "GID_orders", "description": "d" * 1025},
        {"id": "GID_orders", "other": 1},
        {"topic": "orders"},
        "GID_orders\n",
        _Text("GID_orders"),
        None,
    ):
        assert not plain_groups.is_plain(["GID_fine", unusual]), unusual


def test_the_plain_keys_are_the_group_fields() -> None:
    assert set(GROUP_KEYS) == plain_groups.PLAIN_GROUP_KEYS
    assert set(GROUP_KEYS) == set(GroupSpec.model_fields)


def test_each_set_of_tags_reads_the_same_whatever_its_order_or_path() -> None:
    first = {"team": "a", "env": "b"}
    again = {"env": "b", "team": "a"}
    groups = [
        {"id": "GID_one", "tags": first},
        {"id": "GID_two", "tags": again},
        {"id": "GID_three", "tags": dict(first)},
        {"id": "GID_four", "tags": {"team": "c"}},
    ]
    data = {"version": 1, "provider": {"api": "onsmqtt"}, "instances": [{"id": "post-cn-1"}]}
    for shaped in (groups, [*groups, _Text("GID_text")]):  # checked apart, and by the schema
        data["instances"] = [{"id": "post-cn-1", "groups": shaped}]
        doc, _ = check_shape(data)
        assert doc is not None
        state = resolve(doc, Expanded(), source="f.yaml")
        tags = {group.group_id: group.tags for group in state.instances[0].groups}
        assert (
            tags["GID_one"] == tags["GID_two"] == tags["GID_three"] == '{"env": "b", "team": "a"}'
        )
        assert tags["GID_four"] == '{"team": "c"}'


def test_a_lone_surrogate_never_reaches_the_check() -> None:
    # The fast check takes any characters in a description; pydantic refuses a lone
    # surrogate, which libyaml (the only parser the loader uses) refuses first.
    text = "version: 1\ninstances:\n  - id: post-cn-1\n    groups:\n"
    text += '      - {id: GID_orders, description: "x\\ud800"}\n'
    with pytest.raises(ConfigErrors) as caught:
        load_desired_text_result(text, "f.yaml", env={})
    assert "invalid Unicode character escape code" in caught.value.errors[0].format()
