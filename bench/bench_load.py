"""Loading a big desired-state file: load_desired vs a bare libyaml parse of the same file.

Generates 100 instances x 1,000 GIDs (half shorthand strings, half mappings), then in one run
times ``reconciler.config.load_desired`` (parse + duplicate-key check + one pydantic
validation + semantic checks + resolution) against ``yaml.load(..., Loader=yaml.CSafeLoader)``,
alternating the two and keeping each one's best of N rounds. Target: ratio <= 1.5.
Peak memory (VmHWM, the resident high-water mark) of each is measured in a fresh subprocess.

It also times what ``reconciler validate`` does (``load_desired_result``) on the same file with
one problem near its end, each as a ratio to the same bare load (target: each <= 3x): one error
in the last instance (located from libyaml's events, composing only the nodes on its path), one
unknown-region warning (likewise), one duplicate key (the fast path fails: the whole tree is
composed and the data rebuilt), a YAML syntax error, a tab-indented line and a control character
(libyaml's error as the fast path met it, reported as is), and a tab inside a plain scalar with
one error (libyaml reads the tab and locates the error).

    python bench/bench_load.py [--instances 100] [--gids 1000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from _common import ROOT

from reconciler.config import load_desired, load_desired_result
from reconciler.errors import ConfigErrors

CHILD = """
import json, resource, sys, time
sys.path.insert(0, {root!r})
path, mode = sys.argv[1], sys.argv[2]
start = time.perf_counter()
if mode == "bare":
    import yaml
    with open(path, encoding="utf-8") as handle:
        yaml.load(handle.read(), Loader=yaml.CSafeLoader)
else:
    from reconciler.config import load_desired
    load_desired(path)
elapsed = time.perf_counter() - start
# VmHWM is this process's own peak; ru_maxrss on Linux survives exec, so a child would
# report its parent's peak.
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                peak = int(line.split()[1])
except OSError:
    pass
print(json.dumps({{"seconds": elapsed, "maxrss_kib": peak}}))
"""


def generate(instances: int, gids: int) -> str:
    lines = [
        "# yaml-language-server: $schema=../schemas/desired-state.schema.json",
        "version: 1",
        "provider:",
        "  region: cn-hangzhou",
        "instances:",
    ]
    for i in range(instances):
        lines.append(f"  - id: post-cn-bench{i:04d}")
        lines.append("    independent_naming: true")
        lines.append("    groups:")
        for g in range(gids):
            gid = f"GID_bench-{i:04d}_{g:05d}"
            if g % 2:
                lines.append(f"      - {gid}")
            else:
                lines.append(f"      - id: {gid}")
                lines.append("        topic: orders")
                if g % 4 == 0:
                    lines.append("        protect: true")
                    lines.append("        description: Consumers of the order events")
    return "\n".join(lines) + "\n"


def time_once(path: Path, mode: str) -> float:
    start = time.perf_counter()
    if mode == "bare":
        with open(path, encoding="utf-8") as handle:
            yaml.load(handle.read(), Loader=yaml.CSafeLoader)
    else:
        load_desired(path)
    return time.perf_counter() - start


def with_problems(text: str, instances: int, gids: int) -> dict[str, tuple[str, str]]:
    """(description, text) of the file with one problem in its last instance, by name."""
    last_id = f"  - id: post-cn-bench{instances - 1:04d}\n"
    last_gid = f"GID_bench-{instances - 1:04d}_{gids - 1:05d}"
    flag = "    independent_naming: true\n"
    at_last = text.rindex(flag)
    return {
        "error": ("one error in the last instance", text.replace(last_gid, "gid_bad", 1)),
        "warning": (
            "one unknown-region warning in the last instance",
            text.replace(last_id, last_id + "    region: cn-hangzou\n", 1),
        ),
        "duplicate": (
            "one duplicate key in the last instance (full rebuild)",
            text[:at_last] + flag + text[at_last:],
        ),
        "syntax": (
            "one YAML syntax error in the last instance",
            text.replace(last_gid, last_gid + ": [", 1),
        ),
        "tab": (
            "one tab-indented line in the last instance",
            text.replace(f"      - {last_gid}", f"\t- {last_gid}", 1),
        ),
        "control": (
            "one control character in the last instance",
            text.replace(last_gid, last_gid + "\x07", 1),
        ),
        "tab-scalar": (
            "a tab in a plain scalar, one error in the last instance",
            text.replace("description: Consumers of", "description: Consumers\tof", 1).replace(
                last_gid, "gid_bad", 1
            ),
        ),
    }


def validate_once(path: Path) -> tuple[float, str]:
    """Seconds for what `reconciler validate` does, and the first problem it reports."""
    start = time.perf_counter()
    try:
        result = load_desired_result(path)
    except ConfigErrors as exc:
        return time.perf_counter() - start, exc.errors[0].format()
    elapsed = time.perf_counter() - start
    return elapsed, result.warnings[0].format() if result.warnings else "valid"


def child(path: Path, mode: str) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD.format(root=str(ROOT)), str(path), mode],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, float] = json.loads(done.stdout)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=100)
    parser.add_argument("--gids", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "desired.yaml"
        path.write_text(generate(args.instances, args.gids), encoding="utf-8")
        size_mb = path.stat().st_size / 1e6
        total = args.instances * args.gids
        print(f"file: {args.instances} x {args.gids} = {total:,} GIDs, {size_mb:.1f} MB")

        best = {"bare": float("inf"), "load": float("inf")}
        for _ in range(args.rounds):
            for mode in ("bare", "load"):
                best[mode] = min(best[mode], time_once(path, mode))
        ratio = best["load"] / best["bare"]
        print(f"yaml.load(CSafeLoader):  {best['bare']:.2f} s (best of {args.rounds})")
        print(f"load_desired:            {best['load']:.2f} s (best of {args.rounds})")
        print(f"ratio load_desired / bare libyaml: {ratio:.2f}x (target <= 1.50x)")

        bare, loaded = child(path, "bare"), child(path, "load")
        print(
            f"peak memory (fresh process, VmHWM): bare {bare['maxrss_kib'] / 1024:.0f} MiB, "
            f"load_desired {loaded['maxrss_kib'] / 1024:.0f} MiB "
            f"({loaded['maxrss_kib'] / bare['maxrss_kib']:.2f}x)"
        )

        text = path.read_text(encoding="utf-8")
        problems = with_problems(text, args.instances, args.gids)
        print("validate (load_desired_result) with one problem, as a ratio to the bare load above:")
        for name, (description, variant) in problems.items():
            variant_path = Path(directory) / f"{name}.yaml"
            variant_path.write_text(variant, encoding="utf-8")
            validate_best = float("inf")
            reported = ""
            for _ in range(args.rounds):
                elapsed, reported = validate_once(variant_path)
                validate_best = min(validate_best, elapsed)
            print(
                f"  {description}: {validate_best:.2f} s, "
                f"{validate_best / best['bare']:.2f}x bare (target <= 3.00x)"
            )
            print(f"    {reported[:150]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
