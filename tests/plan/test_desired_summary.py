"""The plan's summary of the desired state: what a stale saved plan is explained from."""

from __future__ import annotations

import tracemalloc

from reconciler.config import load_desired_text
from reconciler.plan.desired_summary import explain_desired_change, summarize_desired


def _desired(groups: list[str]) -> str:
    lines = ["version: 1", "provider: {region: cn-hangzhou}", "instances:", "  - id: post-cn-1"]
    return "\n".join([*lines, "    groups:", *(f"      - {g}" for g in groups)]) + "\n"


def test_gids_with_the_same_settings_cost_no_dict_each() -> None:
    # 100,000 GIDs with a topic held 100,000 equal dicts for the plan's lifetime.
    desired = load_desired_text(
        _desired([f"{{id: GID_g{n:05d}, topic: orders}}" for n in range(20_000)])
    )
    tracemalloc.start()
    try:
        summary = summarize_desired(desired)
        held = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    settings = summary["cn-hangzhou/post-cn-1"].settings
    assert settings["GID_g00000"] == {"topic": "orders"}
    assert len(settings) == 20_000
    # The settings mapping and the GID tuple: about 1.2 MB; a dict per GID adds 4 MB more.
    assert held < 2_500_000


def test_a_changed_setting_is_still_explained() -> None:
    same = ["{id: GID_aaa, topic: orders}", "{id: GID_bbb, topic: orders}"]
    before = summarize_desired(load_desired_text(_desired(same)))
    after = load_desired_text(
        _desired(["{id: GID_aaa, topic: orders}", "{id: GID_bbb, topic: shadow}", "GID_ccc"])
    )
    assert explain_desired_change(before, None, after) == [
        "post-cn-1: GID_ccc added, topic of GID_bbb changed (orders -> shadow)"
    ]
