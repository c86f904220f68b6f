"""Fault injection: 5xx answers, dropped connections (before or after the action) and latency."""

from __future__ import annotations

import time
from collections import Counter

import pytest
import requests

from reconciler.emulator.faults import Fault, FaultInjector
from reconciler.emulator.server import EmulatorOptions
from tests.fixtures.emulator import (
    TEST_ACCESS_KEY_ID,
    TEST_ACCESS_KEY_SECRET,
    TEST_INSTANCE_ID,
    seeded_server,
)
from tests.fixtures.emulator_store import group_ids
from tests.fixtures.wire import signed_call


def _list(url):
    return signed_call(
        url,
        "OnsMqttGroupIdList",
        {"InstanceId": TEST_INSTANCE_ID},
        key=TEST_ACCESS_KEY_ID,
        secret=TEST_ACCESS_KEY_SECRET,
    )


def test_injector_picks_every_kind_at_about_the_rate():
    injector = FaultInjector(0.5, seed=7)
    picks = [injector.pick() for _ in range(2000)]
    faults = Counter(p for p in picks if p is not None)
    assert set(faults) == set(Fault)
    assert 800 < sum(faults.values()) < 1200


def test_injector_rejects_rates_outside_zero_to_one():
    with pytest.raises(ValueError, match="between 0 and 1"):
        FaultInjector(1.5)


def test_full_fault_rate_answers_5xx_or_drops(emulator):
    seen: Counter[str] = Counter()
    with seeded_server(EmulatorOptions(fault_rate=1.0, fault_seed=3)) as server:
        for _ in range(40):
            try:
                response = _list(server.url)
            except requests.ConnectionError:
                seen["dropped"] += 1
                continue
            assert response.status_code in (500, 503)
            body = response.json()
            assert body["RequestId"] and body["HostId"]
            seen[body["Code"]] += 1
    assert set(seen) == {"dropped", "ServiceUnavailable", "InternalError", "ONS_SYSTEM_ERROR"}
    assert seen["ServiceUnavailable"] and all(
        code in ("dropped", "ServiceUnavailable", "InternalError", "ONS_SYSTEM_ERROR")
        for code in seen
    )


@pytest.mark.parametrize(
    ("fault", "kept"),
    [(Fault.DROP_AFTER, ["GID_lost"]), (Fault.DROP_BEFORE, [])],
    ids=["dropped after the action ran leaves its effect", "dropped before leaves nothing"],
)
def test_a_dropped_connection_happens_before_or_after_the_action(monkeypatch, fault, kept):
    with seeded_server(EmulatorOptions(fault_rate=1.0)) as server:
        monkeypatch.setattr(server._service.faults, "pick", lambda: fault)
        with pytest.raises(requests.ConnectionError):
            signed_call(
                server.url,
                "OnsMqttGroupIdCreate",
                {"GroupId": "GID_lost", "InstanceId": TEST_INSTANCE_ID},
                key=TEST_ACCESS_KEY_ID,
                secret=TEST_ACCESS_KEY_SECRET,
            )
        assert group_ids(server.store, TEST_INSTANCE_ID) == kept


def test_no_faults_at_rate_zero():
    with seeded_server(EmulatorOptions(fault_rate=0.0)) as server:
        assert all(_list(server.url).status_code == 200 for _ in range(30))


def test_latency_is_injected_before_answering():
    with seeded_server(EmulatorOptions(latency_ms=150)) as server:
        started = time.monotonic()
        assert _list(server.url).status_code == 200
        # A lower bound only: sleeping can never be shorter than asked.
        assert time.monotonic() - started >= 0.15
