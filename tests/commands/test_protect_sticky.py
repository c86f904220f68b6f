"""``protect`` is removed only by an explicit ``protect: false`` on the GID: leaving the key
out (or dropping ``defaults.protect``) keeps what the state records, as the guard's words say,
and ``export`` writes what the state records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.models import LocalBackendConfig, StateDocument, StateResource
from reconciler.state.local import LocalBackend
from tests.fixtures.apply_kit import write_desired
from tests.fixtures.emulator import TEST_INSTANCE_ID, TEST_REGION, RunningEmulator
from tests.fixtures.runs import run_cli

KEY = f"{TEST_INSTANCE_ID}/GID_precious"


def _record(*resources: StateResource) -> None:
    backend = LocalBackend(LocalBackendConfig(path="state.json"), base_dir=Path.cwd())
    backend.write(
        StateDocument(lineage="6a1f0c9e-0000-4000-8000-00000000beef", resources=resources),
        expected_serial=0,
    )


def _protected(group_id: str = "GID_precious", **fields: object) -> StateResource:
    return StateResource(
        region=TEST_REGION, instance_id=TEST_INSTANCE_ID, group_id=group_id, protect=True,
        **fields,  # type: ignore[arg-type]
    )  # fmt: skip


def _plan_json(capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    result = run_cli(capsys, "plan", "desired.yaml", "--format", "json")
    assert result.code in (0, 1), result.err
    document: dict[str, object] = json.loads(result.out)
    return document


@pytest.mark.parametrize(
    "entry",
    ["GID_precious", "{id: GID_precious}", "{id: GID_precious, topic: orders}"],
    ids=["short form", "long form without protect", "long form with a topic"],
)
def test_leaving_protect_out_keeps_the_recorded_protection(
    entry: str, workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator.store.add_group(TEST_INSTANCE_ID, "GID_precious")
    _record(_protected())
    write_desired(entry)
    result = run_cli(capsys, "plan", "desired.yaml", "--no-color")
    assert result.code == 0, result.err
    assert "protect changes" not in result.out
    assert result.out == "No changes.\n"


def test_dropping_defaults_protect_keeps_the_recorded_protection(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator.store.add_group(TEST_INSTANCE_ID, "GID_precious")
    write_desired("GID_precious", extra="defaults:\n  protect: true\n")
    applied = run_cli(capsys, "apply", "desired.yaml", "--auto-approve")
    assert applied.code == 0, applied.err
    write_desired("GID_precious")
    assert _plan_json(capsys)["changes"] == []
    # ...and removing it from the file is still refused as protected.
    write_desired()
    refused = run_cli(capsys, "plan", "desired.yaml")
    assert refused.code == 1
    assert f"override: --allow-protected-delete {KEY}" in refused.out


def test_only_an_explicit_protect_false_removes_it(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator.store.add_group(TEST_INSTANCE_ID, "GID_precious")
    _record(_protected())
    write_desired("{id: GID_precious, protect: false}")
    result = run_cli(capsys, "plan", "desired.yaml", "--no-color")
    assert result.code == 0, result.err
    assert "protect changes from true to false" in result.out
    assert run_cli(capsys, "apply", "desired.yaml", "--auto-approve").code == 0
    write_desired()
    deleted = run_cli(capsys, "plan", "desired.yaml", "--no-color")
    assert deleted.code == 0, deleted.err
    assert "- GID_precious delete" in " ".join(deleted.out.split())


def test_a_recreated_gid_keeps_its_recorded_protection(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    """Deleted outside reconciler and declared without ``protect``: recreated, still protected."""
    _record(_protected())
    write_desired("GID_precious")
    [change] = _plan_json(capsys)["changes"]  # type: ignore[misc]
    assert change["action"] == "create"
    assert change["protect"] is True


def test_export_writes_the_recorded_protection_and_topic(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    for group_id in ("GID_precious", "GID_plain", "GID_topical"):
        emulator.store.add_group(TEST_INSTANCE_ID, group_id)
    _record(
        _protected(topic="orders"),
        StateResource(
            region=TEST_REGION, instance_id=TEST_INSTANCE_ID, group_id="GID_topical",
            topic="alerts",
        ),
    )  # fmt: skip
    write_desired("GID_precious")  # names the backend (state.json) for export's -c
    result = run_cli(
        capsys, "export", "--instance", TEST_INSTANCE_ID, "--region", TEST_REGION,
        "-c", "desired.yaml", "-o", "exported.yaml",
    )  # fmt: skip
    assert result.code == 0, result.err
    text = Path("exported.yaml").read_text(encoding="utf-8")
    assert "      - GID_plain\n" in text
    assert "      - {id: GID_precious, topic: orders, protect: true}\n" in text
    assert "      - {id: GID_topical, topic: alerts}\n" in text
