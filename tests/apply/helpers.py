"""Shared pieces of the apply tests: clients of a test emulator, changes, state checks."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from pydantic import SecretStr

from reconciler.cloud.client import OnsClient
from reconciler.cloud.credentials import Credentials
from reconciler.cloud.retry import RetryPolicy
from reconciler.models import LocalBackendConfig, ResourceKey, StateDocument
from reconciler.plan.model import Action, Change
from reconciler.state.local import LocalBackend
from tests.fixtures.emulator import (
    TEST_ACCESS_KEY_ID,
    TEST_ACCESS_KEY_SECRET,
    TEST_INSTANCE_ID,
    TEST_REGION,
    RunningEmulator,
)
from tests.fixtures.emulator_store import group_ids
from tests.fixtures.runs import child_env

FAST_RETRY = RetryPolicy(max_attempts=6, base_delay=0.01, max_delay=0.2, deadline=30.0)


def client_for_url(url: str, *, retry: RetryPolicy = FAST_RETRY) -> OnsClient:
    credentials = Credentials(
        access_key_id=TEST_ACCESS_KEY_ID,
        access_key_secret=SecretStr(TEST_ACCESS_KEY_SECRET),
        source="test",
    )
    return OnsClient(credentials, region=TEST_REGION, endpoint=url, retry=retry)


def change(
    action: Action,
    group_id: str,
    *,
    topic: str | None = None,
    protect: bool = False,
    instance_id: str = TEST_INSTANCE_ID,
) -> Change:
    return Change(
        action=action,
        region=TEST_REGION,
        instance_id=instance_id,
        group_id=group_id,
        reason="test",
        topic=topic,
        protect=protect,
    )


def key(group_id: str, instance_id: str = TEST_INSTANCE_ID) -> ResourceKey:
    return ResourceKey(region=TEST_REGION, instance_id=instance_id, group_id=group_id)


def local_backend(tmp_path: Path) -> LocalBackend:
    return LocalBackend(LocalBackendConfig(path="state.json"), base_dir=tmp_path)


def cloud(emulator: RunningEmulator) -> set[str]:
    """The GIDs the test instance has in the emulator."""
    return set(group_ids(emulator.store, TEST_INSTANCE_ID))


def state_group_ids(doc: StateDocument | None) -> set[str]:
    return {resource.group_id for resource in doc.resources} if doc is not None else set()


def state_equals_cloud(doc: StateDocument | None, cloud_group_ids: list[str]) -> bool:
    return state_group_ids(doc) == set(cloud_group_ids)


def write_desired(
    *groups: str,
    name: str = "desired.yaml",
    instance_id: str = TEST_INSTANCE_ID,
    extra: str = "",
    backend: str = "backend:\n  local:\n    path: state.json\n",
) -> Path:
    """A desired file declaring ``groups`` (YAML entries: ``GID_a`` or ``{id: ..., ...}``)."""
    entries = "".join(f"      - {group}\n" for group in groups) or "      []\n"
    body = (
        "version: 1\n"
        + backend
        + textwrap.dedent(extra)
        + f"instances:\n  - id: {instance_id}\n    groups:\n"
        + (entries if groups else "")
    )
    if not groups:
        body = body.replace("    groups:\n", "    groups: []\n")
    path = Path(name)
    path.write_text(body, encoding="utf-8")
    return path


def cwd_backend() -> LocalBackend:
    return LocalBackend(LocalBackendConfig(path="state.json"), base_dir=Path.cwd())


# --- apply in a subprocess (to SIGKILL or SIGINT it) ----------------------------------------


def subprocess_env(url: str) -> dict[str, str]:
    """A child's environment talking to the emulator at ``url``, colours left to the terminal."""
    env = child_env(
        ALIBABA_CLOUD_ACCESS_KEY_ID=TEST_ACCESS_KEY_ID,
        ALIBABA_CLOUD_ACCESS_KEY_SECRET=TEST_ACCESS_KEY_SECRET,
        RECONCILER_ENDPOINT=url,
    )
    env.pop("NO_COLOR", None)
    env.pop("no_color", None)
    return env


def spawn_apply(cwd: Path, url: str, *args: str) -> subprocess.Popen[str]:
    """``reconciler apply ...`` with stdout piped: one line per finished action."""
    return subprocess.Popen(
        [sys.executable, "-m", "reconciler", "apply", *args],
        cwd=cwd,
        env=subprocess_env(url),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_progress(process: subprocess.Popen[str], lines: int) -> list[str]:
    """Read stdout until ``lines`` actions have finished (or the process ends)."""
    assert process.stdout is not None
    seen: list[str] = []
    applying = False
    done = 0
    while done < lines:
        line = process.stdout.readline()
        if not line:
            break
        seen.append(line)
        if line.startswith("Applying "):
            applying = True
        elif applying:
            done += 1
    return seen
