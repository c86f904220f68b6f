"""Benchmark `reconciler plan` on a large estate, against an emulator in its own process.

Prints, from one run, side by side:
  1. `reconciler plan` wall time over 100 instances x 1,000 GIDs (1% new GIDs, 10 deletes,
     0.5% unmanaged) as a ratio
     to a bare `yaml.load(..., Loader=yaml.CSafeLoader)` of the same desired file (target
     <= 0.4x; the load alone is timed, in a process of its own): the medians of ``--repeat``
     rounds, each round's plan also against the same round's bare load (the machine is
     shared: every round's ratio is printed);
  2. the plan process's peak RSS (target <= 256 MB; the bench process stays small, since a
     child's ru_maxrss counts the image it was forked with: with the bare load done in this
     process, every plan "peaked" at this process's 300 MB);
  3. `reconciler validate` of the same file, as a ratio to the same bare load (target <= 0.3x);
  4. a 1-instance, 10-GID plan's wall time as a ratio to `python -c "import requests"`
     (start-up cost; target <= 2x), run as a user runs it: the package is built into a wheel
     and installed into a fresh virtual environment (as .ci/run does), the plan is that
     environment's `reconciler` script run from a directory outside the checkout, against
     the emulator above (its own process), with the credentials in the environment; the
     baseline is the same environment's python. The two alternate, ``--repeat`` times each
     (at least 3); the best of each is compared and every time is printed. To see where the
     time goes: `VENV/bin/python -X importtime -m reconciler plan small.yaml --endpoint URL`
     (and `tests/plan/test_startup.py` pins the modules a small plan must not import).

How the large plan was profiled (do it again before changing what it costs): with the
emulator of this bench running (seed() and write_estate() into a directory, then
start_emulator()), from that directory
  python -m cProfile -o plan.prof -m reconciler plan big.yaml --endpoint URL --detailed-exitcode
and ``pstats`` sorted by tottime and by cumulative time (the YAML events, the two pydantic
validations and the per-GID Python loops lead); for memory, a thread sampling VmRSS every 10 ms
with the phase the main thread is in (wrap ``load_desired_paths``, ``LocalBackend.read``,
``builder.refresh`` and ``plan_from_listings`` to print VmRSS and the peak so far before and
after each), and ``tracemalloc`` around ``parse_state`` of the bench's state file. Compare the
two: tracemalloc sees Python objects only, so a VmRSS peak far above its figure is native
memory (that is how pydantic-core's parse tree of the whole state document, 130 MB for 22 MB
of JSON, was found: the state is now validated a piece at a time, ``state/document.py``).
The state is read by a forked child while the desired file is parsed (``state/prefetch.py``;
the parent only rebuilds the child's values): profile ``parse_state`` on its own, or move
``backend:`` after ``instances:`` in the bench's file to keep the read in the parent. Since the
plan became bound by its main thread (the child and the emulator on the other core), the most
telling profile is of the GIL: ``py-spy record --gil --nonblocking -r 500 -f raw -o plan.raw
-- python -m reconciler plan ...`` samples only the thread holding it (without
``--nonblocking`` its pauses inflate long C calls such as ``pickle.loads``); sum the raw stacks
by leaf line and by frame. To tell whether a merge
made the plan slower (the ratio moves with the machine's load more than with most changes):
`git archive REV reconciler | tar -x -C OLD`, then run the plan (and validate) of the same
files with `PYTHONPATH=OLD` and with this checkout alternately, comparing their CPU times
(`/usr/bin/time -f %U`), not the ratio.

Usage: python bench/bench_plan.py [--instances 100] [--groups 1000] [--repeat 3] [--shape long]
       [--small-only]
"""

from __future__ import annotations

import argparse
import compileall
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import PROXY_VARIABLES, ROOT, child_env, start_emulator, stop

from reconciler.emulator.store import EmulatorStore
from reconciler.models import LocalBackendConfig, StateDocument, StateResource
from reconciler.state.local import LocalBackend

KEY_ID = "LTAI5tBenchPlanKey"
KEY_SECRET = "bench-plan-secret"
REGION = "cn-hangzhou"
SMALL_INSTANCE = "post-cn-small0001"


def instance_id(i: int) -> str:
    return f"post-cn-bench{i:04d}"


def cloud_gid(i: int, j: int) -> str:
    return f"GID_bench_{i:03d}_{j:04d}"


def seed(db: Path, instances: int, groups: int) -> None:
    store = EmulatorStore(str(db))
    store.add_account(KEY_ID, KEY_SECRET)
    for i in range(instances):
        store.add_instance(instance_id(i), region=REGION, topics=["orders"])
    store.add_instance(SMALL_INSTANCE, region=REGION, topics=["orders"])
    with store.transaction() as conn:
        for i in range(instances):
            for j in range(groups):
                store.insert_group(conn, instance_id(i), cloud_gid(i, j), "orders")
        for j in range(10):
            store.insert_group(conn, SMALL_INSTANCE, f"GID_small_{j:02d}", "orders")
    store.close()


def write_estate(work: Path, instances: int, groups: int, *, shape: str = "long") -> Path:
    """The big desired file and its state. Per instance: the last 5 cloud GIDs are unmanaged,
    10 new GIDs are declared (creates); 10 instances drop one managed GID (10 deletes, below
    the circuit breaker, so the online-client check runs for real)."""
    lines = ["version: 1", "backend:", "  local:", "    path: big-state.json", "instances:"]
    resources = []
    for i in range(instances):
        lines += [f"  - id: {instance_id(i)}", "    groups:"]
        managed = range(groups - 5)
        for j in managed:
            resources.append(
                StateResource(region=REGION, instance_id=instance_id(i), group_id=cloud_gid(i, j))
            )
            if j == 0 and i < 10:
                continue  # removed from the file: a delete
            if shape == "long":
                lines.append(f"      - {{id: {cloud_gid(i, j)}, topic: orders}}")
            else:
                lines.append(f"      - {cloud_gid(i, j)}")
        lines += [f"      - {{id: GID_new_{i:03d}_{k:02d}, topic: orders}}" for k in range(10)]
    path = work / "big.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    doc = StateDocument(lineage="00000000-0000-4000-8000-000000000001", resources=tuple(resources))
    LocalBackend(LocalBackendConfig(path="big-state.json"), base_dir=work).write(
        doc, expected_serial=0
    )
    small = ["version: 1", "backend:", "  local:", "    path: small-state.json", "instances:"]
    small += [f"  - id: {SMALL_INSTANCE}", "    groups:"]
    small += [f"      - GID_small_{j:02d}" for j in range(10)]
    (work / "small.yaml").write_text("\n".join(small) + "\n", encoding="utf-8")
    return path


def run_timed(args: list[str], *, cwd: Path, env: dict[str, str]) -> tuple[float, int, int]:
    """Wall seconds, peak RSS (KiB) and exit code of one child process."""
    started = time.perf_counter()
    process = subprocess.Popen(
        args, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    err = process.stderr.read().decode() if process.stderr else ""
    if process.returncode not in (0, 2):
        raise SystemExit(f"{' '.join(args)} failed ({process.returncode}): {err.strip()}")
    return elapsed, usage.ru_maxrss, process.returncode


# The bare load runs in a process of its own and times only the load: loaded here, its 250 MB
# would stay in this process, and each plan child, forked from it, would report this
# process's size as its own peak RSS (ru_maxrss counts the image it was forked with).
BARE_LOAD = """\
import sys, time, yaml
with open(sys.argv[1], encoding="utf-8") as handle:
    started = time.perf_counter()
    yaml.load(handle, Loader=yaml.CSafeLoader)
print(time.perf_counter() - started)
"""


def bare_load_seconds(path: Path) -> float:
    """Seconds a bare ``yaml.load(CSafeLoader)`` of ``path`` takes, in a fresh process."""
    done = subprocess.run(
        [sys.executable, "-c", BARE_LOAD, str(path)], capture_output=True, text=True, check=True
    )
    return float(done.stdout)


def install_wheel(work: Path) -> Path:
    """Build the package's wheel and install it, and requests (the start-up baseline), into
    a new virtual environment under ``work``; that environment's bin directory."""
    # A stale build/lib would put modules deleted since into the wheel (as in .ci/run).
    shutil.rmtree(ROOT / "build", ignore_errors=True)
    dist, venv = work / "dist", work / "venv"
    _quiet(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(dist), str(ROOT)]
    )
    _quiet([sys.executable, "-m", "venv", str(venv)])
    (wheel,) = dist.glob("*.whl")
    # requests only for the baseline (`import requests`): the package no longer depends on it.
    _quiet(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(wheel), "requests"]
    )
    return venv / "bin"


def _quiet(args: list[str]) -> None:
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def user_env(extra: dict[str, str]) -> dict[str, str]:
    """A user's environment: no proxies, nothing pointing into the checkout, plus ``extra``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in PROXY_VARIABLES and key not in ("PYTHONPATH", "PYTHONDONTWRITEBYTECODE")
    }
    env.update(extra)
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=100)
    parser.add_argument("--groups", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--shape",
        choices=("long", "short"),
        default="long",
        help="long: {id, topic} per GID (about 5 MB for 100 x 1,000 GIDs); "
        "short: the bare GID string",
    )
    parser.add_argument("--small-only", action="store_true", help="only the small plan (start-up)")
    options = parser.parse_args()
    if options.small_only:
        options.instances = options.groups = 0

    credentials = {
        "ALIBABA_CLOUD_ACCESS_KEY_ID": KEY_ID,
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": KEY_SECRET,
    }
    env = child_env(credentials)
    # Byte-compile the package as pip does at install time (requests, the baseline, is): with
    # PYTHONDONTWRITEBYTECODE set, every run would otherwise compile each module from source.
    compileall.compile_dir(ROOT / "reconciler", quiet=1)
    with tempfile.TemporaryDirectory(prefix="bench-plan-") as tmp:
        work = Path(tmp)
        print("building and installing the wheel ...", flush=True)
        bin_dir = install_wheel(work / "install")
        print(f"seeding {options.instances} instances x {options.groups} GIDs ...", flush=True)
        seed(work / "emulator.sqlite", options.instances, options.groups)
        desired = write_estate(work, options.instances, options.groups, shape=options.shape)
        size_mb = desired.stat().st_size / 1e6
        emulator, url = start_emulator(db=work / "emulator.sqlite")
        try:
            plan = [sys.executable, "-m", "reconciler", "plan", "--endpoint", url]
            plan_times, rss = [], []
            yaml_times, validate_times = [], []
            code = 0
            for _ in range(0 if options.small_only else options.repeat):
                yaml_times.append(bare_load_seconds(desired))
                seconds, peak, code = run_timed(
                    [*plan, str(desired), "--detailed-exitcode"], cwd=work, env=env
                )
                plan_times.append(seconds)
                rss.append(peak)
                validate = [sys.executable, "-m", "reconciler", "validate", str(desired)]
                validate_times.append(run_timed(validate, cwd=work, env=env)[0])
            user = user_env(credentials)
            small_plan = [str(bin_dir / "reconciler"), "plan", "small.yaml", "--endpoint", url]
            baseline = [str(bin_dir / "python"), "-c", "import requests"]
            run_timed(small_plan, cwd=work, env=user)  # warm the file cache for both
            run_timed(baseline, cwd=work, env=user)
            small_times, requests_times = [], []
            for _ in range(max(3, options.repeat)):
                small_times.append(run_timed(small_plan, cwd=work, env=user)[0])
                requests_times.append(run_timed(baseline, cwd=work, env=user)[0])
        finally:
            stop(emulator)

    if not options.small_only:
        plan_s, yaml_s = statistics.median(plan_times), statistics.median(yaml_times)
        validate_s = statistics.median(validate_times)
        peak_mb = max(rss) / 1024
        plan_ratios = [p / y for p, y in zip(plan_times, yaml_times, strict=True)]
        validate_ratios = [v / y for v, y in zip(validate_times, yaml_times, strict=True)]
        print(
            f"desired file: {size_mb:.1f} MB ({options.shape} form), {options.instances} "
            f"instances x {options.groups} GIDs; plan exit code {code}"
        )
        print(
            f"large plan:   {plan_s:6.2f} s   bare CSafeLoader load {yaml_s:6.2f} s   "
            f"ratio {plan_s / yaml_s:5.2f}x   (target <= 0.4x)"
        )
        print(f"peak RSS:     {peak_mb:6.0f} MB  (target <= 256 MB)")
        print(
            f"validate:     {validate_s:6.2f} s   "
            f"ratio {validate_s / yaml_s:5.2f}x   (target <= 0.3x)"
        )
        print("  bare load runs:     " + "  ".join(f"{s:6.2f}" for s in yaml_times))
        print("  plan ratio runs:    " + "  ".join(f"{r:6.2f}" for r in plan_ratios))
        print("  validate ratio runs:" + "  ".join(f"{r:6.2f}" for r in validate_ratios))
    small_s, requests_s = min(small_times), min(requests_times)
    print(
        f"small plan (installed wheel): best {small_s:6.3f} s   python -c 'import requests' "
        f"best {requests_s:6.3f} s   ratio {small_s / requests_s:5.2f}x   (target <= 2x)"
    )
    print("  small plan runs:      " + "  ".join(f"{s:6.3f}" for s in small_times))
    print("  import requests runs: " + "  ".join(f"{s:6.3f}" for s in requests_times))


if __name__ == "__main__":
    main()
