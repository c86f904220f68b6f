"""Every example file validates against the JSON Schema an editor would apply to it (issue 19,
item 8): the one its ``yaml-language-server`` modeline names, else the whole-file schema. The
files of a split desired state (``examples/teams/teams/``) name the fragment schema, which the
whole-file one would refuse (they give no ``version``). Files that are not desired states are
checked by what reads them instead; a file of no known sort fails, so none escapes."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from reconciler.config.schema_gen import FRAGMENT_SCHEMA_PATH, SCHEMA_PATH, rendered
from reconciler.emulator.fixture import load_fixture
from reconciler.emulator.store import EmulatorStore
from tests.fixtures.runs import ROOT

EXAMPLES = ROOT / "examples"
MODELINE = re.compile(r"^# yaml-language-server: \$schema=(\S+)$")
# Examples that are no desired-state file, by directory, and what checks them instead.
EMULATOR_FIXTURES = EXAMPLES / "emulator"  # read by `reconciler emulator serve --fixture`
CI_PIPELINES = EXAMPLES / "ci"  # GitHub Actions and GitLab CI files running reconciler


def _example_files() -> list[Path]:
    return sorted(path for path in EXAMPLES.rglob("*") if path.is_file())


def _is_under(path: Path, directory: Path) -> bool:
    return directory in path.parents


def _desired_state_files() -> list[Path]:
    return [
        path
        for path in _example_files()
        if not _is_under(path, EMULATOR_FIXTURES) and not _is_under(path, CI_PIPELINES)
    ]


def _schema_for(path: Path) -> Path:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    match = MODELINE.match(first)
    if match is None:
        return ROOT / SCHEMA_PATH
    return (path.parent / match[1]).resolve()


def _validate(document: Any, schema_path: Path) -> list[str]:
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(document)
    ]


def test_every_example_is_of_a_known_sort() -> None:
    files = _example_files()
    assert files
    unknown = [path for path in files if path.suffix not in (".yaml", ".yml")]
    assert not unknown, f"examples of no known sort (give them a check here): {unknown}"


@pytest.mark.parametrize(
    "path", _desired_state_files(), ids=lambda path: str(path.relative_to(EXAMPLES))
)
def test_desired_state_example_validates_against_its_schema(path: Path) -> None:
    schema_path = _schema_for(path)
    assert schema_path.is_file(), f"{path}: its modeline names {schema_path}, which is missing"
    assert schema_path.parent == ROOT / "schemas"
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert _validate(document, schema_path) == []


def test_team_files_name_the_fragment_schema_which_the_whole_file_schema_would_refuse() -> None:
    team_files = sorted((EXAMPLES / "teams" / "teams").glob("*.yaml"))
    assert team_files
    for path in team_files:
        assert _schema_for(path) == ROOT / FRAGMENT_SCHEMA_PATH
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert "version" not in document
        assert _validate(document, ROOT / SCHEMA_PATH) == [": 'version' is a required property"]


def test_the_fragment_schema_still_checks_what_it_holds() -> None:
    bad = {"instances": [{"id": "post-cn-x", "groups": [{"id": "GID_ok", "colour": "red"}]}]}
    errors = _validate(bad, ROOT / FRAGMENT_SCHEMA_PATH)
    assert len(errors) == 1
    assert "instances/0/groups/0" in errors[0]
    assert _validate({"version": 2}, ROOT / FRAGMENT_SCHEMA_PATH) != []


@pytest.mark.parametrize("path", sorted(EMULATOR_FIXTURES.glob("*.y*ml")), ids=lambda p: p.name)
def test_emulator_fixture_examples_load(path: Path) -> None:
    with EmulatorStore() as store:
        load_fixture(path, store)


@pytest.mark.parametrize("path", sorted(CI_PIPELINES.glob("*.y*ml")), ids=lambda p: p.name)
def test_ci_pipeline_examples_run_reconciler(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert isinstance(yaml.safe_load(text), dict)
    assert "reconciler plan" in text


@pytest.mark.parametrize("relative", sorted(map(str, rendered())))
def test_committed_schema_is_what_the_generator_makes(relative: str) -> None:
    text = rendered()[Path(relative)]
    assert (ROOT / relative).read_text(encoding="utf-8") == text, (
        f"{relative} is stale: run `python -m reconciler.config.schema_gen`"
    )
