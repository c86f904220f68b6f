"""`reconciler apply PLANFILE` runs only what its inputs give: an edited plan file is refused.

A careless edit is caught by the plan's digest; an edit whose digest was recomputed (a forger
with this code) is caught by planning again from the same inputs and comparing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from reconciler.plan.model import Action, Change
from reconciler.plan.planfile import content_digest
from tests.fixtures.apply_kit import cloud, write_desired
from tests.fixtures.emulator import TEST_INSTANCE_ID, TEST_REGION, RunningEmulator
from tests.fixtures.runs import run_cli

Edit = Callable[[dict[str, Any]], None]
TWELVE = [f"GID_m{number:02d}" for number in range(12)]


def edit_plan(edit: Edit, *, forge_digest: bool, path: str = "plan.json") -> None:
    """Edit the saved plan; ``forge_digest`` recomputes its digest as a forger would."""
    document = json.loads(Path(path).read_text(encoding="utf-8"))
    edit(document)
    if forge_digest:
        document["digest"] = content_digest(document)
    Path(path).write_text(json.dumps(document, indent=2), encoding="utf-8")


def rename_the_create(document: dict[str, Any]) -> None:
    document["changes"][0]["group_id"] = "GID_evil"


def delete_the_protected(document: dict[str, Any]) -> None:
    delete = Change(
        action=Action.DELETE,
        region=TEST_REGION,
        instance_id=TEST_INSTANCE_ID,
        group_id="GID_keep",
        reason="edited in",
        in_state=True,
    )
    document["changes"] = [delete.model_dump(mode="json")]


def unrefuse(document: dict[str, Any]) -> None:
    document["appliable"] = True
    document["guards"] = []


def allow_mass_delete(document: dict[str, Any]) -> None:
    document["allow_mass_delete"] = True
    for guard in document["guards"]:
        guard["overridden"] = True
    document["appliable"] = True


@pytest.fixture
def create_plan(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A saved plan creating GID_alpha."""
    write_desired("GID_alpha")
    assert run_cli(capsys, "plan", "desired.yaml", "-o", "plan.json").code == 0


@pytest.fixture
def protected_gid(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """GID_keep applied and protected; a saved plan with nothing to do."""
    write_desired("{id: GID_keep, protect: true}", "GID_other")
    assert run_cli(capsys, "apply", "desired.yaml", "--auto-approve").code == 0
    assert run_cli(capsys, "plan", "desired.yaml", "-o", "plan.json").code == 0


@pytest.fixture
def mass_delete_plan(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Twelve managed GIDs, and a saved plan deleting them all, refused by the breaker."""
    write_desired(*TWELVE)
    assert run_cli(capsys, "apply", "desired.yaml", "--auto-approve").code == 0
    write_desired()
    assert run_cli(capsys, "plan", "desired.yaml", "-o", "plan.json").code == 1


@pytest.mark.usefixtures("create_plan")
@pytest.mark.parametrize("forge_digest", [False, True])
def test_an_edited_group_id_is_not_created(
    forge_digest: bool, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    edit_plan(rename_the_create, forge_digest=forge_digest)
    result = run_cli(capsys, "apply", "plan.json")
    assert result.code == 1
    if forge_digest:
        assert (
            "change 1 is + post-cn-test0001/GID_evil in the file but + "
            "post-cn-test0001/GID_alpha from its inputs" in result.err
        )
    else:
        assert "plan.json was edited after it was made" in result.err
    assert len([line for line in result.err.splitlines() if "Error" in line]) == 1, result.err
    assert cloud(emulator) == set()


@pytest.mark.usefixtures("protected_gid")
@pytest.mark.parametrize("forge_digest", [False, True])
def test_a_delete_edited_in_is_not_run(
    forge_digest: bool, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    edit_plan(delete_the_protected, forge_digest=forge_digest)
    result = run_cli(capsys, "apply", "plan.json")
    assert result.code == 1
    if forge_digest:
        assert (
            "the file has 1 change, its inputs give 0: - post-cn-test0001/GID_keep is not one "
            "of them" in result.err
        )
    else:
        assert "was edited after it was made" in result.err
    assert cloud(emulator) == {"GID_keep", "GID_other"}


@pytest.mark.usefixtures("mass_delete_plan")
@pytest.mark.parametrize("forge_digest", [False, True])
def test_a_refused_plan_edited_to_appliable_deletes_nothing(
    forge_digest: bool, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    edit_plan(unrefuse, forge_digest=forge_digest)
    result = run_cli(capsys, "apply", "plan.json")
    assert result.code == 1
    if forge_digest:
        assert "the file has no plan guard, its inputs give 1: mass_delete (refuses)" in result.err
    else:
        assert "was edited after it was made" in result.err
    assert cloud(emulator) == set(TWELVE)


@pytest.mark.usefixtures("mass_delete_plan")
@pytest.mark.parametrize("forge_digest", [False, True])
def test_an_override_edited_into_the_options_is_not_granted(
    forge_digest: bool, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    """Even with its digest forged, an override in the file takes effect only when the apply
    command repeats it: the file alone cannot grant one."""
    edit_plan(allow_mass_delete, forge_digest=forge_digest)
    result = run_cli(capsys, "apply", "plan.json")
    assert result.code == 1
    if forge_digest:
        # The edited guards differ from those planning with the option gives; a forger who
        # made the plan with the flag instead is refused unless apply repeats it (below).
        assert "differs from the plan its inputs give now" in result.err
    else:
        assert "was edited after it was made" in result.err
    assert cloud(emulator) == set(TWELVE)


def test_a_plan_made_with_an_override_needs_the_apply_to_repeat_it(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    """Whoever can write the artifact can also make it with an override: the plan file alone
    never grants one."""
    write_desired(*TWELVE)
    assert run_cli(capsys, "apply", "desired.yaml", "--auto-approve").code == 0
    write_desired()
    made = run_cli(capsys, "plan", "desired.yaml", "--allow-mass-delete", "-o", "plan.json")
    assert made.code == 0, made.err
    result = run_cli(capsys, "apply", "plan.json")
    assert result.code == 1
    assert result.err.strip().endswith(
        "Error: plan.json was made with --allow-mass-delete: an override takes effect only "
        "when apply repeats it (reconciler apply plan.json --allow-mass-delete)"
    ), result.err
    assert cloud(emulator) == set(TWELVE)


@pytest.mark.usefixtures("mass_delete_plan")
def test_an_override_given_to_apply_that_the_plan_lacks_is_refused(
    emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_cli(capsys, "apply", "plan.json", "--allow-mass-delete")
    assert result.code == 1
    assert "--allow-mass-delete only applies when planning" in result.err
    assert cloud(emulator) == set(TWELVE)


@pytest.mark.usefixtures("create_plan")
def test_a_plan_without_a_digest_is_refused(
    emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    edit_plan(lambda document: document.pop("digest"), forge_digest=False)
    result = run_cli(capsys, "apply", "plan.json")
    assert result.code == 1
    assert "plan.json has no digest" in result.err
    assert cloud(emulator) == set()


def test_the_recorded_overrides_are_the_ones_applied(
    workdir: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    """A plan made with an override recomputes with it, unedited, and is applied; the apply
    says which override it carries."""
    write_desired(*TWELVE)
    assert run_cli(capsys, "apply", "desired.yaml", "--auto-approve").code == 0
    write_desired()
    planned = run_cli(
        capsys,
        "plan",
        "desired.yaml",
        "--allow-mass-delete",
        "--skip-online-check",
        "-o",
        "plan.json",
    )
    assert planned.code == 0, planned.err
    assert json.loads(Path("plan.json").read_text())["allow_mass_delete"] is True
    unconfirmed = run_cli(capsys, "apply", "plan.json", "--allow-mass-delete")
    assert unconfirmed.code == 1
    assert "was made with --skip-online-check, --allow-mass-delete" in unconfirmed.err
    assert cloud(emulator) == set(TWELVE)
    result = run_cli(capsys, "apply", "plan.json", "--skip-online-check", "--allow-mass-delete")
    assert result.code == 0, result.err
    assert "The plan was made with --skip-online-check, --allow-mass-delete." in result.err
    assert cloud(emulator) == set()
