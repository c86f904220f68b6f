"""End to end: a device connected over MQTT makes ``reconciler plan`` refuse the delete of its
GID, and once it has disconnected the same plan passes the online guard; a device connecting
after a plan was saved makes ``apply PLANFILE`` refuse it."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.fixtures.emulator import TEST_INSTANCE_ID
from tests.fixtures.emulator_store import group_ids
from tests.fixtures.mqtt_devices import GID, MqttWorld, wait_until
from tests.fixtures.runs import run_cli


def write_tombstone(
    world: MqttWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """In tmp_path (made the working directory), a desired file NAME deleting GID, and the
    environment that points the CLI at the world's emulator."""
    emulator = world.emulator
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", emulator.access_key_id)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", emulator.access_key_secret)
    monkeypatch.setenv("RECONCILER_ENDPOINT", emulator.url)
    Path(name).write_text(
        textwrap.dedent(f"""\
            version: 1
            instances:
              - id: {TEST_INSTANCE_ID}
                groups:
                  - {{id: {GID}, absent: true}}
        """),
        encoding="utf-8",
    )


def test_a_connected_device_blocks_the_delete_of_its_gid_until_it_leaves(
    world: MqttWorld,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    emulator = world.emulator
    write_tombstone(world, tmp_path, monkeypatch, "desired.yaml")
    device = world.connected("sensor-1")

    refused = run_cli(capsys, "plan", "desired.yaml")
    assert refused.code == 1
    assert "1 client(s) online" in refused.out
    assert "override: --allow-online-delete" in refused.out

    device.disconnect()
    wait_until(
        lambda: not emulator.store.client_online(TEST_INSTANCE_ID, device.client_id),
        what="the device to go offline",
    )
    passed = run_cli(capsys, "plan", "desired.yaml")
    assert passed.code == 0, passed.out + passed.err
    assert "0 client(s) online" in passed.out
    assert "refused" not in passed.out


def test_a_device_connecting_after_the_plan_is_saved_refuses_its_apply(
    world: MqttWorld,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    emulator = world.emulator
    write_tombstone(world, tmp_path, monkeypatch, "del.yaml")
    planned = run_cli(capsys, "plan", "del.yaml", "-o", "del.plan")
    assert planned.code == 0, planned.out + planned.err
    assert "0 client(s) online" in planned.out
    device = world.connected("m1")

    refused = run_cli(capsys, "apply", "del.plan")
    assert refused.code == 1
    assert f"{TEST_INSTANCE_ID}/{GID} (1 client(s) online)" in refused.err
    assert "plan with --allow-online-delete" in refused.err
    assert GID in group_ids(emulator.store, TEST_INSTANCE_ID)

    device.disconnect()
    wait_until(
        lambda: not emulator.store.client_online(TEST_INSTANCE_ID, device.client_id),
        what="the device to go offline",
    )
    applied = run_cli(capsys, "apply", "del.plan")
    assert applied.code == 0, applied.out + applied.err
    assert GID not in group_ids(emulator.store, TEST_INSTANCE_ID)
