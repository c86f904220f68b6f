"""Fixtures of the MQTT tests: an in-process MQTT world, or the emulator served as a process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from reconciler.emulator.mqtt.server import MqttOptions, MqttServer
from reconciler.emulator.ons_actions import QUERY_ACTIONS
from tests.fixtures.emulator import TEST_INSTANCE_ID, RunningEmulator
from tests.fixtures.mqtt_devices import GID, MqttWorld, ServedWorld, serving


@pytest.fixture
def world(emulator: RunningEmulator) -> Iterator[MqttWorld]:
    """An in-process emulator with MQTT (fast bookkeeping timers) and the query throttles off."""
    for action in QUERY_ACTIONS:
        emulator.server.set_throttle(action, None)
    emulator.store.add_group(TEST_INSTANCE_ID, GID, topic=emulator.topic)
    server = MqttServer(
        emulator.store, options=MqttOptions(flush_interval_s=0.05, history_interval_s=0.2)
    ).start()
    made = MqttWorld(emulator, server, [])
    try:
        yield made
    finally:
        for device in made.devices:
            device.close()
        server.stop()


@pytest.fixture
def served() -> Iterator[ServedWorld]:
    """The emulator as a subprocess with MQTT on a free port; GID_devices exists."""
    with serving() as made:
        yield made
