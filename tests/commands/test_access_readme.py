"""The README's "Access rules" walk-through, run as written: its shell block, line by line, on
a copy of ``examples/access-rules.yaml`` against the embedded emulator (the secrets set as the
block sets them, with values of the test's own)."""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path

import pytest

from tests.fixtures.runs import ROOT, run_cli

EXAMPLE = ROOT / "examples" / "access-rules.yaml"
SECRETS = {"SENSORS_SECRET": "readme-sensors-3Jd9", "DASHBOARD_SECRET": "readme-dash-8Lq2"}


def walkthrough() -> list[list[str]]:
    """The words of each command of the first ``sh`` block of the README's "Access rules"."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Access rules\n", 1)[1].split("\n## ", 1)[0]
    start = section.index("```sh\n") + len("```sh\n")
    block = section[start : section.index("```", start)]
    return [words for line in block.splitlines() if (words := shlex.split(line, comments=True))]


def test_the_readme_walkthrough_runs_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "examples").mkdir()
    shutil.copy(EXAMPLE, tmp_path / "examples" / EXAMPLE.name)
    monkeypatch.chdir(tmp_path)
    for name in ("RECONCILER_ENDPOINT", "ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_PROFILE"):
        monkeypatch.delenv(name, raising=False)

    commands = walkthrough()
    said: list[str] = []
    for words in commands:
        if words[0] == "export":
            for assignment in words[1:]:
                name, _, value = assignment.partition("=")
                # A generated secret ($(openssl ...)) takes the test's value.
                monkeypatch.setenv(name, SECRETS.get(name, value))
            continue
        assert words[0] == "reconciler", words
        result = run_cli(capsys, *words[1:])
        assert result.code == 0, (words, result.out, result.err)
        said.append(result.out + result.err)

    assert [words[1] for words in commands if words[0] == "reconciler"] == [
        "plan",
        "apply",
        "plan",
        "inspect",
        "state",
        "export",
    ]
    first_plan, applied, again, inspected, listed, exported = said
    assert "Plan: 6 to create" in first_plan
    assert "Apply complete: 6 created." in applied
    assert "No changes." in again
    assert "stolen-sensor-0042" in inspected and "telemetry/+/config" in inspected
    assert len([line for line in listed.splitlines() if "post-cn-telemetry01/" in line]) == 6
    assert "0 groups and 6 access entries of post-cn-telemetry01" in exported
    assert "${MQTT_SECRET_SENSORS}" in (tmp_path / "exported.yaml").read_text(encoding="utf-8")
    assert not any(secret in "".join(said) for secret in SECRETS.values())
