"""What the benchmarks share: the repository root on sys.path, child-process environments
without proxies, and an emulator in its own process.

The bench scripts run as ``python bench/<name>.py``, so this module is imported as
``_common`` (the script's directory is first on sys.path); import it before ``reconciler``,
which it makes importable.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

URL_LINE = re.compile(r"^reconciler emulator listening on (http://\S+)$")
PROXY_VARIABLES = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "http_proxy",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
)


def clear_proxies() -> None:
    """Drop the proxy variables from this process: the official SDKs honour HTTP_PROXY and
    ignore NO_PROXY, and loopback must go direct."""
    for name in PROXY_VARIABLES:
        os.environ.pop(name, None)


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment for a child: no proxies, the repository importable,
    unbuffered output, plus ``extra``."""
    env = {key: value for key, value in os.environ.items() if key not in PROXY_VARIABLES}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def start_emulator(
    *extra: str,
    access_key_id: str | None = None,
    access_key_secret: str | None = None,
    region: str | None = None,
    instances: Iterable[str] = (),
    topics: Iterable[str] = (),
    latency_ms: float | None = None,
    db: Path | None = None,
) -> tuple[subprocess.Popen[str], str]:
    """``python -m reconciler emulator serve --port 0`` with the given account, instances
    (``--instance``), topics (``INSTANCE=TOPIC``) and ``extra`` arguments; returns the
    process and its URL. Exits the benchmark when the emulator does not start."""
    args = [sys.executable, "-m", "reconciler", "emulator", "serve", "--port", "0"]
    if access_key_id is not None:
        args += ["--access-key-id", access_key_id]
    if access_key_secret is not None:
        args += ["--access-key-secret", access_key_secret]
    if region is not None:
        args += ["--region", region]
    for instance in instances:
        args += ["--instance", instance]
    for topic in topics:
        args += ["--topic", topic]
    if latency_ms is not None:
        args += ["--latency-ms", str(latency_ms)]
    if db is not None:
        args += ["--db", str(db)]
    process = subprocess.Popen(
        [*args, *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=child_env(),
        cwd=ROOT,
    )
    assert process.stdout is not None
    first = process.stdout.readline().strip()
    match = URL_LINE.match(first)
    if match is None:
        process.kill()
        raise SystemExit(f"emulator did not start: {first!r}")
    # Keep draining stdout so the emulator never blocks on a full pipe.
    threading.Thread(target=process.stdout.read, daemon=True).start()
    return process, match.group(1)


def stop(process: subprocess.Popen[str], timeout: float = 30.0) -> None:
    """Terminate a child, killing it if it does not stop within ``timeout`` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
