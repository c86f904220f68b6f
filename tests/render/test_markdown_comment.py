"""The Markdown plan as reviewers see it: parsed as GitHub parses comments (CommonMark with
tables), its code blocks fit the comment's width, a probable rename is one note naming the
pair, and the summary table counts each instance's refusals and notes."""

from __future__ import annotations

from markdown_it import MarkdownIt
from markdown_it.token import Token

from reconciler.ci.upsert import with_marker
from reconciler.models import SafetyConfig
from reconciler.plan.diff import PlanOptions
from reconciler.plan.model import Plan
from reconciler.render.markdown import CODE_WIDTH, render_markdown
from tests.fixtures.plan_models import desired, group, instance, inventory, plan_of, resource, state
from tests.fixtures.sample_plan import sample_plan

LONG_INSTANCE = "post-cn-0pp12gl0long0instance"
GONE_INSTANCE = "post-cn-0pp12gl0gone0instance"
OLD_NAME = "GID_" + "orders_processing_" * 3 + "eu-central_v1"  # 71: too long for a GID
OLD_NAME = OLD_NAME[:64]
NEW_NAME = OLD_NAME.replace("_", "-")


def parse(markdown: str) -> list[Token]:
    return MarkdownIt("commonmark").enable("table").parse(markdown)


def code_lines(tokens: list[Token]) -> list[str]:
    return [
        line
        for token in tokens
        if token.type in ("fence", "code_block")
        for line in token.content.splitlines()
    ]


def table_notes(tokens: list[Token]) -> dict[str, str]:
    """instance -> its row's `notes` cell, from the parsed table (not from the source text)."""
    rows: list[list[str]] = []
    inside_row = False
    for token in tokens:
        if token.type == "tr_open":
            rows.append([])
            inside_row = True
        elif token.type == "tr_close":
            inside_row = False
        elif token.type == "inline" and inside_row:
            rows[-1].append(token.content)
    header, *body = rows
    notes = header.index("notes")
    return {row[0].strip("`"): row[notes] for row in body}


def long_names_plan() -> Plan:
    """Names at the 64-character limit, a rename of one, a vanished instance, and every delete
    noted as not checked for online clients."""
    many = [f"GID_fleet_{i:03d}_" + "x" * 40 for i in range(30)]
    want = desired(
        instance(LONG_INSTANCE, group(NEW_NAME, topic="orders"), ownership="exclusive"),
        safety=SafetyConfig(max_deletes=1000),
    )
    have = state(
        resource(LONG_INSTANCE, OLD_NAME),
        *((GONE_INSTANCE, name) for name in many),
    )
    inventories = [
        inventory(LONG_INSTANCE, [OLD_NAME]),
        inventory(GONE_INSTANCE, many),
    ]
    return plan_of(want, inventories, have, PlanOptions(skip_online_check=True))


def test_the_comment_parses_into_code_blocks_a_table_and_notes() -> None:
    markdown = render_markdown(sample_plan())
    tokens = parse(markdown)
    fences = [token for token in tokens if token.type == "fence"]
    # One diff block per instance section: the <details> HTML does not swallow them.
    assert [token.info for token in fences] == ["diff", "diff", "diff"]
    assert any(token.type == "table_open" for token in tokens)
    html = MarkdownIt("commonmark").enable("table").render(markdown)
    assert html.count("<details>") == html.count("</details>") == 4
    assert "<li>:no_entry: <code>GID_retired</code>: refused: 2 client(s) online" in html


def test_no_code_line_is_wider_than_the_comment() -> None:
    for plan in (sample_plan(), long_names_plan()):
        lines = code_lines(parse(render_markdown(plan)))
        assert lines
        too_wide = [line for line in lines if len(line) > CODE_WIDTH]
        assert too_wide == []


def test_a_long_reason_wraps_under_itself() -> None:
    lines = code_lines(parse(render_markdown(long_names_plan())))
    gone = next(i for i, line in enumerate(lines) if line.startswith("- GID_fleet_000_"))
    assert lines[gone + 1].lstrip().startswith("# managed by reconciler; its instance")
    assert lines[gone + 1].startswith("    ")
    rename_create = next(line for line in lines if line.startswith(f"+ {NEW_NAME}"))
    assert "#" not in rename_create  # a 64-character name takes its reason to the next line


def test_a_probable_rename_is_one_note_naming_the_pair() -> None:
    for plan, old, new in (
        (sample_plan(), "GID_orders", "GID-orders"),
        (long_names_plan(), OLD_NAME, NEW_NAME),
    ):
        markdown = render_markdown(plan)
        assert markdown.count("probable rename") == 1
        assert f"probable rename {old} -> {new}" in markdown


def test_the_notes_column_counts_refusals_and_notes_per_instance() -> None:
    notes = table_notes(parse(render_markdown(sample_plan())))
    # test0001: online clients and protected refusals; rename (once), recreated, vanished.
    assert notes == {
        "post-cn-test0001": ":no_entry: 2 refused, :warning: 3 notes",
        "post-cn-test0002": ":no_entry: 1 refused",
        "post-cn-test0003": "",
    }
    long_notes = table_notes(parse(render_markdown(long_names_plan())))
    assert long_notes == {
        LONG_INSTANCE: ":warning: 2 notes",  # the rename, and the skipped online check
        GONE_INSTANCE: ":warning: 1 note",
    }


def test_a_note_shared_by_many_deletes_is_one_bullet() -> None:
    markdown = render_markdown(long_names_plan())
    bullets = [line for line in markdown.splitlines() if "online clients not checked" in line]
    assert len(bullets) == 2  # one per instance
    gone = next(line for line in bullets if "GID_fleet_000" in line)
    assert "`GID_fleet_009_" in gone and "GID_fleet_010_" not in gone
    assert "and 20 more: note: online clients not checked (--skip-online-check)" in gone


def test_the_comment_marker_renders_as_nothing() -> None:
    body = with_marker(render_markdown(sample_plan()), "reconciler-plan")
    tokens = parse(body)
    assert tokens[0].type == "html_block"
    assert tokens[0].content.strip() == "<!-- reconciler-plan -->"
    assert tokens[1].type == "heading_open"
