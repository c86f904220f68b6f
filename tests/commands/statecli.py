"""Running the CLI for the state and force-unlock command tests: in process and as a process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner, Result

from reconciler.cli import cli
from reconciler.models import LocalBackendConfig, StateResource
from reconciler.state import open_backend
from reconciler.state.base import StateBackend
from tests.fixtures.runs import child_env

DESIRED = """\
version: 1
backend:
{backend}
instances:
  - id: post-cn-test0001
    region: cn-shanghai
    groups: [GID_orders]
"""
LOCAL_BACKEND = "  local:\n    path: state/state.json\n"
POSTGRES_BACKEND = "  postgres:\n    dsn: ${{RECONCILER_CMD_TEST_DSN}}\n    schema: {schema}\n"


def write_desired(directory: Path, backend: str = LOCAL_BACKEND) -> Path:
    path = directory / "reconciler.yaml"
    path.write_text(DESIRED.format(backend=backend.rstrip("\n")), encoding="utf-8")
    return path


def local_state(directory: Path) -> StateBackend:
    """The local backend ``write_desired``'s default file names."""
    return open_backend(LocalBackendConfig(path="state/state.json"), base_dir=directory)


def resource(
    group_id: str, *, instance: str = "post-cn-test0001", region: str = "cn-shanghai"
) -> StateResource:
    return StateResource(
        region=region,
        instance_id=instance,
        group_id=group_id,
        topic="orders",
        origin="created",
        recorded_at="2026-01-02T03:04:05+00:00",
    )


def invoke(args: list[str], *, input: str | None = None) -> Result:
    """In process; ReconcilerErrors surface as ``result.exception`` (cli.main prints them)."""
    return CliRunner().invoke(cli, args, input=input)


def spawn(args: list[str], cwd: Path, **kwargs: object) -> subprocess.Popen[str]:
    return subprocess.Popen(  # type: ignore[call-overload, no-any-return]
        [sys.executable, "-m", "reconciler", *args],
        cwd=cwd,
        env=child_env(),
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        **kwargs,
    )
