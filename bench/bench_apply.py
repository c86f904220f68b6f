"""`reconciler apply` against an emulator in its own process, side by side in one run.

Usage: python bench/bench_apply.py [--creates 2000] [--latency-ms 50] [--parallelism 8]
       [--throttle 50] [--throttled-creates N]

(a) Unthrottled, every call answered after --latency-ms (a typical round trip to an Alibaba
    Cloud endpoint): the wall time of `reconciler apply desired.yaml --auto-approve` creating
    N GIDs (the whole command: start-up, lock, refresh, plan, calls, state writes) against the
    official core SDK (aliyun-python-sdk-core + aliyun-python-sdk-ons==3.1.8,
    OnsMqttGroupIdCreateRequest) creating N GIDs one by one on another instance of the same
    emulator. Target: ours at least 4x faster.
(b) The emulator throttles OnsMqttGroupIdCreate at --throttle calls/s (`--throttle
    OnsMqttGroupIdCreate=50/s`); we apply with `--rate 50/s`. Prints our throughput as a share
    of that limit, over the calls (from the "Applying" line to the end) and over the whole
    command. Target: at least 0.9 with zero failed actions.
(c) OnsMqtt 2020-04-20 (`provider.api: onsmqtt`): --onsmqtt-creates GIDs spread over two
    instances of one account, against the emulator's default limit of 10 CreateGroupId calls a
    second per account, at the same latency, with no --rate (the client's per-account bucket
    paces both instances together). Prints throughput as a share of the limit over the whole
    command, failures, and the share of calls answered "throttled" (counted from the client's
    retry lines on stderr). Target: at least 0.9, 0 failures, fewer than 5% throttled.

--cases picks which of a, b, c run (default all).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from _common import child_env, clear_proxies, start_emulator, stop
from aliyunsdkcore.client import AcsClient
from aliyunsdkons.request.v20190214.OnsMqttGroupIdCreateRequest import (
    OnsMqttGroupIdCreateRequest,
)

ACCESS_KEY_ID = "LTAI5tBenchApplyKey"
ACCESS_KEY_SECRET = "bench-apply-secret-not-a-real-one"
REGION = "cn-hangzhou"
OURS = "post-cn-benchapply1"
SDKS = "post-cn-benchapply2"
# (c): two instances of one account, managed through OnsMqtt 2020-04-20.
MQTT_INSTANCES = ("post-cn-benchmqtt1", "post-cn-benchmqtt2")
ONSMQTT_LIMIT = 10.0  # the service's (and the emulator's default) CreateGroupId calls/s


def apply_env(url: str) -> dict[str, str]:
    env = child_env(
        {
            "ALIBABA_CLOUD_ACCESS_KEY_ID": ACCESS_KEY_ID,
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET": ACCESS_KEY_SECRET,
            "RECONCILER_ENDPOINT": url,
        }
    )
    env.pop("NO_COLOR", None)
    return env


def start_bench_emulator(latency_ms: float, throttle: str) -> tuple[subprocess.Popen[str], str]:
    return start_emulator(
        "--throttle",
        throttle,
        access_key_id=ACCESS_KEY_ID,
        access_key_secret=ACCESS_KEY_SECRET,
        region=REGION,
        instances=(OURS, SDKS, *MQTT_INSTANCES),
        latency_ms=latency_ms,
    )


def write_desired(directory: Path, count: int, prefix: str) -> Path:
    groups = "".join(f"      - GID_{prefix}{n:05d}\n" for n in range(count))
    path = directory / "desired.yaml"
    path.write_text(
        "version: 1\nbackend:\n  local:\n    path: state.json\n"
        f"instances:\n  - id: {OURS}\n    groups:\n{groups}",
        encoding="utf-8",
    )
    return path


def write_onsmqtt_desired(directory: Path, count: int, prefix: str) -> Path:
    """``count`` GIDs split evenly over the two onsmqtt instances."""
    body = "version: 1\nprovider:\n  api: onsmqtt\nbackend:\n  local:\n    path: state.json\n"
    body += "instances:\n"
    share = len(MQTT_INSTANCES)
    for index, instance_id in enumerate(MQTT_INSTANCES):
        names = range(index, count, share)
        body += f"  - id: {instance_id}\n    groups:\n"
        body += "".join(f"      - GID_{prefix}{n:05d}\n" for n in names)
    path = directory / "desired.yaml"
    path.write_text(body, encoding="utf-8")
    return path


@dataclass
class ApplyTiming:
    wall: float  # the whole command
    calls: float  # from the "Applying N change(s)" line to the end
    created: int
    failed: int
    exit_code: int
    tail: str
    throttled: int = 0  # calls answered "throttled" (each retried, said on stderr)


def run_apply(url: str, count: int, prefix: str, *extra: str, onsmqtt: bool = False) -> ApplyTiming:
    with tempfile.TemporaryDirectory(prefix="bench-apply-") as tmp:
        directory = Path(tmp)
        (write_onsmqtt_desired if onsmqtt else write_desired)(directory, count, prefix)
        started = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-m", "reconciler", "apply", "desired.yaml", "--auto-approve", *extra],
            cwd=directory,
            env=apply_env(url),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert process.stdout is not None
        applying_at = None
        created = failed = 0
        lines: list[str] = []
        for line in process.stdout:
            if applying_at is None and line.startswith("Applying "):
                applying_at = time.perf_counter()
            elif " created (RequestId" in line or " already existed" in line:
                created += 1
            elif " failed: " in line:
                failed += 1
            lines.append(line)
        process.wait()
        ended = time.perf_counter()
        err = process.stderr.read() if process.stderr else ""
    return ApplyTiming(
        wall=ended - started,
        calls=ended - (applying_at or started),
        created=created,
        failed=failed,
        exit_code=process.returncode,
        tail="".join(lines[-3:]) + err[-500:],
        throttled=sum(
            1
            for line in err.splitlines()
            if "retrying in" in line and ("Throttling" in line or "SystemOverFlow" in line)
        ),
    )


def sdk_creates(url: str, count: int) -> float:
    host = url.removeprefix("http://")
    acs = AcsClient(ACCESS_KEY_ID, ACCESS_KEY_SECRET, REGION, auto_retry=False)
    started = time.perf_counter()
    for n in range(count):
        request = OnsMqttGroupIdCreateRequest()
        request.set_endpoint(host)
        request.set_protocol_type("http")
        request.set_accept_format("JSON")
        request.set_InstanceId(SDKS)
        request.set_GroupId(f"GID_sdk{n:05d}")
        acs.do_action_with_exception(request)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--creates", type=int, default=2000)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--parallelism", type=int, default=8)
    parser.add_argument("--throttle", type=float, default=50.0, help="creates per second")
    parser.add_argument("--throttled-creates", type=int, default=None)
    parser.add_argument("--onsmqtt-creates", type=int, default=1000)
    parser.add_argument("--cases", default="abc", help="which cases to run, e.g. c or ab")
    args = parser.parse_args()
    clear_proxies()
    parallel = ("--parallelism", str(args.parallelism))
    if "a" in args.cases:
        bench_unthrottled(args, parallel)
    if "b" in args.cases:
        bench_paced(args, parallel)
    if "c" in args.cases:
        bench_onsmqtt(args, parallel)


def bench_unthrottled(args: argparse.Namespace, parallel: tuple[str, str]) -> None:
    n = args.creates
    print(f"(a) {n} creates, emulator latency {args.latency_ms:g} ms, no throttling")
    emulator, url = start_bench_emulator(args.latency_ms, "OnsMqttGroupIdCreate=off")
    try:
        ours = run_apply(url, n, "ours", *parallel)
        if ours.exit_code != 0 or ours.created != n:
            raise SystemExit(f"apply failed (exit {ours.exit_code}):\n{ours.tail}")
        sdk = sdk_creates(url, n)
    finally:
        stop(emulator)
    label = f"reconciler apply (parallelism {args.parallelism}):"
    print(f"    {label:<38} {ours.wall:8.2f} s  (the whole command)")
    print(f"    {'official core SDK, one by one:':<38} {sdk:8.2f} s")
    speedup = sdk / ours.wall
    print(f"    speed-up: {speedup:.1f}x  (target >= 4x: {'met' if speedup >= 4 else 'NOT met'})")


def bench_paced(args: argparse.Namespace, parallel: tuple[str, str]) -> None:
    n_throttled = args.throttled_creates or args.creates
    rate = f"{args.throttle:g}/s"
    print(f"(b) {n_throttled} creates, emulator throttles OnsMqttGroupIdCreate at {rate}")
    emulator, url = start_bench_emulator(args.latency_ms, f"OnsMqttGroupIdCreate={rate}")
    try:
        paced = run_apply(url, n_throttled, "paced", *parallel, "--rate", rate)
    finally:
        stop(emulator)
    share_calls = n_throttled / paced.calls / args.throttle
    share_wall = n_throttled / paced.wall / args.throttle
    print(
        f"    apply --rate {rate}: {paced.created} created, {paced.failed} failed, "
        f"exit {paced.exit_code}, {paced.calls:.2f} s of calls, {paced.wall:.2f} s in all"
    )
    print(
        f"    throughput share of the limit: {share_calls:.3f} over the calls, "
        f"{share_wall:.3f} over the whole command (the bucket's first-second burst counts)"
    )
    ok = share_calls >= 0.9 and paced.failed == 0 and paced.exit_code == 0
    print(f"    (target >= 0.9 with zero failed actions: {'met' if ok else 'NOT met'})")
    if paced.exit_code != 0:
        print(paced.tail)


def bench_onsmqtt(args: argparse.Namespace, parallel: tuple[str, str]) -> None:
    n = args.onsmqtt_creates
    limit = f"{ONSMQTT_LIMIT:g}/s"
    print(
        f"(c) {n} creates over {len(MQTT_INSTANCES)} onsmqtt instances of one account, "
        f"emulator latency {args.latency_ms:g} ms, CreateGroupId limited to {limit} per account"
    )
    # The emulator's default; named so the figure below is read against it.
    emulator, url = start_bench_emulator(args.latency_ms, f"CreateGroupId={limit}")
    try:
        run = run_apply(url, n, "mqtt", *parallel, onsmqtt=True)
    finally:
        stop(emulator)
    share = n / run.wall / ONSMQTT_LIMIT
    throttled_share = run.throttled / max(1, n + run.throttled)
    print(
        f"    apply (no --rate): {run.created} created, {run.failed} failed, exit "
        f"{run.exit_code}, {run.calls:.2f} s of calls, {run.wall:.2f} s in all"
    )
    print(
        f"    throughput share of the limit over the whole command: {share:.3f}; "
        f"{run.throttled} call(s) answered throttled ({throttled_share:.1%} of calls)"
    )
    ok = share >= 0.9 and run.failed == 0 and run.exit_code == 0 and throttled_share < 0.05
    print("    (target >= 0.9, 0 failures, < 5% throttled: " + ("met" if ok else "NOT met") + ")")
    if run.exit_code != 0:
        print(run.tail)


if __name__ == "__main__":
    main()
