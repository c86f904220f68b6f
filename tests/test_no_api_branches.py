"""plan/, apply/ and render/ ask a client for capabilities, never which API or class it is.

A second API generation once came in as ``change.api == "onsmqtt"`` branches and
``isinstance(client, ...)`` checks; a new API or resource kind must not need more of them. These
read the source: any comparison with an API's name, and any ``isinstance`` against a class from
``reconciler.cloud`` or a ``Protocol`` of the module's own, is reported with its place.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.models import APIS

PACKAGE = Path(__file__).resolve().parents[1] / "reconciler"
ENGINE = ("plan", "apply", "render")


def engine_modules() -> list[Path]:
    return sorted(path for part in ENGINE for path in (PACKAGE / part).rglob("*.py"))


def api_name_comparisons(tree: ast.AST) -> Iterator[ast.AST]:
    for node in ast.walk(tree):
        if not isinstance(node, ast.Compare):
            continue
        operands = [node.left, *node.comparators]
        names = [
            element
            for operand in operands
            for element in (operand.elts if isinstance(operand, ast.Tuple | ast.Set) else [operand])
        ]
        if any(isinstance(n, ast.Constant) and n.value in APIS for n in names):
            yield node


def class_checks(tree: ast.Module) -> Iterator[ast.AST]:
    suspects = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("reconciler.cloud")
        for alias in node.names
    }
    suspects |= {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef)
        and any(isinstance(base, ast.Name) and base.id == "Protocol" for base in node.bases)
    }
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("isinstance", "issubclass")
            and len(node.args) == 2
        ):
            checked = node.args[1]
            classes = checked.elts if isinstance(checked, ast.Tuple) else [checked]
            if any(isinstance(c, ast.Name) and c.id in suspects for c in classes):
                yield node


def places(finder: str) -> list[str]:
    found = []
    for path in engine_modules():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        nodes = api_name_comparisons(tree) if finder == "names" else class_checks(tree)
        found.extend(
            f"{path.relative_to(PACKAGE.parent)}:{node.lineno}: {ast.unparse(node)}"
            for node in nodes
        )
    return found


def test_the_engine_is_read() -> None:
    # Guards the guard: an empty walk would pass anything.
    assert len(engine_modules()) > 10


@pytest.mark.parametrize("finder", ["names", "classes"])
def test_no_branch_on_the_api_or_the_client_class(finder: str) -> None:
    assert places(finder) == []


def test_the_finders_see_what_they_look_for() -> None:
    source = (
        "from reconciler.cloud.onsmqtt import OnsMqttClient\n"
        "from typing import Protocol\n"
        "class Gone(Protocol): ...\n"
        "a = change.api == 'onsmqtt'\n"
        "b = api in ('ons', 'x')\n"
        "c = isinstance(client, OnsMqttClient)\n"
        "d = isinstance(client, (int, Gone))\n"
        "e = isinstance(report, dict) and kind == 'state'\n"
    )
    tree = ast.parse(source)
    assert [node.lineno for node in api_name_comparisons(tree)] == [4, 5]
    assert [node.lineno for node in class_checks(tree)] == [6, 7]
