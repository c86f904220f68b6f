"""The hooks of .pre-commit-hooks.yaml, run by the real pre-commit from this checkout.

``pre-commit try-repo`` clones this repository (HEAD plus uncommitted changes to tracked
files), installs it into a fresh environment with pip and runs the hook in a temporary git
repository of desired files. One test does exactly that. Each try-repo installs anew, so the
others do what try-repo does by hand, sharing the install: one clone of this checkout per test
session (``hooks_repo``, as try-repo makes one), named with ``repo:`` and ``rev:`` in a config
that ``pre-commit run`` reads, and one ``PRE_COMMIT_HOME`` per session, where pre-commit keeps
the environment it built for that repo and rev. The README's sample config is run the same way.
Nothing is fetched from GitHub: pip needs only PyPI.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
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

# pip installs the hooks' environment from PyPI.
pytestmark = [pytest.mark.timeout(900), pytest.mark.network]


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


def _env(pre_commit_home: Path | None = None) -> dict[str, str]:
    # A hook run from inside a git hook would inherit GIT_DIR and friends; these runs must not.
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env["PRE_COMMIT_COLOR"] = "never"
    if pre_commit_home is not None:
        env["PRE_COMMIT_HOME"] = str(pre_commit_home)
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


def hooks_repo_snapshot(tmp_path: Path) -> tuple[Path, str]:
    """This checkout, uncommitted changes to tracked files included, as a commit of a clone
    (what ``pre-commit try-repo`` does), so a config can name it with ``repo:`` and ``rev:``."""
    shadow = tmp_path / "hooks-repo"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(shadow)], check=True, env=_env())
    tracked = (
        subprocess.run(
            ["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True, env=_env()
        )
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, tracked):
        source, target = ROOT / name, shadow / name
        if source.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source.read_bytes())
        elif target.exists():
            target.unlink()
    git(shadow, "add", "-A")
    identity = ["-c", "user.name=t", "-c", "user.email=t@t.invalid"]
    git(shadow, *identity, "commit", "-q", "--allow-empty", "-m", "snapshot")
    rev = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=shadow, check=True, capture_output=True, text=True
    ).stdout.strip()
    return shadow, rev


@dataclass(frozen=True)
class HooksRepo:
    """One snapshot of this checkout and the pre-commit home its hook environment lives in."""

    path: Path
    rev: str
    pre_commit_home: Path


@pytest.fixture(scope="session")
def hooks_repo(tmp_path_factory: pytest.TempPathFactory) -> HooksRepo:
    # Session-wide (per xdist worker): pre-commit keys its environments by repo and rev, so
    # the pip install happens once here and every later run reuses it.
    shadow, rev = hooks_repo_snapshot(tmp_path_factory.mktemp("hooks"))
    return HooksRepo(shadow, rev, tmp_path_factory.mktemp("pre-commit-home"))


def run_hook(
    hooks: HooksRepo, repo: Path, hook: str, *files: str
) -> subprocess.CompletedProcess[str]:
    """``pre-commit try-repo`` without the fresh install: a config outside the repository
    naming the snapshot and one hook, run on the given files (all files when none)."""
    config = repo.parent / "try-config.yaml"
    config.write_text(
        f"repos:\n  - repo: {hooks.path}\n    rev: {hooks.rev}\n    hooks:\n      - id: {hook}\n",
        encoding="utf-8",
    )
    selection = ["--files", *files] if files else ["--all-files"]
    return run_hooks(repo, hooks, "--config", str(config), hook, *selection)


def run_hooks(repo: Path, hooks: HooksRepo, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", "run", *arguments],
        cwd=repo,
        env=_env(hooks.pre_commit_home),
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
    # The files a hook is given are one desired state: the good one was checked with it.
    assert "validate: 1 error in 1 file (of 2 checked)" in output


def test_validate_hook_passes_a_file_with_only_warnings(
    tmp_path: Path, hooks_repo: HooksRepo
) -> None:
    repo = desired_repo(tmp_path, {"good.yaml": GOOD, "bad.yaml": BAD})
    run = run_hook(hooks_repo, repo, "reconciler-validate", "good.yaml")
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert "reconciler validate" in output and "Passed" in output, output


def test_fmt_hook_rewrites_an_unformatted_file(tmp_path: Path, hooks_repo: HooksRepo) -> None:
    repo = desired_repo(tmp_path, {"good.yaml": GOOD, "messy.yaml": UNFORMATTED})
    run = run_hook(hooks_repo, repo, "reconciler-fmt")
    output = run.stdout + run.stderr
    # pre-commit fails a hook that modified files, so the author reviews and stages them.
    assert run.returncode == 1, output
    assert "files were modified by this hook" in output, output
    rewritten = (repo / "messy.yaml").read_text(encoding="utf-8")
    assert rewritten == format_text(UNFORMATTED, "messy.yaml") != UNFORMATTED
    assert rewritten.index("GID_alpha") < rewritten.index("GID_zeta")
    assert "# billing's consumers" in rewritten
    assert (repo / "good.yaml").read_text(encoding="utf-8") == GOOD


def test_fmt_check_hook_fails_without_writing(tmp_path: Path, hooks_repo: HooksRepo) -> None:
    repo = desired_repo(tmp_path, {"good.yaml": GOOD, "messy.yaml": UNFORMATTED})
    run = run_hook(hooks_repo, repo, "reconciler-fmt-check")
    output = run.stdout + run.stderr
    assert run.returncode == 1, output
    assert "would reformat messy.yaml" in output, output
    assert "would reformat good.yaml" not in output
    assert (repo / "messy.yaml").read_text(encoding="utf-8") == UNFORMATTED


# --- the README's configuration on a desired state split across files ------------------------

PLATFORM = """\
version: 1
provider:
  endpoint: ${MQTT_ENDPOINT_NOT_SET_ANYWHERE}
group_sets:
  standard:
    - GID_audit
instances:
  - id: post-cn-hooks0003
    include: [standard]
"""


def team_file(n: int, topic_key: str = "topic") -> str:
    return (
        "instances:\n"
        "  - id: post-cn-hooks0003\n"
        "    groups:\n"
        f"      - id: GID_team{n:02d}\n"
        f"        {topic_key}: team{n:02d}\n"
    )


def readme_pre_commit_config() -> str:
    """The sample .pre-commit-config.yaml of the README, as written there."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("- **pre-commit**") :]
    start = section.index("```yaml\n") + len("```yaml\n")
    return section[start : section.index("```", start)]


def split_estate_repo(tmp_path: Path, hooks: HooksRepo, broken: int | None = None) -> Path:
    """A platform file and ten team files under mqtt/ (more than pre-commit puts in one run
    when it may run in parallel), with the README's config pointing at this checkout."""
    files = {"mqtt/platform.yaml": PLATFORM}
    for n in range(10):
        files[f"mqtt/teams/team{n:02d}.yaml"] = team_file(n, "topik" if n == broken else "topic")
    config = readme_pre_commit_config()
    config = config.replace("https://github.com/OWNER/reconciler", str(hooks.path))
    config = config.replace("rev: v0.1.0", f"rev: {hooks.rev}")
    assert str(hooks.path) in config and hooks.rev in config, config
    files[".pre-commit-config.yaml"] = config
    repo = tmp_path / "repo"
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text, encoding="utf-8")
    git(repo, "init", "-q")
    git(repo, "add", ".")
    return repo


def test_readme_config_checks_a_split_estate_as_one_desired_state(
    tmp_path: Path, hooks_repo: HooksRepo
) -> None:
    repo = split_estate_repo(tmp_path, hooks_repo)
    # Formatted first, so the run below sees only what validate says.
    for path in sorted((repo / "mqtt").rglob("*.yaml")):
        path.write_text(format_text(path.read_text(encoding="utf-8"), str(path)), encoding="utf-8")
    git(repo, "add", ".")
    run = run_hooks(repo, hooks_repo, "--all-files")
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert output.count("Passed") == 2, output
    # A commit touching one team file: the hooks still check the whole folder and pass.
    run = run_hooks(repo, hooks_repo, "--files", "mqtt/teams/team04.yaml")
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert output.count("Passed") == 2, output


def test_readme_config_fails_on_a_broken_team_file_with_its_located_error(
    tmp_path: Path, hooks_repo: HooksRepo
) -> None:
    repo = split_estate_repo(tmp_path, hooks_repo, broken=7)
    run = run_hooks(repo, hooks_repo, "reconciler-validate", "--files", "mqtt/teams/team07.yaml")
    output = run.stdout + run.stderr
    assert run.returncode == 1, output
    assert (
        "mqtt/teams/team07.yaml:5:9: unknown key 'topik' (did you mean 'topic'?) "
        "(at instances[0].groups[0].topik)"
    ) in output
    assert "validate: 1 error in 1 file (of 11 checked)" in output, output


def test_validate_hook_given_many_files_checks_them_in_one_run(
    tmp_path: Path, hooks_repo: HooksRepo
) -> None:
    # require_serial: without it pre-commit splits eleven files over parallel runs, and a run
    # holding only team files fails for want of the platform file's version and sets.
    repo = split_estate_repo(tmp_path, hooks_repo)
    estate = sorted(str(path.relative_to(repo)) for path in (repo / "mqtt").rglob("*.yaml"))
    assert len(estate) == 11
    run = run_hook(hooks_repo, repo, "reconciler-validate", *estate)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert "Passed" in output, output
