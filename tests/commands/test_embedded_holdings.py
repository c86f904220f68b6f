"""The embedded emulator says what it created and what it holds, and can be reset: a typo in a
declared instance or region is visible, and recoverable with a command."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.emulator.embedded import start_embedded
from reconciler.emulator.store import EmulatorStore
from tests.fixtures.runs import run_cli

DB = Path(".reconciler/emulator.sqlite")

FILE = """\
version: 1
provider:
  endpoint: embedded
instances:
  - id: post-cn-quickstart1
    region: {region}
    groups: [GID_one]
"""


@pytest.fixture
def cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RECONCILER_ENDPOINT", raising=False)
    return tmp_path


def write(cwd: Path, region: str) -> None:
    (cwd / "g.yaml").write_text(FILE.format(region=region), encoding="utf-8")


def test_first_use_names_the_instances_it_created(
    cwd: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(cwd, "cn-hangzou")
    first = run_cli(capsys, "plan", "g.yaml")
    assert first.code == 0, first.err
    created = [line for line in first.err.splitlines() if "created" in line and "emulator" in line]
    assert len(created) == 1, first.err
    assert "post-cn-quickstart1 (cn-hangzou)" in created[0]
    # Only on first use.
    again = run_cli(capsys, "plan", "g.yaml")
    assert not [line for line in again.err.splitlines() if "created" in line]


def test_a_fixed_region_typo_says_what_the_emulator_holds_and_how_to_reset_it(
    cwd: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(cwd, "cn-hangzou")
    assert run_cli(capsys, "plan", "g.yaml").code == 0
    write(cwd, "cn-hangzhou")

    fixed = run_cli(capsys, "plan", "g.yaml")

    assert fixed.code == 1
    error = next(line for line in fixed.err.splitlines() if line.startswith("Error:"))
    assert "post-cn-quickstart1 (cn-hangzou)" in error
    assert "reconciler emulator reset" in error

    reset = run_cli(capsys, "emulator", "reset")
    assert reset.code == 0, reset.err
    assert "post-cn-quickstart1 (cn-hangzou)" in reset.out
    assert not DB.exists()
    after = run_cli(capsys, "plan", "g.yaml")
    assert after.code == 0, after.err
    assert "Plan: 1 to create" in after.out


def test_reset_refuses_while_an_embedded_emulator_is_running(
    cwd: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    running = start_embedded(DB, [("cn-hangzhou", "post-cn-busy", True, [])])
    try:
        refused = run_cli(capsys, "emulator", "reset")
        assert refused.code == 1
        assert "in use" in refused.err
        assert DB.exists()
    finally:
        running.stop()
    store = EmulatorStore(str(DB))
    try:
        assert store.instance("post-cn-busy") is not None
    finally:
        store.close()
    assert run_cli(capsys, "emulator", "reset").code == 0
    assert not DB.exists()


def test_reset_of_nothing_says_so(cwd: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli(capsys, "emulator", "reset")
    assert result.code == 0
    assert "nothing to reset" in result.out
