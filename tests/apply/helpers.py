"""Shared pieces of the apply tests: clients of a test emulator, changes, state checks."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from reconciler.cloud.client import OnsMqttClient
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
)

FAST_RETRY = RetryPolicy(max_attempts=6, base_delay=0.01, max_delay=0.2, deadline=30.0)


def client_for_url(url: str, *, retry: RetryPolicy = FAST_RETRY) -> OnsMqttClient:
    credentials = Credentials(
        access_key_id=TEST_ACCESS_KEY_ID,
        access_key_secret=SecretStr(TEST_ACCESS_KEY_SECRET),
        source="test",
    )
    return OnsMqttClient(credentials, region=TEST_REGION, endpoint=url, retry=retry)


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


def state_group_ids(doc: StateDocument | None) -> set[str]:
    return {resource.group_id for resource in doc.resources} if doc is not None else set()
