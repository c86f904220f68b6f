"""Fixture series: days of one-minute history and traffic from one line each."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.emulator.fixture import load_fixture, load_fixture_text
from reconciler.emulator.store import EmulatorStore
from reconciler.errors import ConfigError
from tests.fixtures.emulator_store import group_ids

MINUTE = 60_000
DAY = 86_400_000
BEGIN = 1_796_000_000_000 - 1_796_000_000_000 % MINUTE

SERIES = f"""
version: 1
instances:
  - instance_id: post-cn-series
    topics: [orders]
    groups: [GID_orders]
    online_history:
      - {{group_id: GID_orders, from: {BEGIN + 1}, to: {BEGIN + 3 * DAY}, every: 1m,
          count: [1, 2, 3]}}
      - {{group_id: GID_orders, at: {BEGIN}, count: 9}}
    message_history:
      - {{parent_topic: orders, from: {BEGIN}, to: {BEGIN + 10 * MINUTE}, every: 1m,
          trans_type: PUB, msg_type: P2P, qos: 2, tps: [1.5, 2], total: 90}}
"""


def test_a_series_is_one_sample_per_step_with_values_repeated_in_order() -> None:
    store = EmulatorStore()
    load_fixture_text(SERIES, "series.yaml", store)
    points = store.online_history("post-cn-series", "GID_orders", BEGIN, BEGIN + 3 * DAY)
    # The series starts at the first whole minute after from; the single sample is kept.
    assert points[0].x == BEGIN and points[0].y == 9
    series = points[1:]
    assert [p.x for p in series] == [BEGIN + i * MINUTE for i in range(1, 3 * 1440 + 1)]
    assert [p.y for p in series[:4]] == [1, 2, 3, 1]
    trend = store.message_trend(
        "post-cn-series", "orders", BEGIN, BEGIN + DAY, trans_type="PUB", summed=False, qos=2
    )
    assert [p.y for p in trend] == [1.5, 2] * 5 + [1.5]
    totals = store.message_trend(
        "post-cn-series", "orders", BEGIN, BEGIN + DAY, trans_type="PUB", summed=True
    )
    assert {p.y for p in totals} == {90}


def test_the_demo_fixture_loads() -> None:
    store = EmulatorStore()
    load_fixture(Path(__file__).parents[2] / "examples/emulator/inspect-demo.yaml", store)
    assert group_ids(store, "post-cn-demo0001") == [
        "GID_billing",
        "GID_idle",
        "GID_orders",
        "GID_telemetry",
    ]


@pytest.mark.parametrize(
    ("sample", "words"),
    [
        ("{group_id: GID_orders, count: 1}", "needs at, or from, to and every (missing from)"),
        ("{group_id: GID_orders, count: 1, at: now, every: 1m}", "not both"),
        ("{group_id: GID_orders, count: 1, from: now-1h, to: now, every: soon}", "every must"),
        ("{group_id: GID_orders, count: [], from: now-1h, to: now, every: 1m}", "empty list"),
        ("{group_id: GID_orders, count: 1, from: now, to: now-1h, every: 1m}", "not be after"),
        ("{group_id: GID_orders, count: 1, from: 0, to: now, every: 1ms}", "more than"),
    ],
)
def test_series_mistakes_are_located(sample: str, words: str) -> None:
    text = f"instances:\n  - instance_id: post-cn-x\n    online_history:\n      - {sample}\n"
    with pytest.raises(ConfigError, match=r"f\.yaml:4:") as caught:
        load_fixture_text(text, "f.yaml", EmulatorStore())
    assert words in str(caught.value)
