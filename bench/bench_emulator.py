"""The emulator's cost per call does not grow with the rest of the account (issue 18 item 5).

Usage: python bench/bench_emulator.py [--groups 1000] [--instances 100] [--calls 30]

Method: two emulators run side by side, each in its own process over its own SQLite file:
``small`` holds one instance of ``--groups`` GIDs; ``large`` holds ``--instances`` instances of
``--groups`` GIDs each (the same instance among them). Against each, our OnsClient (one
sequential connection; the OnsMqtt* actions it calls are not throttled) times, alternating
between the two emulators so that machine noise hits both alike:
  1. listing the instance (every one of its GIDs);
  2. a create and a delete of one GID in it;
  3. listing an instance of a tenth as many GIDs (``large`` also holds one) vs listing the
     instance: ten times the GIDs may take at most ten times as long (linear in the GIDs
     listed, whatever the GIDs stored).
Each figure is the median of ``--calls`` calls after one warm-up call. Each listing follows an
untimed create and delete of a GID (``fresh_listing``): the emulator keeps a listing's rows
until the data may change, and a kept listing would measure nothing of the store. The ratios
large/small should sit close to 1.0x: the store answers every call through an index on the
instance (or the GID name), never by a scan of every GID of the region or account
(``tests/emulator/test_store_plans.py`` pins the query plans). The OnsMqtt 2020-04-20 actions
answer through the same store queries; they are left out because their client paces itself at
the service's 10 calls a second.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from _common import clear_proxies, start_emulator, stop

from reconciler.cloud.client import OnsClient, RetryPolicy
from reconciler.cloud.credentials import resolve_credentials
from reconciler.emulator.store import EmulatorStore

ACCESS_KEY_ID = "LTAI5tBenchEmuKey"
ACCESS_KEY_SECRET = "bench-emulator-secret"
REGION = "cn-hangzhou"
LISTED = "post-cn-listed0001"
SHORT = "post-cn-short0001"


def seed(db: Path, *, instances: int, groups: int) -> None:
    """``LISTED`` with ``groups`` GIDs, and ``instances - 1`` more instances as large (the last
    of them, ``SHORT``, a tenth as large when ``instances > 1``)."""
    store = EmulatorStore(str(db))
    store.add_account(ACCESS_KEY_ID, ACCESS_KEY_SECRET)
    others = [f"post-cn-other{i:04d}" for i in range(instances - 2)]
    if instances > 1:
        others.append(SHORT)
    for instance in [LISTED, *others]:
        store.add_instance(instance, region=REGION, topics=["orders"])
    with store.transaction() as conn:
        for instance in [LISTED, *others]:
            count = groups // 10 if instance == SHORT else groups
            for j in range(count):
                store.insert_group(conn, instance, f"GID_{instance[8:]}_{j:05d}", "orders")
    store.close()


def client(url: str) -> OnsClient:
    creds = resolve_credentials(
        access_key_id=ACCESS_KEY_ID, access_key_secret=ACCESS_KEY_SECRET, env={}
    )
    return OnsClient(creds, region=REGION, endpoint=url, retry=RetryPolicy(max_attempts=1))


def side_by_side(
    calls: int, small: Callable[[], object], large: Callable[[], object]
) -> tuple[float, float]:
    """Median seconds of ``small`` and of ``large``, called alternately ``calls`` times each. A
    call that answers a float timed itself (``fresh_listing``: its set-up left out)."""
    small()
    large()
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(calls):
        for call, into in ((small, times[0]), (large, times[1])):
            started = time.perf_counter()
            took = call()
            into.append(took if isinstance(took, float) else time.perf_counter() - started)
    return statistics.median(times[0]), statistics.median(times[1])


def fresh_listing(ons: OnsClient, instance: str) -> Callable[[], object]:
    """Listing ``instance`` read afresh from the store: a write first (untimed), so no
    listing kept from before can answer."""
    touch = create_delete(ons, instance)

    def call() -> None:
        ons.list_group_ids(instance)

    def timed() -> object:
        touch()
        started = time.perf_counter()
        call()
        return time.perf_counter() - started

    return timed


def create_delete(ons: OnsClient, instance: str) -> Callable[[], object]:
    counter = itertools.count()

    def call() -> None:
        name = f"GID_bench_new_{next(counter):06d}"
        ons.create_group_id(name, instance_id=instance)
        ons.delete_group_id(name, instance_id=instance)

    return call


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=1000, help="GIDs per instance")
    parser.add_argument("--instances", type=int, default=100, help="instances in the large one")
    parser.add_argument("--calls", type=int, default=30, help="timed calls per figure")
    args = parser.parse_args()
    clear_proxies()
    with tempfile.TemporaryDirectory(prefix="bench-emulator-") as tmp:
        work = Path(tmp)
        print(
            f"seeding 1 x {args.groups} and {args.instances} x {args.groups} GIDs ...", flush=True
        )
        seed(work / "small.sqlite", instances=1, groups=args.groups)
        seed(work / "large.sqlite", instances=args.instances, groups=args.groups)
        small_process, small_url = start_emulator(db=work / "small.sqlite")
        large_process, large_url = start_emulator(db=work / "large.sqlite")
        try:
            with client(small_url) as small, client(large_url) as large:
                listed = len(large.list_group_ids(LISTED))
                short = len(large.list_group_ids(SHORT))
                list_small, list_large = side_by_side(
                    args.calls, fresh_listing(small, LISTED), fresh_listing(large, LISTED)
                )
                pair_small, pair_large = side_by_side(
                    args.calls, create_delete(small, LISTED), create_delete(large, LISTED)
                )
                _, list_short = side_by_side(
                    args.calls, fresh_listing(small, LISTED), fresh_listing(large, SHORT)
                )
        finally:
            stop(small_process, timeout=15)
            stop(large_process, timeout=15)

    total = args.instances * args.groups
    print(
        f"account of 1 instance ({args.groups} GIDs) vs {args.instances} instances "
        f"({total} GIDs); median of {args.calls} calls each"
    )
    rows = [
        (f"list {listed} GIDs", list_small, list_large),
        ("create + delete one GID", pair_small, pair_large),
    ]
    for label, one, many in rows:
        print(
            f"  {label:<26} 1 instance {one * 1000:8.2f} ms   {args.instances} instances "
            f"{many * 1000:8.2f} ms   ratio {many / one:5.2f}x   (target close to 1.0x)"
        )
    print(
        f"  list {short} vs {listed} GIDs ({args.instances} instances): "
        f"{list_short * 1000:8.2f} ms vs {list_large * 1000:8.2f} ms   "
        f"{listed / short:g}x the GIDs take {list_large / list_short:5.2f}x the time"
        f"   (linear: at most {listed / short:g}x; the fixed cost of a call keeps it below)"
    )


if __name__ == "__main__":
    main()
