"""The hooks of .pre-commit-hooks.yaml, run by the real pre-commit from this checkout.

``pre-commit try-repo`` clones this repository (HEAD plus uncommitted changes to tracked
files), installs it into a fresh environment with pip and runs the hook in a temporary git
repository of desired files. Each run installs anew, so these tests are slow by nature.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.config.fmt import format_text

ROOT = Path(__file__).resolve().parents[2]

GOOD = """\
version: 1
provider:
  endpoint: ${MQTT_ENDPOINT_NOT_SET_ANYWHERE}
instances:
  - id: post-cn-hooks0001
    groups:
      - GID_billing
      - GID_orders
"""
BAD = """\
version: 1
instances:
  - id: post-cn-hooks0001
    groups:
      - id: GID_telemetry
        topik: sensors
"""
UNFORMATTED = """\
version: 1
instances:
  - id: post-cn-hooks0002
    groups:
      - {id: GID_zeta}
      # billing's consumers
      - id: GID_alpha
        topic: billing
"""

pytestmark = pytest.mark.timeout(900)


def desired_repo(tmp_path: Path, files: dict[str, str]) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    for name, text in files.items():
        (repo / name).write_text(text, encoding="utf-8")
    git(repo, "init", "-q")
    git(repo, "add", ".")
    return repo


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, env=_env())


def _env() -> dict[str, str]:
    # A hook run from inside a git hook would inherit GIT_DIR and friends; these runs must not.
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env["PRE_COMMIT_COLOR"] = "never"
    return env


def try_repo(repo: Path, hook: str, *files: str) -> subprocess.CompletedProcess[str]:
    selection = ["--files", *files] if files else ["--all-files"]
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", "try-repo", str(ROOT), hook, *selection],
        cwd=repo,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=840,
        check=False,
    )


def test_validate_hook_fails_on_the_bad_file_with_its_located_error(tmp_path: Path) -> None:
    repo = desired_repo(tmp_path, {"good.yaml": GOOD, "bad.yaml": BAD})
    run = try_repo(repo, "reconciler-validate")
    output = run.stdout + run.stderr
    assert run.returncode == 1, output
    assert "reconciler validate" in output and "Failed" in output, output
    assert (
        "bad.yaml:6:9: unknown key 'topik' (did you mean 'topic'?) "
        "(at instances[0].groups[0].topik)"
    ) in output
    assert "good.yaml: valid (1 instance, 2 groups)" in output


def test_validate_hook_passes_a_file_with_only_warnings(tmp_path: Path) -> None:
    repo = desired_repo(tmp_path, {"good.yaml": GOOD, "bad.yaml": BAD})
    run = try_repo(repo, "reconciler-validate", "good.yaml")
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert "reconciler validate" in output and "Passed" in output, output


def test_fmt_hook_rewrites_an_unformatted_file(tmp_path: Path) -> None:
    repo = desired_repo(tmp_path, {"good.yaml": GOOD, "messy.yaml": UNFORMATTED})
    run = try_repo(repo, "reconciler-fmt")
    output = run.stdout + run.stderr
    # pre-commit fails a hook that modified files, so the author reviews and stages them.
    assert run.returncode == 1, output
    assert "files were modified by this hook" in output, output
    rewritten = (repo / "messy.yaml").read_text(encoding="utf-8")
    assert rewritten == format_text(UNFORMATTED, "messy.yaml") != UNFORMATTED
    assert rewritten.index("GID_alpha") < rewritten.index("GID_zeta")
    assert "# billing's consumers" in rewritten
    assert (repo / "good.yaml").read_text(encoding="utf-8") == GOOD


def test_fmt_check_hook_fails_without_writing(tmp_path: Path) -> None:
    repo = desired_repo(tmp_path, {"good.yaml": GOOD, "messy.yaml": UNFORMATTED})
    run = try_repo(repo, "reconciler-fmt-check")
    output = run.stdout + run.stderr
    assert run.returncode == 1, output
    assert "would reformat messy.yaml" in output, output
    assert "would reformat good.yaml" not in output
    assert (repo / "messy.yaml").read_text(encoding="utf-8") == UNFORMATTED
