"""Issue #19 item 5, end to end with a real MQTT client: access rules applied from a file
decide what paho-mqtt clients of the emulator's listener may do."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.emulator.mqtt.auth import sign_client_id
from tests.fixtures.access import mqtt_listener, with_telemetry, write_access
from tests.fixtures.emulator import RunningEmulator
from tests.fixtures.mqtt_devices import NOT_AUTHORIZED, Device
from tests.fixtures.runs import run_cli

PUBLISHER_SECRET = "publisher-origin-secret"
MONITOR_SECRET = "monitor-origin-secret"
SUBSCRIBER_SECRET = "subscriber-hmac-key"
RULES = """
identities:
  - {username: publisher, sign_mode: origin, secret: "${PUBLISHER_SECRET}"}
  - {username: subscriber, client_id: dashboard-1, sign_mode: signed, secret: {file: sub.key}}
  - {username: monitor, sign_mode: origin, secret: "${MONITOR_SECRET}"}
permissions:
  - {user: publisher, topic: telemetry/#, effect: EFFECT, action: pub}
  - {user: monitor, topic: telemetry/heartbeat, effect: allow, action: pub}
  - {client: dashboard-1, topic: telemetry/#, effect: allow, action: sub}
blacklist: BLACKLIST
"""


def rules(effect: str = "allow", blacklist: str = "[]") -> None:
    write_access(RULES.replace("EFFECT", effect).replace("BLACKLIST", blacklist))


def apply(capsys: pytest.CaptureFixture[str]) -> str:
    result = run_cli(capsys, "apply", "desired.yaml", "--auto-approve")
    assert result.code == 0, result.out + result.err
    return result.out


def test_a_flipped_grant_silences_the_publisher_and_a_blacklisted_client_is_refused(
    workdir: Path,
    emulator: RunningEmulator,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with_telemetry(emulator)
    monkeypatch.setenv("PUBLISHER_SECRET", PUBLISHER_SECRET)
    monkeypatch.setenv("MONITOR_SECRET", MONITOR_SECRET)
    Path("sub.key").write_text(SUBSCRIBER_SECRET, encoding="utf-8")
    rules()
    assert "Apply complete: 6 created." in apply(capsys)

    with mqtt_listener(emulator) as listener:
        subscriber = Device(
            listener.port,
            "dashboard-1",
            username="subscriber",
            password=sign_client_id(SUBSCRIBER_SECRET, "dashboard-1"),
        )
        publisher = Device(
            listener.port, "sensor-17", username="publisher", password=PUBLISHER_SECRET
        )
        monitor = Device(listener.port, "monitor-1", username="monitor", password=MONITOR_SECRET)
        try:
            assert subscriber.connect() == 0 and publisher.connect() == 0
            assert monitor.connect() == 0
            assert subscriber.subscribe("telemetry/#") == [1]
            publisher.publish("telemetry/room-1", b"21.5", qos=1)
            message = subscriber.receive()
            assert (message.topic, message.payload) == ("telemetry/room-1", b"21.5")

            # The grant turns into a deny: one update in the plan, then applied.
            rules(effect="deny")
            plan = run_cli(capsys, "plan", "desired.yaml")
            changed = [line for line in plan.out.splitlines() if line.lstrip().startswith("~ ")]
            assert changed == [
                "  ~ permission:user:publisher/telemetry/#  update: effect changes from allow "
                "to deny: one update call (state: .reconciler/state.json)"
            ]
            assert "1 to update" in plan.out and "cuts off user publisher" in plan.out
            assert "Apply complete: 1 updated." in apply(capsys)
            # Acknowledged once the broker dropped it: the monitor's later message is the
            # next to arrive, had the refused one been delivered it would have come first.
            publisher.publish("telemetry/room-1", b"22.0", qos=1)
            monitor.publish("telemetry/heartbeat", b"marker", qos=1)
            assert subscriber.receive().payload == b"marker"

            # Blacklisted: the live connection is closed and a reconnect refused.
            rules(effect="deny", blacklist="[dashboard-1]")
            assert "Apply complete: 1 created." in apply(capsys)
            assert subscriber.disconnected.wait(10)
            subscriber.close()
            assert subscriber.connect() == NOT_AUTHORIZED
        finally:
            for device in (subscriber, publisher, monitor):
                device.close()
    shown = capsys.readouterr()
    assert PUBLISHER_SECRET not in shown.out + shown.err
