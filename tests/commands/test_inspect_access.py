"""``inspect access ID`` against the emulator (a real HTTP server on port 0): identities (never
their secrets), permissions and the connect blacklist as tables, JSON and CSV; an edition
without custom authentication is one line, exit 1."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from reconciler.cli import cli
from reconciler.cloud.custom_auth import PAGE_SIZE
from reconciler.emulator.store import IdentityRecord, PermissionRecord
from tests.fixtures.emulator import RunningEmulator

SECRETS = ("user-secret-7f1c", "client-secret-c93a")


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["inspect", "access", *args])


@pytest.fixture
def access(emulator: RunningEmulator, workdir: Path) -> RunningEmulator:
    store, inst = emulator.store, emulator.instance_id
    store.add_identity(IdentityRecord(inst, "USER", "fleet", "", SECRETS[0], "ORIGIN"))
    store.add_identity(IdentityRecord(inst, "CLIENT", "fleet", "sensor-1", SECRETS[1], "SIGNED"))
    store.add_permission(PermissionRecord(inst, "USER", "fleet", "orders/#", "ALLOW", "PUB_SUB"))
    store.add_permission(PermissionRecord(inst, "CLIENT", "sensor-1", "orders/x", "DENY", "PUB"))
    store.add_blacklisted(inst, "rogue-1")
    return emulator


def _no_secret(result: Result) -> None:
    assert all(secret not in result.output + result.stderr for secret in SECRETS)


def test_the_tables(access: RunningEmulator) -> None:
    result = run(access.instance_id, "--no-color")
    assert result.exit_code == 0, result.output
    _no_secret(result)
    lines = result.stdout.splitlines()
    assert lines[0] == "identities (2)"
    assert [
        line.split() for line in lines if line.split()[:1] in (["USER"], ["CLIENT"], ["rogue-1"])
    ] == [
        ["CLIENT", "fleet", "sensor-1", "SIGNED"],
        ["USER", "fleet", "-", "ORIGIN"],
        ["CLIENT", "sensor-1", "orders/x", "DENY", "PUB"],
        ["USER", "fleet", "orders/#", "ALLOW", "PUB_SUB"],
        ["rogue-1"],
    ]
    assert "permissions (2)" in lines and "connect blacklist (1)" in lines
    assert lines[-1] == (
        f"custom authentication of {access.instance_id} (cn-hangzhou); secrets are never shown"
    )


def test_json(access: RunningEmulator) -> None:
    result = run(access.instance_id, "--format", "json")
    assert result.exit_code == 0, result.output
    _no_secret(result)
    assert json.loads(result.stdout) == {
        "instance_id": access.instance_id,
        "region": "cn-hangzhou",
        "identities": [
            {
                "identity_type": "CLIENT",
                "username": "fleet",
                "client_id": "sensor-1",
                "sign_mode": "SIGNED",
            },
            {
                "identity_type": "USER",
                "username": "fleet",
                "client_id": None,
                "sign_mode": "ORIGIN",
            },
        ],
        "permissions": [
            {
                "identity_type": "CLIENT",
                "identity": "sensor-1",
                "topic": "orders/x",
                "effect": "DENY",
                "permit_action": "PUB",
            },
            {
                "identity_type": "USER",
                "identity": "fleet",
                "topic": "orders/#",
                "effect": "ALLOW",
                "permit_action": "PUB_SUB",
            },
        ],
        "blacklist": [{"client_id": "rogue-1"}],
    }


def test_csv(access: RunningEmulator) -> None:
    result = run(access.instance_id, "--format", "csv")
    assert result.exit_code == 0, result.output
    _no_secret(result)
    assert list(csv.reader(io.StringIO(result.stdout))) == [
        [
            "kind",
            "identity_type",
            "identity",
            "client_id",
            "sign_mode",
            "topic",
            "effect",
            "permit_action",
        ],
        ["identity", "CLIENT", "fleet", "sensor-1", "SIGNED", "", "", ""],
        ["identity", "USER", "fleet", "", "ORIGIN", "", "", ""],
        ["permission", "CLIENT", "sensor-1", "", "", "orders/x", "DENY", "PUB"],
        ["permission", "USER", "fleet", "", "", "orders/#", "ALLOW", "PUB_SUB"],
        ["blacklist", "", "", "rogue-1", "", "", "", ""],
    ]


def test_an_empty_instance_and_every_page(emulator: RunningEmulator, workdir: Path) -> None:
    empty = run(emulator.instance_id, "--no-color")
    assert empty.exit_code == 0, empty.output
    assert empty.stdout.splitlines()[:3] == [
        "identities: none",
        "",
        "permissions: none",
    ]
    for n in range(PAGE_SIZE + 5):
        emulator.store.add_blacklisted(emulator.instance_id, f"rogue-{n:03d}")
    listed = json.loads(run(emulator.instance_id, "--format", "json").stdout)
    assert len(listed["blacklist"]) == PAGE_SIZE + 5


def test_an_edition_without_custom_auth_is_one_line(
    emulator: RunningEmulator, workdir: Path
) -> None:
    emulator.store.add_instance("post-cn-basic0001", edition="basic")
    result = run("post-cn-basic0001")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: instance post-cn-basic0001 has no custom authentication: its edition lacks it"
        " (only the Professional and Platinum editions have it) (ApiNotSupport)\n"
    )


def test_an_unknown_instance_and_the_ons_api_are_one_line(
    emulator: RunningEmulator, workdir: Path
) -> None:
    unknown = run("post-cn-nowhere")
    assert unknown.exit_code == 1
    assert unknown.stderr.splitlines() == [
        "Error: instance post-cn-nowhere not found in region cn-hangzhou (InstanceNotFound)"
    ]
    ons = run(emulator.instance_id, "--api", "ons")
    assert ons.exit_code == 1
    assert "ONS 2019-02-14 (--api ons) has none" in ons.stderr
