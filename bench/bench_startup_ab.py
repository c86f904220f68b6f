"""A small plan's start-up, this checkout against an earlier revision, side by side.

`bench_plan.py --small-only` compares a plan with `import requests` on the same machine; on a
shared machine both move by more than a change's effect. This runs the same 1-instance,
10-GID plan (static key in the environment, emulator in its own process) alternately from the
revision ``--before`` (extracted with ``git archive``) and from this checkout, with the same
interpreter and both trees' bytecode compiled first, the order swapped every round, and prints
each side's best and median and their ratios (after / before; target: not above 1.0 beyond
noise). Issue 20 used it for the credential chain.

Usage: python bench/bench_startup_ab.py --before REV [--rounds 30]
"""

from __future__ import annotations

import argparse
import compileall
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

from _common import ROOT, child_env, clear_proxies, start_emulator, stop

KEY_ID = "LTAI5tBenchStartupKey"
KEY_SECRET = "bench-startup-secret"
INSTANCE = "post-cn-small0001"
DESIRED = (
    "version: 1\nprovider:\n  region: cn-hangzhou\nbackend:\n  local:\n    path: state.json\n"
    f"instances:\n  - id: {INSTANCE}\n    groups:\n"
    + "".join(f"      - GID_small_{index}\n" for index in range(10))
)


def extract(revision: str, into: Path) -> Path:
    archive = subprocess.run(
        ["git", "archive", revision, "reconciler"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def one_plan(tree: Path, work: Path, url: str) -> float:
    env = child_env(
        {
            "ALIBABA_CLOUD_ACCESS_KEY_ID": KEY_ID,
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET": KEY_SECRET,
            "RECONCILER_ENDPOINT": url,
        }
    )
    env["PYTHONPATH"] = str(tree)  # this tree's reconciler, not the checkout's
    began = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "reconciler", "plan", "small.yaml"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - began
    if done.returncode != 0:
        sys.exit(f"plan from {tree} failed: {done.stderr.strip()[-500:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--before", required=True, help="the revision to compare with")
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    clear_proxies()
    with tempfile.TemporaryDirectory() as scratch:
        trees = {"before": extract(args.before, Path(scratch) / "before"), "after": ROOT}
        for tree in trees.values():
            compileall.compile_dir(tree / "reconciler", quiet=1)
        work = Path(scratch) / "work"
        work.mkdir()
        (work / "small.yaml").write_text(DESIRED, encoding="utf-8")
        process, url = start_emulator(
            access_key_id=KEY_ID,
            access_key_secret=KEY_SECRET,
            region="cn-hangzhou",
            instances=[INSTANCE],
        )
        times: dict[str, list[float]] = {name: [] for name in trees}
        try:
            for round_ in range(args.rounds):
                order = list(trees) if round_ % 2 == 0 else list(reversed(trees))
                for name in order:
                    times[name].append(one_plan(trees[name], work, url))
        finally:
            stop(process)
    for name, values in times.items():
        print(
            f"{name:6}  best {min(values):.3f} s  median {statistics.median(values):.3f} s  "
            f"({len(values)} runs)"
        )
    best = min(times["after"]) / min(times["before"])
    median = statistics.median(times["after"]) / statistics.median(times["before"])
    print(f"after / before: best {best:.2f}x, median {median:.2f}x")


if __name__ == "__main__":
    main()
