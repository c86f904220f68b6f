"""The test suite's own rules: shared set-up lives in tests/fixtures/, so no test module imports
another test module or a conftest (a test module imported elsewhere runs its tests twice and
ties two files' edits together); the quick loop skips what CI alone runs, saying why."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.runs import ROOT, child_env

TESTS = ROOT / "tests"


def imported_modules(path: Path, root: Path = ROOT) -> Iterator[tuple[int, str]]:
    """The modules ``path`` imports, relative imports resolved against its package (its
    folder below ``root``)."""
    package = path.relative_to(root).parent.parts
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else ()
            module = ".".join((*base, *(node.module.split(".") if node.module else ())))
            yield node.lineno, module
            for alias in node.names:  # "from tests.x import test_y" imports a module too
                yield node.lineno, f"{module}.{alias.name}"
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            # A child process's script: "from tests.plan.test_planfile import ..."
            for line in node.value.splitlines():
                words = line.split()
                if len(words) >= 2 and words[0] in ("from", "import"):
                    yield node.lineno, words[1]


def is_test_module_or_conftest(module: str) -> bool:
    parts = module.split(".")
    return parts[0] == "tests" and any(
        part == "conftest" or part.startswith("test_") for part in parts[1:]
    )


def test_no_test_module_imports_a_test_module_or_a_conftest() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line}: {module}"
        for path in sorted(TESTS.rglob("*.py"))
        if path != Path(__file__)  # its probe below names test modules on purpose
        for line, module in imported_modules(path)
        if is_test_module_or_conftest(module)
    ]
    assert found == []


def test_the_layout_check_sees_every_form_of_import(tmp_path: Path) -> None:
    probe = tmp_path / "tests" / "plan" / "test_probe_layout.py"
    probe.parent.mkdir(parents=True)
    probe.write_text(
        "from tests.cloud.test_client_unit import make_client\n"
        "from .test_planfile import LABEL\n"
        "from tests.state import conftest\n"
        "import tests.sdk.conftest\n"
        "SCRIPT = 'import sys\\nfrom tests.commands.test_inspect import NOW\\n'\n"
        "from tests.fixtures.runs import ROOT\n",
        encoding="utf-8",
    )
    found = {
        module
        for _, module in imported_modules(probe, root=tmp_path)
        if is_test_module_or_conftest(module)
    }
    assert found == {
        "tests.cloud.test_client_unit",
        "tests.cloud.test_client_unit.make_client",
        "tests.commands.test_inspect",
        "tests.plan.test_planfile",
        "tests.plan.test_planfile.LABEL",
        "tests.sdk.conftest",
        "tests.state.conftest",
    }


PROBE = """\
import pytest


@pytest.mark.slow
def test_long():
    pass


@pytest.mark.network
def test_online():
    pass


def test_quick():
    pass
"""


def run_probe(tmp_path: Path, **env: str) -> str:
    (tmp_path / "test_probe.py").write_text(PROBE, encoding="utf-8")
    environment = child_env(**env)
    if "CI" not in env:
        environment.pop("CI", None)
    done = subprocess.run(
        [
            sys.executable, "-m", "pytest", "-p", "tests.conftest", "-p", "no:randomly",
            "-p", "no:cacheprovider", "-o", "markers=slow\nnetwork", "-rs", "-q",
            "--rootdir", str(tmp_path), str(tmp_path / "test_probe.py"),
        ],
        cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    return done.stdout + done.stderr


@pytest.mark.parametrize("ci", [None, "0", "false"])
def test_the_quick_loop_skips_slow_and_network_tests_saying_why(
    tmp_path: Path, ci: str | None
) -> None:
    output = run_probe(tmp_path, **({} if ci is None else {"CI": ci}))
    assert "1 passed, 2 skipped" in output, output
    assert "slow: runs long (over ~3 s); CI runs it (set CI=true to run it here)" in output
    assert "network: needs the network; CI runs it (set CI=true to run it here)" in output


def test_ci_runs_every_test(tmp_path: Path) -> None:
    output = run_probe(tmp_path, CI="true")
    assert "3 passed" in output, output
    assert "skipped" not in output
