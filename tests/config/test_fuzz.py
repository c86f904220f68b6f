"""Whatever it is fed, the loader answers with a DesiredState or ConfigErrors, nothing else."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from reconciler.config import load_desired, load_desired_text
from reconciler.config.fmt import format_text
from reconciler.config.loader import load_desired_text_result
from reconciler.errors import ConfigErrors

FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])

KEYS = st.sampled_from(
    [
        "version", "provider", "backend", "defaults", "safety", "group_sets", "instances",
        "id", "region", "ownership", "independent_naming", "include", "groups", "topic",
        "protect", "absent", "description", "local", "postgres", "dsn", "path", "endpoint",
        "max_deletes", "<<", "regoin",
    ]
)  # fmt: skip
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-5, max_value=5),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(
        [
            "GID_orders",
            "GID_b",
            "gid_x",
            "post-1",
            "cn-hangzhou",
            "managed",
            "exclusive",
            "embedded",
            "${NOPE}",
            "base",
            "",
            "1",
        ]
    ),
    st.text(max_size=8),
)
STRUCTURES = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(KEYS, children, max_size=5)
    ),
    max_leaves=25,
)
YAMLISH = st.lists(
    st.sampled_from(
        [
            "version: 1",
            "instances:",
            "  - id: post-1",
            "    groups:",
            "      - GID_orders",
            "      - {id: GID_x, topic: t}",
            "  - &a {id: p}",
            "  - *a",
            "  - <<: *a",
            "\t- x",
            "group_sets:",
            "  base: [GID_aaa]",
            "    include: [base]",
            "  ? [x]",
            "key: 'unclosed",
            "!!binary x",
            "- - - -",
            "[[[",
            "}",
            "version: 1",
            "    id: post-2",
            "# comment",
            "---",
        ]
    ),
    max_size=12,
).map("\n".join)


def _load_or_config_error(text: str) -> None:
    try:
        load_desired_text(text, "fuzz.yaml", env={})
    except ConfigErrors as exc:
        assert exc.errors
        for error in exc.errors:
            assert "\n" not in error.format()
            assert error.file == "fuzz.yaml"


@FUZZ
@given(st.text(max_size=300))
def test_random_text_raises_only_config_errors(text: str) -> None:
    _load_or_config_error(text)


@FUZZ
@given(YAMLISH)
def test_yaml_like_lines_raise_only_config_errors(text: str) -> None:
    _load_or_config_error(text)


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes_raise_only_config_errors(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "fuzz.yaml"
        path.write_bytes(data)
        try:
            load_desired(path, env={})
        except ConfigErrors as exc:
            assert exc.errors


@FUZZ
@given(STRUCTURES)
@example(["${NOPE}", "${NOPE}"])  # braces in a quoted GID once broke message formatting
def test_random_structures_raise_only_config_errors(data: Any) -> None:
    _load_or_config_error(yaml.safe_dump(data))
    _load_or_config_error(yaml.safe_dump({"version": 1, "instances": [data]}))
    _load_or_config_error(
        yaml.safe_dump({"version": 1, "instances": [{"id": "p", "groups": data}]})
    )


GIDS = st.from_regex(r"GID_[a-z0-9]{3,8}", fullmatch=True)
GROUPS = st.lists(
    st.one_of(
        GIDS,
        st.fixed_dictionaries(
            {"id": GIDS},
            optional={
                "topic": st.just("orders"),
                "protect": st.booleans(),
                "description": st.just("d"),
            },
        ),
    ),
    max_size=6,
    unique_by=lambda g: g if isinstance(g, str) else g["id"],
)


@FUZZ
@given(st.lists(GROUPS, min_size=1, max_size=3))
def test_fmt_keeps_the_meaning_and_is_idempotent(instances: list[list[Any]]) -> None:
    document = {
        "instances": [
            {"groups": groups, "id": f"post-{index}"} for index, groups in enumerate(instances)
        ],
        "version": 1,
    }
    text = "# head\n" + yaml.safe_dump(document, sort_keys=False)
    before = load_desired_text_result(text, env={}).state
    once = format_text(text)
    assert format_text(once) == once
    assert once.startswith("# head\n")
    assert load_desired_text_result(once, env={}).state.digest() == before.digest()
