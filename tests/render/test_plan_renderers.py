"""Snapshot tests of the plan renderers; RECONCILER_UPDATE_SNAPSHOTS=1 rewrites the snapshots."""

from __future__ import annotations

import json

import pytest

from reconciler.render.json import render_json
from reconciler.render.markdown import MAX_CHARS, render_markdown
from reconciler.render.text import render_text
from tests.fixtures.plan_models import desired, group, instance, inventory, plan_of, resource, state
from tests.fixtures.sample_plan import big_plan, empty_plan, sample_plan
from tests.fixtures.snapshots import check_snapshot


@pytest.mark.parametrize(
    ("name", "render"),
    [
        ("plan.txt", render_text),
        ("plan.color.txt", lambda p: render_text(p, color=True)),
        ("plan.json", render_json),
        ("plan.md", render_markdown),
    ],
)
def test_renderer_matches_snapshot(name: str, render: object) -> None:
    assert callable(render)
    check_snapshot(name, render(sample_plan()))


def test_empty_plan_snapshots() -> None:
    plan = empty_plan()
    check_snapshot("empty.txt", render_text(plan))
    check_snapshot("empty.md", render_markdown(plan))


def test_text_shows_every_symbol_and_ends_with_the_summary() -> None:
    text = render_text(sample_plan())
    lines = text.splitlines()
    assert (
        lines[-1] == "Plan: 4 to create, 1 to adopt, 5 to delete, 1 to forget, 1 to update; "
        "1 cannot be applied in place; 1 unmanaged."
    )
    for symbol in (
        "+ GID_new",
        "- GID_retired",
        "= GID_adopted",
        "~ GID_vanished",
        "* GID_guarded",
        "! GID_kept       topic orders -> orders-v2: cannot be changed in place",
    ):
        assert any(line.strip().startswith(symbol) for line in lines), symbol
    assert "\x1b[" not in text
    assert "\x1b[32m+ GID_new" in render_text(sample_plan(), color=True)


def test_no_changes_says_so() -> None:
    assert render_text(empty_plan()).splitlines()[-1] == "No changes."


def test_a_changed_topic_alone_is_a_difference_not_no_changes() -> None:
    plan = plan_of(
        desired(instance("post-cn-x0001", group("GID_orders", topic="shadow"))),
        [inventory("post-cn-x0001", ["GID_orders"])],
        state(resource("post-cn-x0001", "GID_orders", topic="orders")),
    )
    assert (plan.has_changes, plan.has_differences) == (False, True)
    lines = render_text(plan).splitlines()
    assert lines == [
        "post-cn-x0001 (cn-hangzhou)",
        "  ! GID_orders  topic orders -> shadow: cannot be changed in place (revert it, or "
        "create a GID under a new name)",
        "",
        "Plan: 0 to create, 0 to adopt, 0 to delete, 0 to forget; 1 cannot be applied in "
        "place; 0 unmanaged.",
    ]
    markdown = render_markdown(plan)
    assert "**Plan: 0 to create, 0 to adopt, 0 to delete, 0 to forget; 1 cannot" in markdown
    assert "! GID_orders  # topic orders -> shadow: cannot be changed in place" in markdown


def test_json_is_the_documented_shape() -> None:
    document = json.loads(render_json(sample_plan()))
    assert document["format_version"] == 2
    assert document["summary"] == {
        "create": 4,
        "adopt": 1,
        "delete": 5,
        "forget": 1,
        "update": 1,
        "unmanaged": 1,
        "not_in_place": 1,
    }
    assert document["not_in_place"] == [
        {
            "kind": "gid",
            "region": "cn-hangzhou",
            "instance_id": "post-cn-test0001",
            "group_id": "GID_kept",
            "attribute": "topic",
            "current": "orders",
            "desired": "orders-v2",
            "source": {"file": "gids.yaml", "line": 11},
        }
    ]
    assert document["appliable"] is False
    assert "inventory_group_ids" not in document
    change = document["changes"][0]
    assert {"action", "region", "instance_id", "group_id", "reason", "guards"} <= set(change)
    assert document["unmanaged"] == [
        {
            "region": "cn-hangzhou",
            "instance_id": "post-cn-test0001",
            "group_id": "GID_manual",
            "kind": "gid",
        }
    ]


def test_markdown_stays_under_the_cap_and_says_how_to_see_the_rest() -> None:
    plan = big_plan(40, 200)
    text = render_markdown(plan)
    assert len(text) < MAX_CHARS
    assert text.startswith("### reconciler plan\n\n**Plan: 8000 to create")
    assert "**Truncated**" in text
    assert "save it with `-o FILE` and run `reconciler show FILE`" in text
    assert text.count("<details>") == text.count("</details>")


def test_markdown_cap_also_holds_for_many_instances() -> None:
    text = render_markdown(big_plan(1500, 1))
    assert len(text) < MAX_CHARS
    assert "summary row(s)" in text or "instance section(s)" in text


def test_small_markdown_is_not_truncated() -> None:
    plan = plan_of(
        desired(instance("post-cn-x0001", group("GID_one"))), [inventory("post-cn-x0001")]
    )
    assert "Truncated" not in render_markdown(plan)
