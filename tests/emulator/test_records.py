"""``protocol.Records``: a listing's rows held as columns write the very JSON ``json.dumps``
writes for the same rows as dicts (the emulator is faithful byte for byte), and the same XML."""

from __future__ import annotations

import enum
import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.emulator.protocol import Records, encode_success


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class _Level(enum.IntEnum):
    LOW = 1


class _Text(str):
    __slots__ = ()


# Strings that json escapes, or might be thought to: quotes, backslashes, control characters,
# DEL, non-ASCII, a character outside the BMP, the line separators JavaScript dislikes, and
# what a %-template would read as a directive.
AWKWARD_TEXT = [
    'a"b',
    "back\\slash",
    "\n\r\t\b\f\x00\x1f",
    "\x7f",
    "é中",
    "😀",
    "\u2028\u2029",
    "%s %d %%",
]

COLUMNS_OF_ONE_KIND = [
    AWKWARD_TEXT,
    [0, -1, 2**70, 1_796_688_553_756],
    [True, False, True],
    [[], [], []],
    [None, None],
]
# Columns the fast encoders must leave to json.dumps: mixed types, subclasses, floats json
# writes its own way, containers with something in them.
UNUSUAL_COLUMNS = [
    [True, 1, 0, False],
    [1, 1.0],
    [_Level.LOW, 2],
    [_Text("x"), "y"],
    [math.nan, math.inf, -math.inf, 0.1, 1e300],
    [[], [1]],
    [[{"TagKey": "k", "TagValue": "v"}], []],
    [{"a": 1}, {}],
    ["x", None],
]


@pytest.mark.parametrize("column", COLUMNS_OF_ONE_KIND + UNUSUAL_COLUMNS)
def test_a_column_is_written_as_json_dumps_writes_it(column: list[Any]) -> None:
    records = Records(["Value"], [column])
    assert records.json_text() == _dumps([{"Value": value} for value in column])


def test_several_columns_keep_the_field_order_and_odd_field_names() -> None:
    fields = ["GroupId", "%s", 'a"b', "Naming", "Time"]
    columns = [["G1", "G2"], ["x", "y"], [1, 2], [True, False], [1.5, 2]]
    records = Records(fields, columns)
    assert records.dicts() == [
        {"GroupId": "G1", "%s": "x", 'a"b': 1, "Naming": True, "Time": 1.5},
        {"GroupId": "G2", "%s": "y", 'a"b': 2, "Naming": False, "Time": 2},
    ]
    assert records.json_text() == _dumps(records.dicts())


def test_no_rows_is_an_empty_list() -> None:
    records = Records(["GroupId", "Tags"], [[], []])
    assert len(records) == 0
    assert records.json_text() == "[]" == _dumps(records.dicts())


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=6,
)
cell_kinds = st.sampled_from([st.text(), st.integers(), st.booleans(), st.just([]), json_values])


@given(
    st.integers(min_value=0, max_value=6).flatmap(
        lambda rows: st.lists(
            cell_kinds.flatmap(lambda kind: st.lists(kind, min_size=rows, max_size=rows)),
            min_size=1,
            max_size=5,
        )
    )
)
def test_any_columns_write_what_json_dumps_writes_for_their_dicts(
    columns: list[list[Any]],
) -> None:
    fields = [f"F{n}" for n in range(len(columns))]
    records = Records(fields, columns)
    assert records.json_text() == _dumps(records.dicts())


@pytest.mark.parametrize("xml", [False, True])
def test_a_body_holding_records_encodes_as_the_same_body_holding_dicts(xml: bool) -> None:
    records = Records(["GroupId", "Tags"], [["G1", "G\u00e92"], [[], [{"TagKey": "k"}]]])

    def body(rows: Any) -> dict[str, Any]:
        return {"RequestId": "R-1", "Data": {"MqttGroupIdDo": rows, "Total": 2}, "Ok": True}

    fast = encode_success("OnsMqttGroupIdList", body(records), xml=xml)
    slow = encode_success("OnsMqttGroupIdList", body(records.dicts()), xml=xml)
    assert fast == slow


def test_records_need_one_column_per_field_of_one_length() -> None:
    with pytest.raises(ValueError, match="one column per field"):
        Records([], [])
    with pytest.raises(ValueError, match="one column per field"):
        Records(["A", "B"], [[1]])
    with pytest.raises(ValueError, match="differ in length"):
        Records(["A", "B"], [[1], [1, 2]])


def test_an_object_holding_records_under_a_key_json_would_convert_is_refused() -> None:
    with pytest.raises(TypeError, match="no str"):
        encode_success("X", {1: Records(["A"], [[1]])}, xml=False)
