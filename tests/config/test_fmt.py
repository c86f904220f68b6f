"""format_text: canonical order and shorthand, comments kept, idempotent."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.config import load_desired_text
from reconciler.config.fmt import format_text

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.yaml"))

MESSY = """\
# yaml-language-server: $schema=../schemas/desired-state.schema.json
instances:
    # the main instance
    -   groups:
          # zeta consumers
          - GID_zeta      # eol zeta
          # alpha consumers
          - GID_alpha
          - {id: GID_mid}
          - topic: orders
            description: beta
            id: GID_beta   # eol beta
        region: cn-hangzhou
        id: post-1
version: 1   # the format
group_sets:
    base:
      - GID_zed
      - id: GID_abc
# end
"""

EXPECTED = """\
# yaml-language-server: $schema=../schemas/desired-state.schema.json
version: 1   # the format
group_sets:
  base:
    - GID_abc
    - GID_zed
instances:
  # the main instance
  - id: post-1
    region: cn-hangzhou
    groups:
      # alpha consumers
      - GID_alpha
      - id: GID_beta       # eol beta
        topic: orders
        description: beta
      - GID_mid
      # zeta consumers
      - GID_zeta          # eol zeta
# end
"""


def test_fmt_sorts_reorders_normalises_and_keeps_comments() -> None:
    formatted = format_text(MESSY)
    assert formatted == EXPECTED
    for comment in ("# the main instance", "# zeta consumers", "# eol zeta", "# end"):
        assert comment in formatted


def test_fmt_is_idempotent() -> None:
    once = format_text(MESSY)
    assert format_text(once) == once


def test_fmt_does_not_change_the_meaning() -> None:
    assert load_desired_text(format_text(MESSY)).digest() == load_desired_text(MESSY).digest()


def test_mapping_with_only_id_becomes_the_string_keeping_its_comment() -> None:
    text = "version: 1\ninstances:\n  - id: p\n    groups:\n      - id: GID_one  # why\n"
    # The comment keeps its column.
    assert format_text(text) == (
        "version: 1\ninstances:\n  - id: p\n    groups:\n      - GID_one      # why\n"
    )


def test_anchors_and_merges_survive() -> None:
    text = (
        "version: 1\n"
        "group_sets:\n  base: &base\n    - GID_bbb\n    - GID_aaa\n  unused: &unused [GID_ccc]\n"
        "instances:\n  - &one\n    id: p1\n    groups: *base\n  - <<: *one\n    id: p2\n"
    )
    formatted = format_text(text)
    assert "&base" in formatted and "*base" in formatted and "&unused" in formatted
    assert "<<: *one" in formatted
    assert load_desired_text(formatted).digest() == load_desired_text(text).digest()
    assert format_text(formatted) == formatted


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_examples_are_already_canonical(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert format_text(text) == text
