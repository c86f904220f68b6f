"""Run the CI recipes in examples/ci/ as their CI would, on this machine.

Only what the recipes use is modelled: GitHub Actions ``run`` steps (bash -eo pipefail, the
``${{ }}`` expressions they contain, ``$GITHUB_OUTPUT``), ``uses`` steps (checkout and
setup-python do nothing here; upload-artifact records what it would upload) and GitLab CI
``script`` lines with ``extends``. ``pip install`` lines are checked, not run: the package
under test is already installed. An expression or step kind the model does not know fails the
test, so a recipe cannot drift beyond what is checked.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
RECIPES = ROOT / "examples" / "ci"
_EXPRESSION = re.compile(r"\$\{\{\s*([^}]*?)\s*\}\}")
_COMMAND = re.compile(r"(?:^|[\s;&|(])(reconciler\s[^\n;&|>]*)")
INSTALL = re.compile(r"^pip install mqtt-gid-reconciler==(\S+)$")


def load(name: str) -> dict[str, Any]:
    document = yaml.safe_load((RECIPES / name).read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


def reconciler_commands(name: str) -> list[str]:
    """Every ``reconciler ...`` command line in a recipe, continuation lines joined."""
    text = (RECIPES / name).read_text(encoding="utf-8").replace("\\\n", " ")
    found = []
    for line in text.splitlines():
        code = line.split(" #", 1)[0] if not line.lstrip().startswith("#") else ""
        found.extend(" ".join(match.split()) for match in _COMMAND.findall(code))
    return found


@dataclass
class Shim:
    """A ``reconciler`` on PATH that logs its arguments, then runs this checkout's CLI."""

    bin_dir: Path
    log: Path

    @classmethod
    def make(cls, where: Path) -> Shim:
        bin_dir = where / "bin"
        bin_dir.mkdir()
        log = where / "reconciler-calls.log"
        script = bin_dir / "reconciler"
        script.write_text(
            "#!/bin/sh\n"
            f'printf "%s\\n" "$*" >> {shlex.quote(str(log))}\n'
            f'exec {shlex.quote(sys.executable)} -m reconciler "$@"\n',
            encoding="utf-8",
        )
        script.chmod(0o755)
        return cls(bin_dir, log)

    def calls(self) -> list[str]:
        if not self.log.exists():
            return []
        return [" ".join(line.split()) for line in self.log.read_text().splitlines()]

    def env(self, base: Mapping[str, str]) -> dict[str, str]:
        env = dict(base)
        env["PATH"] = f"{self.bin_dir}{os.pathsep}{env.get('PATH', '')}"
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        return env


def check_install(line: str, version: str) -> None:
    match = INSTALL.match(line.strip())
    assert match, f"install line does not pin mqtt-gid-reconciler: {line!r}"
    assert match.group(1) == version, line


@dataclass
class JobRun:
    passed: bool
    steps: list[tuple[str, int]] = field(default_factory=list)  # (what, exit code)
    uploads: list[str] = field(default_factory=list)
    output: str = ""


def run_github_job(
    workflow: dict[str, Any],
    job_name: str,
    *,
    repo: Path,
    env: Mapping[str, str],
    context: Mapping[str, str],
    version: str,
) -> JobRun:
    """``context``: values for ``${{ secrets.X }}``, ``${{ github.token }}``, ..."""
    job = workflow["jobs"][job_name]
    outputs: dict[str, dict[str, str]] = {}

    def evaluate(text: str) -> str:
        def one(match: re.Match[str]) -> str:
            expression = match.group(1)
            step = re.fullmatch(r"steps\.(\w+)\.outputs\.(\w+)", expression)
            if step:
                return outputs.get(step.group(1), {}).get(step.group(2), "")
            assert expression in context, f"expression not modelled: {expression}"
            return context[expression]

        return _EXPRESSION.sub(one, text)

    base = {**env, **{k: evaluate(str(v)) for k, v in workflow.get("env", {}).items()}}
    run = JobRun(passed=True)
    for index, step in enumerate(job["steps"]):
        condition = step.get("if")
        assert condition in (None, "always()"), f"step condition not modelled: {condition}"
        if not run.passed and condition is None:
            continue
        if "uses" in step:
            action = step["uses"].split("@")[0]
            assert action in ("actions/checkout", "actions/setup-python", "actions/upload-artifact")
            if action == "actions/upload-artifact" and (repo / step["with"]["path"]).exists():
                run.uploads.append(step["with"]["path"])
            continue
        script = evaluate(step["run"])
        if script.startswith("pip install"):
            check_install(script, version)
            continue
        step_env = {**base, **{k: evaluate(str(v)) for k, v in step.get("env", {}).items()}}
        output_file = repo.parent / f"github-output-{job_name}-{index}"
        output_file.write_text("")
        step_env["GITHUB_OUTPUT"] = str(output_file)
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
            cwd=repo,
            env=step_env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        run.output += done.stdout + done.stderr
        run.steps.append((step.get("name") or script.splitlines()[0], done.returncode))
        if "id" in step:
            pairs = (line.partition("=") for line in output_file.read_text().splitlines())
            outputs[step["id"]] = {key: value for key, _, value in pairs}
        if done.returncode != 0:
            run.passed = False
    return run


def gitlab_job(pipeline: dict[str, Any], name: str) -> dict[str, Any]:
    job = dict(pipeline[name])
    parent = job.pop("extends", None)
    if parent is not None:
        job = {**pipeline[parent], **job}
    return job


def run_gitlab_job(
    pipeline: dict[str, Any],
    name: str,
    *,
    repo: Path,
    env: Mapping[str, str],
    version: str,
    id_token: Callable[[str], str] | None = None,
) -> JobRun:
    """``id_token(aud)``: the ID token GitLab would put in each of the job's ``id_tokens``."""
    job = gitlab_job(pipeline, name)
    tokens = {}
    for variable, spec in job.get("id_tokens", {}).items():
        assert id_token is not None, "the job asks for id_tokens: pass id_token"
        assert set(spec) == {"aud"}, f"id_tokens field not modelled: {spec}"
        tokens[variable] = id_token(spec["aud"])
    lines = [*job.get("before_script", []), *job["script"]]
    shell = ["set -eo pipefail"]
    for line in lines:
        if line.startswith("pip install"):
            check_install(line, version)
            continue
        shell.append(line)
    variables = {k: str(v) for k, v in pipeline.get("variables", {}).items()}
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", "-c", "\n".join(shell)],
        cwd=repo,
        env={**env, **variables, **tokens},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    uploads = []
    if job.get("artifacts", {}).get("when") == "always" or done.returncode == 0:
        uploads = [
            path for path in job.get("artifacts", {}).get("paths", []) if (repo / path).exists()
        ]
    return JobRun(
        passed=done.returncode == 0,
        steps=[("script", done.returncode)],
        uploads=uploads,
        output=done.stdout + done.stderr,
    )
