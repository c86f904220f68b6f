"""Install lines in the README, the examples and the pre-commit hooks name our distribution
with a pinned version: ``reconciler`` on the package index is an unrelated project."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

from reconciler import __version__

ROOT = Path(__file__).resolve().parents[1]
DISTRIBUTION = "mqtt-gid-reconciler"
# Up to the end of the line, the shell command or the Markdown code span.
_INSTALL = re.compile(r"pip install[ \t]+([^\n&|;#`]*)")
# This checkout (the README's development set-up), not anything from an index.
_LOCAL = re.compile(r"^\.(\[[a-z,]+\])?$")


def scanned_files() -> list[Path]:
    files = [ROOT / "README.md", ROOT / ".pre-commit-hooks.yaml"]
    files += sorted(path for path in (ROOT / "examples").rglob("*") if path.is_file())
    return files


def install_targets(text: str) -> list[str]:
    """What each ``pip install`` line installs (its arguments that are not options)."""
    targets = []
    for match in _INSTALL.finditer(text):
        arguments = shlex.split(match.group(1).strip())
        targets += [argument for argument in arguments if not argument.startswith("-")]
    return targets


def allowed(target: str) -> bool:
    if _LOCAL.match(target):
        return True
    if target == f"{DISTRIBUTION}=={__version__}":
        return True
    pinned_url = re.fullmatch(
        rf"{DISTRIBUTION} ?@ ?git\+https://\S+@v?{re.escape(__version__)}", target
    )
    return pinned_url is not None


def test_the_distribution_is_not_the_index_s_reconciler() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["name"] == DISTRIBUTION
    assert project["scripts"] == {"reconciler": "reconciler.__main__:main"}
    assert project["license"] == "Apache-2.0"


def test_every_install_line_names_our_distribution_with_a_pinned_version() -> None:
    seen = 0
    bad: list[str] = []
    for path in scanned_files():
        for target in install_targets(path.read_text(encoding="utf-8")):
            seen += 1
            if not allowed(target):
                bad.append(f"{path.relative_to(ROOT)}: pip install {target}")
    assert bad == []
    assert seen >= 4  # the README and both recipes install it


def test_the_check_catches_the_unrelated_package() -> None:
    for line in (
        "pip install reconciler",
        "pip install -U reconciler==0.2.2",
        "pip install 'reconciler[test]'",
        f"pip install {DISTRIBUTION}",  # not pinned
        f"pip install {DISTRIBUTION}>=0.1",
    ):
        assert not all(allowed(target) for target in install_targets(line)), line
