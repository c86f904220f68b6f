from __future__ import annotations

import pytest

from reconciler.emulator.store import Subscription
from tests.fixtures.emulator_store import add_message_sample
from tests.fixtures.sdk import HOUR, T0


@pytest.fixture
def seeded(emulator):
    """The test instance with GID_orders (two online devices, one offline) and traffic history."""
    store, inst = emulator.store, emulator.instance_id
    store.add_group(inst, "GID_orders", topic="orders")
    store.add_client(
        "GID_orders@@@dev1",
        instance_id=inst,
        last_touch=T0,
        socket="/10.0.0.7:50112",
        subscriptions=[Subscription("orders", "/room/1/", 1)],
    )
    store.add_client(
        "GID_orders@@@dev2",
        instance_id=inst,
        last_touch=T0 + HOUR,
        subscriptions=[("orders", "", 0)],
    )
    store.add_client("GID_orders@@@dev3", instance_id=inst, online=False, last_touch=T0 + 2 * HOUR)
    add_message_sample(store, inst, "orders", T0, trans_type="PUB", tps=2.5, total=150, qos=1)
    add_message_sample(store, inst, "orders", T0 + HOUR, trans_type="PUB", tps=4, total=240, qos=1)
    return emulator
