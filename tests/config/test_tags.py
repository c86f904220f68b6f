"""GID tags in the desired file (issue 19, item 6): resolved to their canonical text, each
mistake one located line, tags on an ons instance refused, fmt sorting them."""

from __future__ import annotations

import jsonschema
import pytest

from reconciler.config.fmt import format_text
from reconciler.config.loader import load_desired_text_result
from reconciler.config.schema_gen import build_schema
from reconciler.errors import ConfigErrors
from reconciler.models import tags_of, tags_problem

HEAD = "version: 1\nprovider: {api: onsmqtt}\n"


def _report(text: str) -> list[str]:
    try:
        result = load_desired_text_result(text, "d.yaml", env={})
    except ConfigErrors as exc:
        lines = [error.format() for error in exc.errors]
    else:
        lines = [warning.format() for warning in result.warnings]
    return [line.removeprefix("d.yaml:") for line in lines]


def _gid_with(tags: str, *, api: str = "onsmqtt") -> str:
    return (
        f"version: 1\nprovider: {{api: {api}}}\n"
        "instances:\n  - id: post-cn-a\n    groups:\n"
        f"      - id: GID_orders\n        tags: {tags}\n"
    )


def test_tags_resolve_to_their_canonical_text_and_a_gid_without_tags_asserts_none() -> None:
    text = HEAD + (
        "instances:\n  - id: post-cn-a\n    groups:\n"
        "      - GID_plain\n"
        "      - {id: GID_none, tags: {}}\n"
        "      - id: GID_orders\n        tags:\n          team: orders\n          env: ''\n"
    )
    desired = load_desired_text_result(text, "d.yaml", env={}).state
    groups = {group.group_id: group.tags for group in desired.instances[0].groups}
    assert groups == {
        "GID_none": "{}",
        "GID_orders": '{"env": "", "team": "orders"}',
        "GID_plain": None,
    }
    assert tags_of(groups["GID_orders"] or "") == {"env": "", "team": "orders"}


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        (
            "{aliyun-owner: x}",
            "7:16: the key starts with the reserved prefix 'aliyun': a tag key is 1 to 128 "
            "characters, not starting with 'aliyun' or 'acs:'; a value is at most 128 characters, "
            "not starting with 'acs:'; neither may contain 'http://' or 'https://' "
            "(at instances[0].groups[0].tags.aliyun-owner)",
        ),
        (
            "{site: 'https://example.com'}",
            "7:22: the value of tag 'site' contains 'https://': a tag key is 1 to 128 characters, "
            "not starting with 'aliyun' or 'acs:'; a value is at most 128 characters, not "
            "starting with 'acs:'; neither may contain 'http://' or 'https://' "
            "(at instances[0].groups[0].tags.site)",
        ),
        (
            "{build: 42}",
            "7:23: expected a string, found a number (quote the value to make it a string) "
            "(at instances[0].groups[0].tags.build)",
        ),
        (
            "{'': x}",
            "7:16: a tag key must not be empty: a tag key is 1 to 128 characters, not starting "
            "with 'aliyun' or 'acs:'; a value is at most 128 characters, not starting with "
            "'acs:'; neither may contain 'http://' or 'https://' "
            "(at instances[0].groups[0].tags.)",
        ),
        (
            "{" + ", ".join(f"k{n}: v" for n in range(21)) + "}",
            "7:15: 21 tags given: a GID holds at most 20 (at instances[0].groups[0].tags)",
        ),
        ("[team]", "7:15: expected a mapping, found a list (at instances[0].groups[0].tags)"),
    ],
)
def test_a_bad_tag_is_one_located_error(tags: str, expected: str) -> None:
    assert _report(_gid_with(tags)) == [expected]


def test_tags_on_an_ons_instance_are_an_error_where_they_are_given() -> None:
    assert _report(_gid_with("{team: orders}", api="ons")) == [
        "7:15: instance 'post-cn-a' uses the ons API, which cannot tag a GID: tags are set by "
        "CreateGroupId of api: onsmqtt instances only (at instances[0].groups[0].tags)"
    ]


def test_a_tagging_group_set_included_by_an_ons_instance_is_an_error_at_the_include() -> None:
    text = (
        "version: 1\ngroup_sets:\n  base:\n    - {id: GID_aaa, tags: {team: x}}\n"
        "instances:\n  - id: post-cn-a\n    include: [base]\n"
        "  - id: post-cn-b\n    api: onsmqtt\n    include: [base]\n"
    )
    assert _report(text) == [
        "7:15: group set 'base' tags its GIDs: instance 'post-cn-a' uses the ons API, which "
        "cannot tag a GID: tags are set by CreateGroupId of api: onsmqtt instances only "
        "(at instances[0].include[0])"
    ]


def test_an_absent_gid_with_tags_is_an_error() -> None:
    text = HEAD + (
        "instances:\n  - id: post-cn-a\n    groups:\n"
        "      - {id: GID_gone, absent: true, tags: {team: x}}\n"
    )
    assert _report(text) == [
        "6:44: an absent GID is deleted, so its tags have no meaning "
        "(at instances[0].groups[0].tags)"
    ]


def test_fmt_sorts_the_tags_and_keeps_their_comments() -> None:
    text = HEAD + (
        "instances:\n  - id: post-cn-a\n    groups:\n"
        "      - id: GID_orders\n        tags:\n"
        "          team: orders  # who pages\n          env: prod\n"
        "        protect: true\n"
    )
    formatted = format_text(text)
    assert formatted.endswith(
        "      - id: GID_orders\n        protect: true\n        tags:\n"
        "          env: prod\n          team: orders  # who pages\n"
    )
    assert format_text(formatted) == formatted


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("team", "orders"),
        ("AliYun-x", "v"),
        ("acs:x", "v"),
        ("ACS", "acs"),
        ("site", "Acs:x"),
        ("site", "see HTTPS://x"),
        ("http:/almost", "https:/almost"),
        ("", "v"),
        ("k" * 128, "v" * 128),
        ("k" * 129, "v"),
        ("k", "v" * 129),
    ],
)
def test_the_json_schema_and_the_files_checks_agree_on_a_tag(key: str, value: str) -> None:
    gid = {"id": "GID_aaa", "tags": {key: value}}
    document = {"version": 1, "instances": [{"id": "post-cn-a", "api": "onsmqtt", "groups": [gid]}]}
    by_schema = jsonschema.Draft202012Validator(build_schema()).is_valid(document)
    by_models = tags_problem({key: value}) is None
    assert by_schema == by_models
