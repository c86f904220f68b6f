"""The truncation notice of a capped Markdown plan counts what it hid and names the file."""

from __future__ import annotations

import re

from reconciler.render.markdown import MAX_CHARS, render_markdown
from tests.fixtures.sample_plan import big_plan


def _shown_changes(text: str) -> int:
    return len(re.findall(r"^\+ GID_", text, flags=re.MULTILINE))


def test_the_notice_counts_every_hidden_change_including_whole_sections() -> None:
    plan = big_plan(5, 1000)
    text = render_markdown(plan)
    assert len(text) < MAX_CHARS
    hidden = 5000 - _shown_changes(text)
    notice = text.strip().splitlines()[-1]
    assert f"{hidden:,} of 5,000 change(s)" in notice, notice
    assert re.search(r"\d of 5 instance section\(s\)", notice), notice
    assert "change line(s)" not in notice


def test_the_notice_names_the_saved_plan_file() -> None:
    text = render_markdown(big_plan(5, 1000), plan_file="out/mine.json")
    assert "See the whole plan with `reconciler show out/mine.json`." in text
    assert "plan.json" not in text.replace("mine.json", "")


def test_an_unsaved_plan_says_how_to_save_it() -> None:
    text = render_markdown(big_plan(5, 1000))
    assert "To see the whole plan, save it with `-o FILE` and run `reconciler show FILE`." in text
