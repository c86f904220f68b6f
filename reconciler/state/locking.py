"""Lock metadata (who, where, which CI job), holding a lock for a block, and --lock-timeout."""

from __future__ import annotations

import getpass
import os
import socket
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime

from reconciler import __version__
from reconciler.state.base import LockInfo, OnWait, StateBackend, describe_holder


def new_lock_info(
    operation: str, *, backend: str = "", env: Mapping[str, str] | None = None
) -> LockInfo:
    """A fresh LockInfo for this process; ``backend`` is filled in by ``lock`` when empty."""
    return LockInfo(
        id=str(uuid.uuid4()),
        operation=operation,
        who=f"{_user()}@{socket.gethostname()}",
        version=__version__,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        ci_job=ci_job(os.environ if env is None else env),
        backend=backend,
        pid=os.getpid(),
    )


def ci_job(env: Mapping[str, str]) -> str | None:
    """Name the CI job from the usual environment variables; None outside CI."""
    if env.get("GITHUB_ACTIONS") == "true":
        run_id = env.get("GITHUB_RUN_ID", "")
        server, repo = env.get("GITHUB_SERVER_URL"), env.get("GITHUB_REPOSITORY")
        where = f"{server}/{repo}/actions/runs/{run_id}" if server and repo and run_id else ""
        name = "/".join(
            part for part in (env.get("GITHUB_WORKFLOW"), env.get("GITHUB_JOB")) if part
        )
        text = f"GitHub Actions {name or 'job'}"
        if run_id:
            text += f" run {run_id}"
        return f"{text} {where}".strip()
    if env.get("GITLAB_CI"):
        return env.get("CI_JOB_URL") or f"GitLab CI job {env.get('CI_JOB_ID', '?')}"
    if env.get("BUILDKITE_BUILD_URL"):
        return env["BUILDKITE_BUILD_URL"]
    if env.get("JENKINS_URL") or env.get("BUILD_URL"):
        return env.get("BUILD_URL") or "Jenkins job"
    if env.get("CIRCLE_BUILD_URL"):
        return env["CIRCLE_BUILD_URL"]
    if env.get("CI", "").lower() in ("1", "true", "yes"):
        return "CI"
    return None


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers running as a bare uid)
        return f"uid{os.getuid()}"


def format_waiting(holder: LockInfo | None) -> str:
    """``waiting for lock <id> held by <who> since <when> (<operation>, <CI job>)``."""
    return f"waiting for {describe_holder(holder)}"


@contextmanager
def hold_lock(
    backend: StateBackend,
    operation: str,
    *,
    timeout: float = 0.0,
    on_wait: OnWait | None = None,
) -> Iterator[LockInfo]:
    """Hold the backend's lock for the block; raise LockHeldError naming the holder when it
    cannot be had within ``timeout`` seconds (0: one try)."""
    info = new_lock_info(operation, backend=backend.describe())
    lock_id = backend.lock(info, timeout=timeout, on_wait=on_wait)
    try:
        yield info
    finally:
        backend.unlock(lock_id)
