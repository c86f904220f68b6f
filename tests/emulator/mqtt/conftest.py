"""Devices for the MQTT tests: paho-mqtt 2.x clients, and emulators listening for them.

``Device`` drives a paho client from a thread of its own calling ``loop()``, without paho's
automatic reconnect (which would turn a takeover into a ping-pong between two clients), and
records what it is told: the CONNACK, messages, the disconnect.
"""

from __future__ import annotations

import queue
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import paho.mqtt.client as mqtt
import pytest

from reconciler.emulator.mqtt.auth import sign_client_id
from reconciler.emulator.mqtt.server import MqttOptions, MqttServer
from reconciler.emulator.ons_actions import QUERY_ACTIONS
from tests.emulator.wire import signed_call
from tests.fixtures.emulator import (
    TEST_ACCESS_KEY_ID,
    TEST_ACCESS_KEY_SECRET,
    TEST_INSTANCE_ID,
    RunningEmulator,
    start_emulator_process,
)

GID = "GID_devices"
NOT_AUTHORIZED = 135  # paho's reason code for CONNACK 5 ("Not authorized")
IDENTIFIER_REJECTED = 133  # CONNACK 2 ("Client identifier not valid")


def signature_username(key: str = TEST_ACCESS_KEY_ID, instance: str = TEST_INSTANCE_ID) -> str:
    return f"Signature|{key}|{instance}"


def wait_until(condition: Callable[[], bool], timeout: float = 10.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        time.sleep(0.02)


class Device:
    def __init__(
        self,
        port: int,
        client_id: str,
        *,
        clean_session: bool = True,
        keep_alive: int = 60,
        username: str | None = None,
        password: str | None = None,
        secret: str = TEST_ACCESS_KEY_SECRET,
    ) -> None:
        self.port = port
        self.client_id = client_id
        self.keep_alive = keep_alive
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv311,
            clean_session=clean_session,
        )
        self.client.username_pw_set(
            signature_username() if username is None else username,
            sign_client_id(secret, client_id) if password is None else password,
        )
        self.messages: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self.connack = threading.Event()
        self.reason_code: int | None = None
        self.session_present: bool | None = None
        self.disconnected = threading.Event()
        self.granted: queue.Queue[list[int]] = queue.Queue()
        self._looping = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.client.on_connect = self._on_connect
        self.client.on_message = lambda _c, _u, message: self.messages.put(message)
        self.client.on_disconnect = lambda *_args: self.disconnected.set()
        self.client.on_subscribe = lambda _c, _u, _mid, codes, _p: self.granted.put(
            [code.value for code in codes]
        )

    def _on_connect(self, _client, _userdata, flags, reason_code, _properties) -> None:
        self.reason_code = reason_code.value
        self.session_present = flags.session_present
        self.connack.set()

    def connect(self, timeout: float = 10.0) -> int:
        """Connect and wait for the CONNACK; returns paho's reason code (0 = accepted)."""
        self.connack.clear()
        self.disconnected.clear()
        self.client.connect("127.0.0.1", self.port, keepalive=self.keep_alive)
        self._stop.clear()
        self._looping.set()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        assert self.connack.wait(timeout), f"{self.client_id}: no CONNACK"
        assert self.reason_code is not None
        return self.reason_code

    def _loop(self) -> None:
        while not self._stop.is_set():
            if not self._looping.is_set():
                time.sleep(0.02)
                continue
            if self.client.loop(0.05) != mqtt.MQTT_ERR_SUCCESS:
                return

    def pause(self) -> None:
        """Go silent: no reading, no pings (the keep-alive test's device)."""
        self._looping.clear()

    def resume(self) -> None:
        self._looping.set()

    @property
    def local_socket(self) -> str:
        sock = self.client.socket()
        assert isinstance(sock, socket.socket)
        host, port = sock.getsockname()[:2]
        return f"/{host}:{port}"

    def subscribe(self, *filters: str, qos: int = 1) -> list[int]:
        """Subscribe and return the granted codes (128 = refused)."""
        result, _ = self.client.subscribe([(f, qos) for f in filters])
        assert result == mqtt.MQTT_ERR_SUCCESS
        return self.granted.get(timeout=10)

    def publish(self, topic: str, payload: bytes | str, qos: int = 0) -> None:
        info = self.client.publish(topic, payload, qos=qos)
        if qos:
            info.wait_for_publish(10)

    def receive(self, timeout: float = 5.0) -> mqtt.MQTTMessage:
        return self.messages.get(timeout=timeout)

    def received_within(self, seconds: float = 0.5) -> list[tuple[str, bytes]]:
        """Every message that arrives within ``seconds``."""
        got = []
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                message = self.messages.get(timeout=left)
            except queue.Empty:
                break
            got.append((message.topic, message.payload))
        return got

    def disconnect(self) -> None:
        self.client.disconnect()
        self.close()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        # Drop the socket too (a no-op after a clean DISCONNECT).
        sock = self.client.socket()
        if isinstance(sock, socket.socket):
            sock.close()


@dataclass
class MqttWorld:
    """The HTTP emulator and an MQTT listener on its store, with GID and topic ready."""

    emulator: RunningEmulator
    mqtt: MqttServer
    devices: list[Device]

    @property
    def port(self) -> int:
        return self.mqtt.port

    def device(self, device_id: str = "d1", *, group_id: str = GID, **kwargs: object) -> Device:
        made = Device(self.port, f"{group_id}@@@{device_id}", **kwargs)  # type: ignore[arg-type]
        self.devices.append(made)
        return made

    def connected(self, device_id: str = "d1", **kwargs: object) -> Device:
        made = self.device(device_id, **kwargs)
        assert made.connect() == 0
        return made


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


@dataclass
class ServedWorld:
    """``reconciler emulator serve --mqtt-port 0`` as a real process."""

    url: str
    port: int
    stderr_lines: list[str]
    devices: list[Device]

    def device(self, device_id: str = "d1", *, group_id: str = GID, **kwargs: object) -> Device:
        made = Device(self.port, f"{group_id}@@@{device_id}", **kwargs)  # type: ignore[arg-type]
        self.devices.append(made)
        return made


@pytest.fixture
def served() -> Iterator[ServedWorld]:
    """The emulator as a subprocess with MQTT on a free port; GID_devices exists."""
    with serving() as made:
        yield made


@contextmanager
def serving(*extra_args: str) -> Iterator[ServedWorld]:
    """``served`` with more options for ``reconciler emulator serve``."""
    process = start_emulator_process("--mqtt-port", "0", *extra_args)
    assert process.process.stdout is not None and process.process.stderr is not None
    line = process.process.stdout.readline().strip()
    prefix = "reconciler emulator MQTT listening on mqtt://127.0.0.1:"
    assert line.startswith(prefix), line
    stderr_lines: list[str] = []

    def collect_stderr() -> None:
        assert process.process.stderr is not None
        for text in process.process.stderr:
            stderr_lines.append(text.rstrip("\n"))

    threading.Thread(target=collect_stderr, daemon=True).start()
    threading.Thread(target=process.process.stdout.read, daemon=True).start()
    created = signed_call(
        process.url,
        "OnsMqttGroupIdCreate",
        {"GroupId": GID, "InstanceId": TEST_INSTANCE_ID},
        key=TEST_ACCESS_KEY_ID,
        secret=TEST_ACCESS_KEY_SECRET,
    )
    assert created.status_code == 200, created.text
    made = ServedWorld(process.url, int(line.removeprefix(prefix)), stderr_lines, [])
    try:
        yield made
    finally:
        for device in made.devices:
            device.close()
        process.stop()
