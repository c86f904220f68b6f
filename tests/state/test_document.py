"""Reading a stored state: a key repeated in one JSON object is refused however it is spelled
(the cheap proof that there is none must never be fooled), and odd but valid text still reads."""

from __future__ import annotations

import pytest

from reconciler.state.document import StateFormatError, parse_state

HEAD = '{"lineage": "l-1", "serial": 2, "resources": [{"region": "cn-hangzhou", '
RESOURCE = '"instance_id": "post-cn-1", "group_id": "GID_a", '


@pytest.mark.parametrize(
    "members",
    [
        '"protect": true, "protect": false',
        '"protect": true, "pr\\u006ftect": false',  # the same key, spelled with an escape
        '"protect": true, "protect" : false',  # whitespace before the colon
        '"protect": true,\n"protect"\n:\tfalse',
        '"topic": ":t", "protect": true, "protect": false',  # a value opening with ':'
        '"topic": "a\\"b", "protect": true, "protect": false',
    ],
)
def test_a_key_repeated_in_one_object_is_refused_however_it_is_written(members: str) -> None:
    with pytest.raises(StateFormatError) as caught:
        parse_state(HEAD + RESOURCE + members + "}]}", where="state file s.json")
    assert str(caught.value) == (
        "state file s.json is corrupt: resources[0] (post-cn-1/GID_a): "
        "key 'protect' is given twice in one object"
    )


def test_a_repeated_top_level_key_is_refused() -> None:
    with pytest.raises(StateFormatError, match="key 'serial' is given twice"):
        parse_state('{"lineage": "l-1", "serial": 9, "serial": 2}', where="state file s.json")


@pytest.mark.parametrize(
    "members",
    [
        '"topic": ":t", "protect" : true',
        '"topic": "a\\\\b:\\"c\\"", "protect": true',
        '"topic": "x\\": 1, \\"y", "protect": true',
    ],
)
def test_odd_but_valid_text_reads(members: str) -> None:
    doc = parse_state(HEAD + RESOURCE + members + "}]}", where="state file s.json")
    assert doc.resources[0].protect is True


@pytest.mark.parametrize(
    "members",
    [
        '"attributes": [{"name": "a", "value": "1", "value": "2"}]',
        '"digests": [], "attributes": [{"name": "a", "name": "b", "value": "1"}]',
    ],
)
def test_a_key_repeated_in_a_nested_object_of_format_2_is_refused(members: str) -> None:
    # The cheap proof counts the keys of every nested object; it must not skip a filled one.
    head = HEAD.replace('{"lineage"', '{"format_version": 2, "lineage"').replace(
        '[{"region"', '[{"kind": "gid", "region"'
    )
    with pytest.raises(StateFormatError, match="is given twice in one object"):
        parse_state(head + RESOURCE + members + "}]}", where="state file s.json")


def test_a_repeated_key_in_the_binding_is_refused() -> None:
    text = (
        '{"format_version": 2, "lineage": "l-1", "serial": 2, '
        '"binding": {"desired": ["a.yaml"], "endpoint": "embedded", "endpoint": "default"}}'
    )
    with pytest.raises(StateFormatError, match="key 'endpoint' is given twice"):
        parse_state(text, where="state file s.json")
