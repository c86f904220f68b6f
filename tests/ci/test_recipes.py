"""The CI recipes in examples/ci/, run as their CI would against the emulator and a fake
GitHub/GitLab: every ``reconciler`` command line in them runs, so none can name a flag that
does not exist; one plan comment per request survives two pushes; a refused plan still gets
its comment and fails the job; merging applies. Neither recipe holds an AccessKey: each job's
OIDC token (GitHub's from its token endpoint, GitLab's ``id_tokens``) is exchanged with the
emulator's STS."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler import __version__
from reconciler.config.fmt import format_text
from tests.ci.forge import (
    GITHUB_TOKEN,
    MR_IID,
    PULL_NUMBER,
    FakeForge,
    github_env,
    gitlab_env,
    running_forge,
)
from tests.ci.recipes import (
    RECIPES,
    JobRun,
    Shim,
    load,
    reconciler_commands,
    run_github_job,
    run_gitlab_job,
)
from tests.fixtures.emulator_store import group_ids
from tests.fixtures.scripted_server import Reply, ScriptedServer, scripted
from tests.fixtures.sts import StsEmulator

# Each recipe runs its jobs' commands in child processes: 6 to 8 s a recipe.
pytestmark = [pytest.mark.timeout(900), pytest.mark.slow]

DESIRED = """\
version: 1
provider:
  region: cn-hangzhou
backend:
  local:
    path: .reconciler/state.json
instances:
  - id: post-cn-test0001
    independent_naming: {naming}
    groups:
      - GID_billing
      - id: GID_orders
        topic: orders
"""
# A hand-made GID: it tells the planner the instance's naming, so a wrong declaration refuses.
HAND_MADE = "GID_legacy"


@pytest.fixture
def forge() -> Iterator[FakeForge]:
    with running_forge() as running:
        yield running


@pytest.fixture
def repo(tmp_path: Path, sts_emulator: StsEmulator) -> Path:
    emulator = sts_emulator
    emulator.store.add_group(emulator.instance_id, HAND_MADE)
    repo = tmp_path / "repo"
    (repo / "mqtt").mkdir(parents=True)
    write_desired(repo, naming="true")
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    return repo


def write_desired(repo: Path, *, naming: str) -> None:
    text = DESIRED.format(naming=naming)
    (repo / "mqtt" / "gids.yaml").write_text(format_text(text, "gids.yaml"), encoding="utf-8")


def base_env(shim: Shim, emulator: StsEmulator) -> dict[str, str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GITHUB_", "GITLAB_", "CI_", "ALIBABA_CLOUD_", "RECONCILER_"))
    }
    env = shim.env(clean)
    env["RECONCILER_ENDPOINT"] = emulator.url
    env["RECONCILER_STS_ENDPOINT"] = emulator.url  # the recipes leave STS to its default
    env["NO_COLOR"] = "1"
    return env


def assert_no_access_key(recipe: str) -> None:
    text = (RECIPES / recipe).read_text(encoding="utf-8")
    assert "ACCESS_KEY" not in text, "a recipe must run without a long-lived AccessKey"


@pytest.fixture
def github_token_endpoint(sts_emulator: StsEmulator) -> Iterator[ScriptedServer]:
    """The runner's ID token endpoint (ACTIONS_ID_TOKEN_REQUEST_URL): a token per request."""
    answer = Reply(body={"value": sts_emulator.mint_oidc_token()})
    with scripted([], default=answer) as server:
        yield server


def assert_every_command_ran(recipe: str, shim: Shim) -> None:
    commands = reconciler_commands(recipe)
    assert {"validate", "fmt", "plan", "ci", "apply"} <= {c.split()[1] for c in commands}
    calls = shim.calls()
    missing = [command for command in commands if command.removeprefix("reconciler ") not in calls]
    assert missing == [], (missing, calls)


def failed_step(run: JobRun) -> list[str]:
    return [what for what, code in run.steps if code != 0]


def test_github_actions_recipe(
    tmp_path: Path,
    repo: Path,
    sts_emulator: StsEmulator,
    forge: FakeForge,
    github_token_endpoint: ScriptedServer,
) -> None:
    emulator = sts_emulator
    workflow = load("github-actions.yml")
    assert workflow["jobs"]["plan"]["if"] == "github.event_name == 'pull_request'"
    assert workflow["jobs"]["apply"]["if"] == "github.event_name == 'push'"
    for job_name in ("plan", "apply"):
        assert workflow["jobs"][job_name]["permissions"]["id-token"] == "write"
    assert_no_access_key("github-actions.yml")
    shim = Shim.make(tmp_path)
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": PULL_NUMBER}}))
    env = {
        **base_env(shim, emulator),
        **github_env(forge, str(event)),
        "ACTIONS_ID_TOKEN_REQUEST_URL": f"{github_token_endpoint.url}/token?api-version=2.0",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "runner-request-token",
    }
    del env["GITHUB_TOKEN"]  # the recipe passes it to the comment step only
    runner_temp = tmp_path / "runner-temp"
    runner_temp.mkdir()
    context = {
        "vars.ALIBABA_CLOUD_ROLE_ARN": emulator.role_arn,
        "vars.ALIBABA_CLOUD_OIDC_PROVIDER_ARN": emulator.oidc_provider_arn,
        "runner.temp": str(runner_temp),
        "secrets.RECONCILER_STATE_DSN": "",
        "github.token": GITHUB_TOKEN,
    }

    def job(name: str) -> JobRun:
        return run_github_job(
            workflow, name, repo=repo, env=env, context=context, version=__version__
        )

    first = job("plan")
    assert first.passed, first.output
    assert first.uploads == ["plan.json"]
    [comment] = forge.github.values()
    assert comment["body"].startswith("<!-- reconciler-plan -->\n### reconciler plan")
    assert "**Plan: 2 to create" in comment["body"]
    asked = github_token_endpoint.requests[0]
    assert asked.path == "/token?api-version=2.0&audience=sts.aliyuncs.com"
    assert asked.headers["authorization"] == "bearer runner-request-token"
    assert emulator.request_count("AssumeRoleWithOIDC") == 1  # by plan: validate, fmt need none

    # A second push declares the wrong naming mode: refused, commented on, the job fails.
    write_desired(repo, naming="false")
    refused = job("plan")
    assert not refused.passed
    assert failed_step(refused) == ["fail on a refused or failed plan"], refused.output
    assert refused.uploads == ["plan.json"]
    [comment] = forge.github.values()  # still one comment, edited
    assert "Refused by 1 guard(s)" in comment["body"]
    assert [seen.method for seen in forge.writes()] == ["POST", "PATCH"]

    # Merged with the right file: apply.
    write_desired(repo, naming="true")
    merged = job("apply")
    assert merged.passed, merged.output
    assert set(group_ids(emulator.store, emulator.instance_id)) == {
        "GID_billing",
        "GID_orders",
        HAND_MADE,
    }
    assert_every_command_ran("github-actions.yml", shim)


def test_gitlab_ci_recipe(
    tmp_path: Path, repo: Path, sts_emulator: StsEmulator, forge: FakeForge
) -> None:
    emulator = sts_emulator
    pipeline = load("gitlab-ci.yml")
    assert pipeline[".reconciler"]["id_tokens"] == {
        "ALIBABA_CLOUD_OIDC_TOKEN": {"aud": "sts.aliyuncs.com"}
    }
    assert_no_access_key("gitlab-ci.yml")
    assert pipeline["plan"]["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'}]
    assert pipeline["apply"]["rules"] == [{"if": "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH"}]
    shim = Shim.make(tmp_path)
    env = {
        **base_env(shim, emulator),
        **gitlab_env(forge),
        "ALIBABA_CLOUD_ROLE_ARN": emulator.role_arn,
        "ALIBABA_CLOUD_OIDC_PROVIDER_ARN": emulator.oidc_provider_arn,
    }
    audiences: list[str] = []

    def id_token(aud: str) -> str:
        audiences.append(aud)
        return emulator.mint_oidc_token(aud=aud)

    def job(name: str) -> JobRun:
        return run_gitlab_job(
            pipeline, name, repo=repo, env=env, version=__version__, id_token=id_token
        )

    first = job("plan")
    assert first.passed, first.output
    assert first.uploads == ["plan.md", "plan.json"]
    [note] = forge.gitlab.values()
    assert note["body"].startswith("<!-- reconciler-plan -->\n### reconciler plan")
    assert audiences == ["sts.aliyuncs.com"]
    assert emulator.request_count("AssumeRoleWithOIDC") == 1

    write_desired(repo, naming="false")
    refused = job("plan")
    assert not refused.passed, refused.output
    assert "ci comment: updated the plan comment" in refused.output
    [note] = forge.gitlab.values()
    assert "Refused by 1 guard(s)" in note["body"]
    assert [seen.method for seen in forge.writes()] == ["POST", "PUT"]
    assert all(f"/merge_requests/{MR_IID}/notes" in seen.path for seen in forge.writes())

    write_desired(repo, naming="true")
    merged = job("apply")
    assert merged.passed, merged.output
    assert "GID_billing" in group_ids(emulator.store, emulator.instance_id)
    assert_every_command_ran("gitlab-ci.yml", shim)
