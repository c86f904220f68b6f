"""Calls per second of our OnsClient vs the official core SDK, against ONE emulator process.

Usage: python bench/bench_client.py [--seconds 3] [--threads 8] [--latency-ms 0] [--gids 20]
       [--action list|create-delete]

Starts ``python -m reconciler emulator serve --port 0`` (throttles off for the measured action),
then measures, side by side in this one run:
  1. our client, sequential;
  2. our client, shared by N threads;
  3. aliyun-python-sdk-core + aliyun-python-sdk-ons==3.1.8, sequential;
and prints the ratios. At zero latency both clients are CPU-bound on a small machine, so
threads help little there; try ``--latency-ms 50`` to see parallelism pay off.
"""

from __future__ import annotations

import argparse
import itertools
import threading
import time
from collections.abc import Callable

from _common import clear_proxies, start_emulator, stop
from aliyunsdkcore.client import AcsClient
from aliyunsdkons.request.v20190214.OnsMqttGroupIdCreateRequest import (
    OnsMqttGroupIdCreateRequest,
)
from aliyunsdkons.request.v20190214.OnsMqttGroupIdDeleteRequest import (
    OnsMqttGroupIdDeleteRequest,
)
from aliyunsdkons.request.v20190214.OnsMqttGroupIdListRequest import (
    OnsMqttGroupIdListRequest,
)

from reconciler.cloud.client import OnsClient, RetryPolicy
from reconciler.cloud.credentials import resolve_credentials

ACCESS_KEY_ID = "LTAI5tBenchKey"
ACCESS_KEY_SECRET = "bench-secret-not-a-real-one"
REGION = "cn-hangzhou"
INSTANCE_ID = "post-cn-bench0001"


def our_client(url: str, pool_size: int) -> OnsClient:
    creds = resolve_credentials(
        access_key_id=ACCESS_KEY_ID, access_key_secret=ACCESS_KEY_SECRET, env={}
    )
    return OnsClient(
        creds,
        region=REGION,
        endpoint=url,
        pool_size=pool_size,
        retry=RetryPolicy(max_attempts=1),  # a failure must show, not hide behind retries
    )


def measure(call: Callable[[], object], seconds: float, threads: int = 1) -> float:
    """Calls per second of ``call`` run back to back by ``threads`` threads for ``seconds``."""
    call()  # warm up: connection, imports, caches
    counts = [0] * threads
    stop_at = time.perf_counter() + seconds
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        try:
            while time.perf_counter() < stop_at:
                call()
                counts[index] += 1
        except BaseException as exc:  # report, do not hang the run
            errors.append(exc)

    started = time.perf_counter()
    workers = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise SystemExit(f"benchmark call failed: {errors[0]}")
    return sum(counts) / elapsed


def our_call(client: OnsClient, action: str) -> Callable[[], object]:
    if action == "list":
        return lambda: client.list_group_ids(INSTANCE_ID)
    counter = itertools.count()
    lock = threading.Lock()

    def create_delete() -> None:
        with lock:
            name = f"GID_bench_{next(counter)}"
        client.create_group_id(name, instance_id=INSTANCE_ID)
        client.delete_group_id(name, instance_id=INSTANCE_ID)

    return create_delete


def sdk_call(url: str, action: str) -> Callable[[], object]:
    host = url.removeprefix("http://")
    acs = AcsClient(ACCESS_KEY_ID, ACCESS_KEY_SECRET, REGION, auto_retry=False)

    def send(request: object) -> object:
        request.set_endpoint(host)  # type: ignore[attr-defined]
        request.set_protocol_type("http")  # type: ignore[attr-defined]
        request.set_accept_format("json")  # type: ignore[attr-defined]
        return acs.do_action_with_exception(request)

    if action == "list":

        def list_groups() -> object:
            request = OnsMqttGroupIdListRequest()
            request.set_InstanceId(INSTANCE_ID)
            return send(request)

        return list_groups
    counter = itertools.count()

    def create_delete() -> None:
        name = f"GID_sdk_{next(counter)}"
        create = OnsMqttGroupIdCreateRequest()
        create.set_GroupId(name)
        create.set_InstanceId(INSTANCE_ID)
        send(create)
        delete = OnsMqttGroupIdDeleteRequest()
        delete.set_GroupId(name)
        delete.set_InstanceId(INSTANCE_ID)
        send(delete)

    return create_delete


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="per measurement")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--latency-ms", type=float, default=0.0, help="emulator latency")
    parser.add_argument("--gids", type=int, default=20, help="GIDs listed by each list call")
    parser.add_argument("--action", choices=["list", "create-delete"], default="list")
    args = parser.parse_args()
    clear_proxies()

    process, url = start_emulator(
        access_key_id=ACCESS_KEY_ID,
        access_key_secret=ACCESS_KEY_SECRET,
        region=REGION,
        instances=(INSTANCE_ID,),
        topics=(f"{INSTANCE_ID}=orders",),
        latency_ms=args.latency_ms,
    )
    try:
        with our_client(url, pool_size=max(args.threads, 1)) as client:
            for n in range(args.gids):
                client.create_group_id(f"GID_listed_{n:04d}", instance_id=INSTANCE_ID)
            call = our_call(client, args.action)
            unit = "calls/s" if args.action == "list" else "create+delete pairs/s"
            ours_seq = measure(call, args.seconds)
            ours_par = measure(call, args.seconds, threads=args.threads)
        sdk_seq = measure(sdk_call(url, args.action), args.seconds)
    finally:
        stop(process, timeout=15)

    print(
        f"emulator {url}, latency {args.latency_ms:g} ms, action {args.action}, "
        f"{args.seconds:g} s per measurement"
    )
    rows = [
        ("ours, sequential", ours_seq),
        (f"ours, {args.threads} threads", ours_par),
        ("core SDK (ons 3.1.8), sequential", sdk_seq),
    ]
    for label, rate in rows:
        print(f"  {label:<42}{rate:10.1f} {unit}")
    ratios = [
        ("ours sequential / core SDK sequential", ours_seq / sdk_seq),
        (f"ours {args.threads} threads / ours sequential", ours_par / ours_seq),
        (f"ours {args.threads} threads / core SDK sequential", ours_par / sdk_seq),
    ]
    for label, ratio in ratios:
        print(f"  ratio {label:<36}{ratio:10.2f}")


if __name__ == "__main__":
    main()
