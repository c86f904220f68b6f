"""Messages per second the emulator's MQTT listener forwards, vs Mosquitto, in one run.

Usage: python bench/bench_mqtt.py [--messages 30000] [--payload 32] [--runs 3]
       [--mosquitto 127.0.0.1:1883 | --no-mosquitto]

One publisher and one subscriber, QoS 0, on loopback, each a paho-mqtt client in its own
process. The subscriber subscribes, says it is ready, and counts; the publisher sends
``--messages`` messages as fast as paho lets it; the subscriber reports how many arrived and
the time from the first to the last. The same harness runs against
``reconciler emulator serve --mqtt-port 0`` (Signature auth, a real GID and parent topic) and
against the Mosquitto already listening on ``--mosquitto`` (anonymous), and prints the best run
of each and their ratio. The issue's target: at least 3,000 messages/s forwarded by the emulator.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
from _common import ROOT, child_env, clear_proxies, stop

from reconciler.emulator.mqtt.auth import sign_client_id

ACCESS_KEY_ID = "LTAI5tBenchKey"
ACCESS_KEY_SECRET = "bench-secret-not-a-real-one"
INSTANCE_ID = "post-cn-bench0001"
GROUP_ID = "GID_bench"
TOPIC = "bench/load"
IDLE_SECONDS = 3.0  # the subscriber stops counting after this long without a message
FIXTURE = f"""\
version: 1
accounts: [{{access_key_id: {ACCESS_KEY_ID}, access_key_secret: {ACCESS_KEY_SECRET}}}]
instances:
  - instance_id: {INSTANCE_ID}
    topics: [bench]
    groups: [{GROUP_ID}]
"""


@dataclass(frozen=True)
class Broker:
    name: str
    host: str
    port: int
    signed: bool  # Signature-mode credentials (the emulator) or anonymous (Mosquitto)


# --- the two client roles, each run as its own process --------------------------------------


def _client(broker: Broker, device: str) -> mqtt.Client:
    client_id = f"{GROUP_ID}@@@{device}"
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311
    )
    if broker.signed:
        client.username_pw_set(
            f"Signature|{ACCESS_KEY_ID}|{INSTANCE_ID}",
            sign_client_id(ACCESS_KEY_SECRET, client_id),
        )
    return client


def run_subscriber(broker: Broker, expected: int) -> None:
    client = _client(broker, "subscriber")
    received = 0
    first = last = 0.0
    subscribed = threading.Event()

    def on_message(_client: object, _userdata: object, _message: mqtt.MQTTMessage) -> None:
        nonlocal received, first, last
        last = time.perf_counter()
        if not received:
            first = last
        received += 1

    client.on_message = on_message
    client.on_subscribe = lambda *args: subscribed.set()
    client.connect(broker.host, broker.port, keepalive=60)
    client.subscribe(TOPIC, qos=0)
    client.loop_start()
    if not subscribed.wait(10):
        raise SystemExit("subscriber: no SUBACK")
    print("ready", flush=True)
    seen = -1
    while received < expected:
        time.sleep(IDLE_SECONDS)
        if received == seen:
            break
        seen = received
    client.disconnect()
    client.loop_stop()
    print(json.dumps({"received": received, "seconds": last - first}), flush=True)


def run_publisher(broker: Broker, count: int, payload_size: int) -> None:
    client = _client(broker, "publisher")
    client.connect(broker.host, broker.port, keepalive=60)
    client.loop_start()
    payload = b"x" * payload_size
    for _ in range(count):
        client.publish(TOPIC, payload, qos=0)
    time.sleep(IDLE_SECONDS + 1)  # let paho write what it buffered
    client.disconnect()
    client.loop_stop()


# --- the harness ----------------------------------------------------------------------------


def _role(role: str, broker: Broker, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--role",
            role,
            "--broker",
            json.dumps(broker.__dict__),
            *args,
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=child_env(),
        cwd=ROOT,
    )


def one_run(broker: Broker, messages: int, payload: int) -> tuple[int, float]:
    """(messages received, their rate per second) for one publisher -> subscriber run."""
    subscriber = _role("subscriber", broker, "--messages", str(messages))
    assert subscriber.stdout is not None
    if subscriber.stdout.readline().strip() != "ready":
        subscriber.kill()
        raise SystemExit(f"{broker.name}: the subscriber did not get ready")
    publisher = _role("publisher", broker, "--messages", str(messages), "--payload", str(payload))
    result = json.loads(subscriber.stdout.readline())
    subscriber.wait(30)
    publisher.wait(60)
    received, seconds = int(result["received"]), float(result["seconds"])
    return received, received / seconds if seconds > 0 else 0.0


def start_emulator(fixture: Path) -> tuple[subprocess.Popen[str], Broker]:
    args = [sys.executable, "-m", "reconciler", "emulator", "serve", "--port", "0"]
    process = subprocess.Popen(
        [*args, "--mqtt-port", "0", "--fixture", str(fixture)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=child_env(),
        cwd=ROOT,
    )
    assert process.stdout is not None
    process.stdout.readline()  # the HTTP address
    line = process.stdout.readline().strip()
    prefix = "reconciler emulator MQTT listening on mqtt://"
    if not line.startswith(prefix):
        process.kill()
        raise SystemExit(f"emulator did not start its MQTT listener: {line!r}")
    threading.Thread(target=process.stdout.read, daemon=True).start()
    host, _, port = line.removeprefix(prefix).rpartition(":")
    return process, Broker("emulator", host, int(port), signed=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=30_000)
    parser.add_argument("--payload", type=int, default=32)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--mosquitto", default="127.0.0.1:1883")
    parser.add_argument("--no-mosquitto", action="store_true")
    parser.add_argument("--role", choices=("subscriber", "publisher"), help=argparse.SUPPRESS)
    parser.add_argument("--broker", help=argparse.SUPPRESS)
    options = parser.parse_args()
    clear_proxies()
    if options.role is not None:
        broker = Broker(**json.loads(options.broker))
        if options.role == "subscriber":
            run_subscriber(broker, options.messages)
        else:
            run_publisher(broker, options.messages, options.payload)
        return

    brokers: list[tuple[Broker, subprocess.Popen[str] | None]] = []
    with tempfile.TemporaryDirectory() as tmp:
        fixture = Path(tmp) / "world.yaml"
        fixture.write_text(FIXTURE, encoding="utf-8")
        process, emulator = start_emulator(fixture)
        brokers.append((emulator, process))
        if not options.no_mosquitto:
            host, _, port = options.mosquitto.rpartition(":")
            brokers.append((Broker("mosquitto", host, int(port), signed=False), None))
        print(
            f"1 publisher -> 1 subscriber, QoS 0, {options.messages} messages of"
            f" {options.payload} B, paho-mqtt clients in separate processes, best of"
            f" {options.runs}"
        )
        best: dict[str, float] = {}
        try:
            for broker, _ in brokers:
                for run in range(1, options.runs + 1):
                    received, rate = one_run(broker, options.messages, options.payload)
                    lost = options.messages - received
                    print(
                        f"  {broker.name:<10} run {run}: {rate:>9,.0f} msg/s forwarded"
                        f" ({received} received, {lost} lost)"
                    )
                    best[broker.name] = max(best.get(broker.name, 0.0), rate)
        finally:
            stop(process)
    emulator_rate = best["emulator"]
    verdict = "meets" if emulator_rate >= 3000 else "MISSES"
    print(f"emulator:  {emulator_rate:,.0f} msg/s ({verdict} the 3,000 msg/s target)")
    if "mosquitto" in best:
        print(
            f"mosquitto: {best['mosquitto']:,.0f} msg/s; emulator/mosquitto ="
            f" {emulator_rate / best['mosquitto']:.2f}"
        )


if __name__ == "__main__":
    main()
