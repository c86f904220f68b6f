"""cloud_session: endpoint precedence and the embedded emulator's lifecycle."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from reconciler.commands.connect import (
    ENDPOINT_ENV,
    cloud_session,
    embedded_instances,
    resolve_endpoint,
)
from reconciler.errors import CredentialsError
from reconciler.models import DesiredGroup, DesiredInstance, ProviderConfig


def test_endpoint_precedence() -> None:
    provider = ProviderConfig(endpoint="http://from-file:1")
    assert resolve_endpoint(provider, "http://flag:1", {ENDPOINT_ENV: "http://env:1"}) == (
        "http://flag:1"
    )
    assert resolve_endpoint(provider, None, {ENDPOINT_ENV: "http://env:1"}) == "http://env:1"
    assert resolve_endpoint(provider, None, {}) == "http://from-file:1"
    assert resolve_endpoint(ProviderConfig(), None, {}) is None


def test_embedded_instances_carry_parent_topics() -> None:
    instance = DesiredInstance(
        instance_id="post-cn-q0001",
        independent_naming=False,
        groups=(
            DesiredGroup(group_id="GID_aaa", topic="orders"),
            DesiredGroup(group_id="GID_bbb", topic="billing"),
            DesiredGroup(group_id="GID_ccc"),
        ),
    )
    assert embedded_instances([instance]) == [
        ("cn-hangzhou", "post-cn-q0001", False, ["billing", "orders"])
    ]


def test_embedded_session_serves_declared_instances_and_stops(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENDPOINT_ENV, raising=False)
    instance = DesiredInstance(instance_id="post-cn-embed01", groups=())
    with cloud_session(
        ProviderConfig(endpoint="embedded"), instances=[instance], workdir=tmp_path
    ) as session:
        assert session.embedded
        client = session.client("cn-hangzhou")
        assert session.client("cn-hangzhou") is client
        client.create_group_id("GID_embedded", instance_id="post-cn-embed01")
        assert [r.group_id for r in client.list_group_ids("post-cn-embed01")] == ["GID_embedded"]
        url = client.endpoint
    assert (tmp_path / "emulator.sqlite").exists()
    with pytest.raises(requests.ConnectionError):
        requests.post(url, timeout=2)
    # The data survives: a second session sees the GID created by the first.
    with cloud_session(
        ProviderConfig(endpoint="embedded"), instances=[instance], workdir=tmp_path
    ) as session:
        records = session.client("cn-hangzhou").list_group_ids("post-cn-embed01")
        assert [r.group_id for r in records] == ["GID_embedded"]


def test_real_endpoint_needs_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        ENDPOINT_ENV,
        "ALIBABA_CLOUD_ACCESS_KEY_ID",
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
        "ALICLOUD_ACCESS_KEY",
        "ALICLOUD_SECRET_KEY",
        "ALIBABA_CLOUD_PROFILE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    with cloud_session(ProviderConfig(region="cn-shanghai")) as session:
        assert not session.embedded
        assert session.endpoint_label == "ons.cn-shanghai.aliyuncs.com"
        with pytest.raises(CredentialsError):
            session.client("cn-shanghai")
