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

(d) Large state: 1,000 creates into a state that already holds --seed (99,000) GIDs against
    1,000 creates into an empty state, on the local and the PostgreSQL backend (best of 3 each,
    timed from the "Applying" line, i.e. the first create, to exit; the large runs each start
    from a copy of the seeded state). Target: at most 1.2x. The seeding apply itself (--seed
    creates over --seed/1000 instances) prints the client's CPU time against the emulator's
    (target: the client's below: the emulator, not the client, limits it); its journal is then
    folded (the time a fold takes is printed: it comes once per eighth of the document's size
    in changes, so the runs measure the common case); and `reconciler
    state rm` of one key on a copy of the seeded local state prints its wall time, best of 3
    (target: under 0.5 s). The emulator answers at --large-latency-ms (default 0: the client's
    own cost shows most). PostgreSQL from $RECONCILER_BENCH_PG_DSN (default
    postgresql://127.0.0.1:5432/test), in a schema of its own, dropped at the end.
    How the seeding's client CPU was profiled: cProfile sees only the main thread and yappi
    (every thread) inflates small, often-called functions many times over (it blamed urllib's
    quoting, which a change then showed to cost nothing); what held was timing the parts
    apart: a loop of N `OnsClient.create_group_id` calls against the emulator, CPU per call
    from `resource.getrusage`, alternating the old and the new tree and taking the best of 6
    runs each (the machine is shared), and `timeit` of the per-create steps around it
    (validating the recorded `StateResource`, formatting its time). What then found the
    rest: cProfile in every thread with a CPU clock, in the apply's own process (a script that
    wraps `threading.Thread.run` to run each thread under `cProfile.Profile(time.thread_time)`,
    profiles the main thread the same way, calls `reconciler.cli.main(["apply", ...])` and
    merges the profiles with `pstats.Stats.add`), seeding 10,000 creates against an emulator
    in its own process: a CPU clock leaves out the time threads wait on sockets and locks, which
    a wall clock charged to whatever held the GIL. Its absolute times are inflated by the
    profiler; the ranking held (signing and the form's encoding, 46 `percent_encode`/`quote`
    calls a create, pydantic's `model_construct` of keys). Each cut was then checked by
    `timeit` and by seeding 5,000 creates with the old and the new tree alternately
    (`PYTHONPATH` naming a `git archive` of the old revision), comparing client/emulator CPU.

--cases picks which of a, b, c, d run (default abc).
"""

from __future__ import annotations

import argparse
import os
import shutil
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
    # Output buffered as when a user's CI pipes it (apply flushes its "Applying" line and then
    # its progress every 0.2 s): unbuffered, each of 99,000 progress lines was a write call.
    env.pop("PYTHONUNBUFFERED", None)
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
    parser.add_argument("--seed", type=int, default=99_000, help="(d): GIDs already in state")
    parser.add_argument("--large-latency-ms", type=float, default=0.0)
    parser.add_argument("--cases", default="abc", help="which cases to run, e.g. c or abd")
    args = parser.parse_args()
    clear_proxies()
    parallel = ("--parallelism", str(args.parallelism))
    if "a" in args.cases:
        bench_unthrottled(args, parallel)
    if "b" in args.cases:
        bench_paced(args, parallel)
    if "c" in args.cases:
        bench_onsmqtt(args, parallel)
    if "d" in args.cases:
        bench_large_state(args, parallel)


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


# --- (d) a large state ------------------------------------------------------------------------

LARGE_RUN = 1000  # creates per measured run
REPEATS = 3
PG_DSN = os.environ.get("RECONCILER_BENCH_PG_DSN", "postgresql://127.0.0.1:5432/test")


def seed_instances(seed: int) -> list[str]:
    return [f"post-cn-seed{n:03d}" for n in range(seed // LARGE_RUN)]


def run_instances() -> list[str]:
    return [
        f"post-cn-{size}{backend}{rep}"
        for size in ("empty", "large")
        for backend in ("local", "pg")
        for rep in range(REPEATS)
    ]


def large_desired(directory: Path, instances: list[str], backend: str) -> Path:
    """``instances`` with 1,000 GIDs each (GID_<n> numbered per instance)."""
    body = f"version: 1\nbackend:\n{backend}instances:\n"
    for instance in instances:
        body += f"  - id: {instance}\n    groups:\n"
        body += "".join(f"      - GID_g{n:04d}\n" for n in range(LARGE_RUN))
    path = directory / "desired.yaml"
    path.write_text(body, encoding="utf-8")
    return path


def local_backend_yaml() -> str:
    return "  local:\n    path: state.json\n"


def pg_backend_yaml(schema: str, workspace: str) -> str:
    return f"  postgres:\n    dsn: {PG_DSN}\n    schema: {schema}\n    workspace: {workspace}\n"


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a running process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed_apply(directory: Path, url: str) -> tuple[float, float, float, str]:
    """Runs apply in ``directory``: seconds from its "Applying" line to exit, in all, the
    client's CPU seconds, and its output's tail."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "apply", "desired.yaml", "--auto-approve"],
        cwd=directory,
        env=apply_env(url),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    applying_at = None
    tail: list[str] = []
    for line in process.stdout:
        if applying_at is None and line.startswith("Applying "):
            applying_at = time.perf_counter()
        tail = [*tail[-4:], line]
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    ended = time.perf_counter()
    if process.returncode != 0:
        raise SystemExit(f"apply failed (exit {process.returncode}):\n{''.join(tail)}")
    cpu = usage.ru_utime + usage.ru_stime
    return ended - (applying_at or started), ended - started, cpu, "".join(tail)


def bench_large_state(args: argparse.Namespace, parallel: tuple[str, str]) -> None:
    del parallel  # the default parallelism, as a user runs it
    seeds = seed_instances(args.seed)
    print(
        f"(d) {LARGE_RUN} creates into a state of {len(seeds) * LARGE_RUN} GIDs vs into an "
        f"empty state, emulator latency {args.large_latency_ms:g} ms, best of {REPEATS}"
    )
    emulator, url = start_emulator(
        "--throttle",
        "OnsMqttGroupIdCreate=off",
        access_key_id=ACCESS_KEY_ID,
        access_key_secret=ACCESS_KEY_SECRET,
        region=REGION,
        instances=(*seeds, *run_instances()),
        latency_ms=args.large_latency_ms,
    )
    schema = f"bench_apply_{os.getpid()}"
    try:
        with tempfile.TemporaryDirectory(prefix="bench-large-") as tmp:
            root = Path(tmp)
            seeded = root / "seed"
            seeded.mkdir()
            large_desired(seeded, seeds, local_backend_yaml())
            emulator_cpu = cpu_seconds(emulator.pid)
            _, seed_wall, client_cpu, _ = timed_apply(seeded, url)
            emulator_cpu = cpu_seconds(emulator.pid) - emulator_cpu
            print(
                f"    seeding {len(seeds) * LARGE_RUN} creates: {seed_wall:.1f} s, "
                f"{len(seeds) * LARGE_RUN / seed_wall:.0f} creates/s; CPU: client "
                f"{client_cpu:.1f} s, emulator {emulator_cpu:.1f} s (target: client below "
                f"emulator: {'met' if client_cpu < emulator_cpu else 'NOT met'})"
            )
            fold_seeded(seeded)
            ratios = [
                large_vs_empty(root, seeded, seeds, url, backend, schema)
                for backend in ("local", "pg")
            ]
            print_state_rm(root, seeded, seeds[0])
    finally:
        stop(emulator)
        drop_schema(schema)
    ok = all(ratio <= 1.2 for ratio in ratios)
    print(f"    (target <= 1.2x on both backends: {'met' if ok else 'NOT met'})")


def large_vs_empty(
    root: Path, seeded: Path, seeds: list[str], url: str, backend: str, schema: str
) -> float:
    empty, large = [], []
    for rep in range(REPEATS):
        directory = root / f"empty-{backend}-{rep}"
        directory.mkdir()
        instance = f"post-cn-empty{backend}{rep}"
        yaml = local_backend_yaml() if backend == "local" else pg_backend_yaml(schema, instance)
        large_desired(directory, [instance], yaml)
        empty.append(timed_apply(directory, url)[0])
        directory = root / f"large-{backend}-{rep}"
        directory.mkdir()
        instance = f"post-cn-large{backend}{rep}"
        if backend == "local":
            for name in ("state.json", "state.json.journal"):
                if (seeded / name).exists():
                    shutil.copy(seeded / name, directory / name)
            yaml = local_backend_yaml()
        else:
            copy_to_postgres(seeded, schema, instance)
            yaml = pg_backend_yaml(schema, instance)
        large_desired(directory, [*seeds, instance], yaml)
        large.append(timed_apply(directory, url)[0])
    ratio = min(large) / min(empty)
    print(
        f"    {backend:<5}: into {len(seeds) * LARGE_RUN} GIDs {min(large):6.2f} s, into an "
        f"empty state {min(empty):6.2f} s: {ratio:.2f}x  (runs: large "
        + ", ".join(f"{t:.2f}" for t in large)
        + "; empty "
        + ", ".join(f"{t:.2f}" for t in empty)
        + ")"
    )
    return ratio


def fold_seeded(seeded: Path) -> None:
    """Fold the seeding's journal into the document, so that each large run starts where most
    applies do (a fold comes once per eighth of the document's size in changes), and print
    what the fold costs."""
    from reconciler.models import LocalBackendConfig  # noqa: PLC0415
    from reconciler.state import open_backend  # noqa: PLC0415

    with open_backend(LocalBackendConfig(path="state.json"), base_dir=seeded) as backend:
        doc = backend.read()
        assert doc is not None
        started = time.perf_counter()
        backend.write(doc, expected_serial=doc.serial)
        took = time.perf_counter() - started
    size = (seeded / "state.json").stat().st_size
    print(
        f"    a fold (the whole {size / 1e6:.0f} MB document written, journal cleared): "
        f"{took:.2f} s, once per {size / 8 / 1e6:.1f} MB of journal (about "
        f"{size / 8 / (size / len(doc.resources)):.0f} creates) or at 4 MB"
    )


def copy_to_postgres(seeded: Path, schema: str, workspace: str) -> None:
    from reconciler.models import LocalBackendConfig, PostgresBackendConfig  # noqa: PLC0415
    from reconciler.state import open_backend  # noqa: PLC0415

    doc = open_backend(LocalBackendConfig(path="state.json"), base_dir=seeded).read()
    assert doc is not None
    config = PostgresBackendConfig.model_validate(
        {"dsn": PG_DSN, "schema": schema, "workspace": workspace}
    )
    with open_backend(config, base_dir=seeded) as backend:
        backend.write(doc.model_copy(update={"serial": 0}), expected_serial=0)


def drop_schema(schema: str) -> None:
    import psycopg  # noqa: PLC0415

    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def print_state_rm(root: Path, seeded: Path, instance: str) -> None:
    """`state rm` of one key, on a copy of the seeded local state, with a desired file
    naming only the backend (the command reads the file; its parse is plan's cost)."""
    times = []
    for rep in range(REPEATS):
        directory = root / f"rm-{rep}"
        directory.mkdir()
        for name in ("state.json", "state.json.journal"):
            if (seeded / name).exists():
                shutil.copy(seeded / name, directory / name)
        (directory / "desired.yaml").write_text(
            f"version: 1\nbackend:\n{local_backend_yaml()}instances: []\n", encoding="utf-8"
        )
        started = time.perf_counter()
        done = subprocess.run(
            [
                sys.executable,
                *("-m", "reconciler", "state", "rm", "-c", "desired.yaml"),
                f"{instance}/GID_g{rep:04d}",
            ],
            cwd=directory,
            env=child_env(),
            capture_output=True,
            text=True,
            check=False,
        )
        times.append(time.perf_counter() - started)
        if done.returncode != 0:
            raise SystemExit(f"state rm failed: {done.stderr}")
    best = min(times)
    print(
        f"    state rm of one key on the seeded local state: {best:.2f} s (runs: "
        + ", ".join(f"{t:.2f}" for t in times)
        + f"; target < 0.5 s: {'met' if best < 0.5 else 'NOT met'})"
    )


if __name__ == "__main__":
    main()
