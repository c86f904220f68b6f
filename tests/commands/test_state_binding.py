"""A state knows what it describes: the desired inputs it was written from and the cloud it was
written against. A plan or apply of other inputs, or against another cloud, is refused before
anything is listed; an empty desired state that would delete managed GIDs needs --allow-empty."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from reconciler.emulator.store import EmulatorStore
from reconciler.models import StateDocument
from tests.fixtures.emulator import RunningEmulator, seeded_server
from tests.fixtures.emulator_store import group_ids
from tests.fixtures.runs import ROOT, Run, run_cli

STATE = Path(".reconciler/state.json")
EMULATOR_DB = Path(".reconciler/emulator.sqlite")

ONE_INSTANCE = """\
version: 1
provider:
  endpoint: {endpoint}
instances:
  - id: {instance}
    ownership: {ownership}
    groups:
{groups}
"""


def desired_file(
    path: Path,
    instance: str,
    groups: list[str],
    *,
    endpoint: str = "embedded",
    ownership: str = "managed",
    protect: tuple[str, ...] = (),
) -> Path:
    lines = []
    for group in groups:
        if group in protect:
            lines.append(f"      - id: {group}\n        protect: true")
        else:
            lines.append(f"      - {group}")
    path.write_text(
        ONE_INSTANCE.format(
            endpoint=endpoint, instance=instance, ownership=ownership, groups="\n".join(lines)
        ),
        encoding="utf-8",
    )
    return path


def state_doc(path: Path = STATE) -> StateDocument:
    return StateDocument.model_validate_json(path.read_text(encoding="utf-8"))


def embedded_instances() -> set[str]:
    store = EmulatorStore(str(EMULATOR_DB))
    try:
        return {instance.instance_id for instance in store.instances()}
    finally:
        store.close()


def embedded_group_ids(instance_id: str) -> set[str]:
    store = EmulatorStore(str(EMULATOR_DB))
    try:
        return set(group_ids(store, instance_id))
    finally:
        store.close()


@pytest.fixture
def cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RECONCILER_ENDPOINT", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    return tmp_path


def one_line_error(result: Run) -> str:
    lines = [line for line in result.err.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, result.err
    return lines[0]


# --- the scenarios ------------------------------------------------------------------


def test_quickstart_then_another_file_in_the_same_directory_is_refused_before_listing(
    cwd: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (cwd / "examples").mkdir()
    for name in ("quickstart.yaml", "mixed-namespaces.yaml"):
        shutil.copy(ROOT / "examples" / name, cwd / "examples" / name)
    applied = run_cli(capsys, "apply", "examples/quickstart.yaml", "--auto-approve")
    assert applied.code == 0, applied.err
    before = STATE.read_bytes()

    refused = run_cli(capsys, "plan", "examples/mixed-namespaces.yaml", "--endpoint", "embedded")

    assert refused.code == 1
    error = one_line_error(refused)
    assert "examples/quickstart.yaml" in error
    assert "examples/mixed-namespaces.yaml" in error
    assert "--state" in error
    assert "reconciler state bind" in error
    assert "delete" not in refused.out
    # Refused before the emulator was even asked: the other file's instances were not made.
    assert embedded_instances() == {"post-cn-quickstart1"}
    assert STATE.read_bytes() == before


def test_apply_of_another_instance_file_does_not_delete_the_first_files_gids(
    cwd: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    desired_file(cwd / "g.yaml", "post-cn-g", ["GID_one", "GID_two"])
    desired_file(cwd / "t.yaml", "post-cn-t", ["GID_three"])
    assert run_cli(capsys, "apply", "g.yaml", "--auto-approve").code == 0

    second = run_cli(capsys, "apply", "t.yaml", "--auto-approve")

    assert second.code == 1
    assert "g.yaml" in one_line_error(second)
    assert "t.yaml" in one_line_error(second)
    assert "Apply complete" not in second.out
    assert embedded_group_ids("post-cn-g") == {"GID_one", "GID_two"}

    # Its own state is the way out: g.yaml's GIDs stay.
    own = run_cli(capsys, "apply", "t.yaml", "--auto-approve", "--state", "t-state.json")
    assert own.code == 0, own.err
    assert "1 created" in own.out
    assert "deleted" not in own.out
    assert embedded_group_ids("post-cn-g") == {"GID_one", "GID_two"}
    assert state_doc(cwd / "t-state.json").binding is not None
    assert [r.group_id for r in state_doc().resources] == ["GID_one", "GID_two"]


def test_the_binding_records_relative_posix_inputs_and_the_cloud(
    cwd: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (cwd / "teams").mkdir()
    desired_file(cwd / "teams" / "g.yaml", "post-cn-g", ["GID_one"])
    assert run_cli(capsys, "apply", "./teams//g.yaml", "--auto-approve").code == 0

    binding = state_doc().binding
    assert binding is not None
    assert binding.desired == ("teams/g.yaml",)
    assert binding.endpoint == "embedded"
    # The same file named another way, and by its absolute path, is the same desired state.
    for spelling in ("teams/g.yaml", str(cwd / "teams" / "g.yaml"), "teams/../teams/g.yaml"):
        again = run_cli(capsys, "plan", spelling)
        assert again.code == 0, again.err
        assert again.out.strip().endswith("No changes.")


def test_the_same_checkout_at_another_absolute_path_still_matches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("RECONCILER_ENDPOINT", raising=False)
    first = tmp_path / "runner-1" / "checkout"
    first.mkdir(parents=True)
    desired_file(first / "g.yaml", "post-cn-g", ["GID_one"])
    monkeypatch.chdir(first)
    assert run_cli(capsys, "apply", "g.yaml", "--auto-approve").code == 0

    second = tmp_path / "runner-2" / "work" / "checkout"
    shutil.copytree(first, second)
    monkeypatch.chdir(second)
    again = run_cli(capsys, "plan", str(second / "g.yaml"))
    assert again.code == 0, again.err
    assert again.out.strip().endswith("No changes.")


def test_a_state_written_before_the_binding_is_read_and_bound_on_its_next_write(
    cwd: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    desired_file(cwd / "g.yaml", "post-cn-g", ["GID_one"])
    assert run_cli(capsys, "apply", "g.yaml", "--auto-approve").code == 0
    document = json.loads(STATE.read_text(encoding="utf-8"))
    del document["binding"]
    STATE.write_text(json.dumps(document), encoding="utf-8")

    planned = run_cli(capsys, "plan", "g.yaml")
    assert planned.code == 0, planned.err
    desired_file(cwd / "g.yaml", "post-cn-g", ["GID_one", "GID_two"])
    assert run_cli(capsys, "apply", "g.yaml", "--auto-approve").code == 0
    binding = state_doc().binding
    assert binding is not None
    assert binding.desired == ("g.yaml",)


def test_state_bind_moves_the_state_to_a_renamed_file(
    cwd: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    desired_file(cwd / "g.yaml", "post-cn-g", ["GID_one"])
    assert run_cli(capsys, "apply", "g.yaml", "--auto-approve").code == 0
    (cwd / "g.yaml").rename(cwd / "gids.yaml")
    assert run_cli(capsys, "plan", "gids.yaml").code == 1

    bound = run_cli(capsys, "state", "bind", "gids.yaml")

    assert bound.code == 0, bound.err
    assert "g.yaml" in bound.out
    assert "gids.yaml" in bound.out
    assert "->" in bound.out
    binding = state_doc().binding
    assert binding is not None
    assert binding.desired == ("gids.yaml",)
    planned = run_cli(capsys, "plan", "gids.yaml")
    assert planned.code == 0, planned.err
    assert planned.out.strip().endswith("No changes.")


def test_state_bind_refuses_when_there_is_no_state(
    cwd: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    desired_file(cwd / "g.yaml", "post-cn-g", ["GID_one"])
    result = run_cli(capsys, "state", "bind", "g.yaml")
    assert result.code == 1
    assert "no state" in one_line_error(result)
    assert not STATE.exists()


def test_a_saved_plan_is_refused_when_the_state_was_bound_elsewhere_since(
    cwd: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    desired_file(cwd / "g.yaml", "post-cn-g", ["GID_one"])
    desired_file(cwd / "t.yaml", "post-cn-g", ["GID_one"])
    assert run_cli(capsys, "apply", "g.yaml", "--auto-approve").code == 0
    desired_file(cwd / "g.yaml", "post-cn-g", ["GID_one", "GID_two"])
    assert run_cli(capsys, "plan", "g.yaml", "-o", "p.json").code == 0
    assert run_cli(capsys, "state", "bind", "t.yaml").code == 0

    applied = run_cli(capsys, "apply", "p.json")

    assert applied.code == 1
    error = one_line_error(applied)
    assert "t.yaml" in error
    assert "g.yaml" in error
    assert embedded_group_ids("post-cn-g") == {"GID_one"}


def test_read_only_state_commands_need_no_binding(
    cwd: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    desired_file(cwd / "g.yaml", "post-cn-g", ["GID_one"])
    desired_file(cwd / "reconciler.yaml", "post-cn-other", ["GID_xyz"])
    assert run_cli(capsys, "apply", "g.yaml", "--auto-approve").code == 0
    listed = run_cli(capsys, "state", "list")
    assert listed.code == 0, listed.err
    assert "post-cn-g/GID_one" in listed.out
    shown = run_cli(capsys, "state", "show", "post-cn-g/GID_one")
    assert shown.code == 0, shown.err


def test_state_option_reaches_every_state_command(
    cwd: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    desired_file(cwd / "g.yaml", "post-cn-g", ["GID_one", "GID_two"])
    assert run_cli(capsys, "apply", "g.yaml", "--auto-approve", "--state", "s/g.json").code == 0
    assert not STATE.exists()
    listed = run_cli(capsys, "state", "list", "-c", "g.yaml", "--state", "s/g.json")
    assert listed.out.split() == ["post-cn-g/GID_one", "post-cn-g/GID_two"]
    in_g = ("-c", "g.yaml", "--state", "s/g.json")
    removed = run_cli(capsys, "state", "rm", "post-cn-g/GID_two", *in_g)
    assert removed.code == 0, removed.err
    imported = run_cli(capsys, "import", "post-cn-g/GID_two", "-c", "g.yaml", "--state", "s/g.json")
    assert imported.code == 0, imported.err
    assert [r.group_id for r in state_doc(cwd / "s/g.json").resources] == ["GID_one", "GID_two"]
    unlock = run_cli(capsys, "force-unlock", "nothing", "--force", *in_g)
    assert "s/g.json" in unlock.err


def test_state_option_is_refused_with_a_postgres_backend(
    cwd: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (cwd / "pg.yaml").write_text(
        "version: 1\nbackend:\n  postgres:\n    dsn: postgresql://127.0.0.1:5432/test\n"
        "instances: []\n",
        encoding="utf-8",
    )
    result = run_cli(capsys, "plan", "pg.yaml", "--state", "x.json")
    assert result.code == 1
    assert "--state" in result.err
    assert "postgres" in result.err


# --- the cloud the state describes ------------------------------------------------------------


def test_leftover_endpoint_to_a_second_emulator_cannot_unprotect_an_exclusive_gid(
    cwd: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    emulator: RunningEmulator,
) -> None:
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", emulator.access_key_id)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", emulator.access_key_secret)
    desired_file(
        cwd / "g.yaml",
        emulator.instance_id,
        ["GID_keep", "GID_other"],
        endpoint=emulator.url,
        ownership="exclusive",
        protect=("GID_keep",),
    )
    assert run_cli(capsys, "apply", "g.yaml", "--auto-approve").code == 0
    # The protected GID leaves the file; its protection is remembered in the state.
    desired_file(
        cwd / "g.yaml",
        emulator.instance_id,
        ["GID_other"],
        endpoint=emulator.url,
        ownership="exclusive",
    )
    before = STATE.read_bytes()

    with seeded_server() as second:
        monkeypatch.setenv("RECONCILER_ENDPOINT", second.url)
        stray = run_cli(capsys, "apply", "g.yaml", "--auto-approve")
        assert stray.code == 1
        error = one_line_error(stray)
        assert second.url in error
        assert emulator.url in error
        assert "$RECONCILER_ENDPOINT" in error
        assert group_ids(second.store, emulator.instance_id) == []

    assert STATE.read_bytes() == before
    monkeypatch.delenv("RECONCILER_ENDPOINT")
    normal = run_cli(capsys, "apply", "g.yaml", "--auto-approve")
    assert normal.code == 1
    assert "protected" in normal.err
    groups = set(group_ids(emulator.store, emulator.instance_id))
    assert "GID_keep" in groups


def test_an_api_switch_is_the_same_cloud(
    cwd: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    desired_file(cwd / "g.yaml", "post-cn-g", ["GID_one"])
    assert run_cli(capsys, "apply", "g.yaml", "--auto-approve").code == 0
    text = (cwd / "g.yaml").read_text(encoding="utf-8")
    (cwd / "g.yaml").write_text(text.replace("    ownership:", "    api: onsmqtt\n    ownership:"))
    planned = run_cli(capsys, "plan", "g.yaml")
    assert planned.code == 0, planned.err
    assert planned.out.strip().endswith("No changes.")


# --- an empty desired state --------------------------------------------------------------------


def test_an_empty_export_planned_over_managed_gids_is_refused_without_allow_empty(
    cwd: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    desired_file(cwd / "g.yaml", "post-cn-g", ["GID_one", "GID_two"])
    assert run_cli(capsys, "apply", "g.yaml", "--auto-approve").code == 0
    # An export of a region where the emulator holds nothing (`instances: []`) replaces the
    # file (export never overwrites one: the user removed it first).
    (cwd / "g.yaml").unlink()
    exported = run_cli(
        capsys,
        "export", "--all", "--region", "cn-beijing", "--endpoint", "embedded", "-o", "g.yaml",
    )  # fmt: skip
    assert exported.code == 0, exported.err
    assert "instances: []" in (cwd / "g.yaml").read_text(encoding="utf-8")
    exported_text = (cwd / "g.yaml").read_text(encoding="utf-8")
    (cwd / "g.yaml").write_text(
        exported_text.replace("provider:\n", "provider:\n  endpoint: embedded\n"), encoding="utf-8"
    )

    refused = run_cli(capsys, "apply", "g.yaml", "--auto-approve")
    assert refused.code == 1
    assert "--allow-empty" in refused.err
    assert "the empty desired state refused the plan first" in refused.out
    assert embedded_group_ids("post-cn-g") == {"GID_one", "GID_two"}

    saved_refused = run_cli(capsys, "plan", "g.yaml", "-o", "refused.json")
    assert saved_refused.code == 1
    assert json.loads((cwd / "refused.json").read_text())["appliable"] is False
    assert run_cli(capsys, "apply", "refused.json").code == 1
    # A flag the plan was not made with is refused.
    flagged = run_cli(capsys, "apply", "refused.json", "--allow-empty")
    assert flagged.code == 1
    assert "--allow-empty only applies when planning from a desired file" in flagged.err
    assert embedded_group_ids("post-cn-g") == {"GID_one", "GID_two"}

    saved = run_cli(capsys, "plan", "g.yaml", "--allow-empty", "-o", "allowed.json")
    assert saved.code == 0, saved.err
    document = json.loads((cwd / "allowed.json").read_text())
    assert document["allow_empty"] is True
    # The plan's override takes effect only when the apply repeats it.
    unconfirmed = run_cli(capsys, "apply", "allowed.json")
    assert unconfirmed.code == 1
    assert "was made with --allow-empty" in unconfirmed.err
    assert embedded_group_ids("post-cn-g") == {"GID_one", "GID_two"}
    applied = run_cli(capsys, "apply", "allowed.json", "--allow-empty")
    assert applied.code == 0, applied.err
    assert embedded_group_ids("post-cn-g") == set()


def test_an_empty_desired_state_without_managed_gids_needs_no_flag(
    cwd: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (cwd / "g.yaml").write_text(
        "version: 1\nprovider:\n  endpoint: embedded\ninstances: []\n", encoding="utf-8"
    )
    planned = run_cli(capsys, "plan", "g.yaml")
    assert planned.code == 0, planned.err
    assert planned.out.strip().endswith("No changes.")


def test_a_plan_on_another_state_file_names_that_file(
    cwd: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    desired_file(cwd / "g.yaml", "post-cn-g", ["GID_one", "GID_two"])
    assert run_cli(capsys, "apply", "g.yaml", "--auto-approve", "--state", "s/g.json").code == 0
    desired_file(cwd / "g.yaml", "post-cn-g", ["GID_one"])
    planned = run_cli(capsys, "plan", "g.yaml", "--state", "s/g.json", "-o", "p.json")
    assert planned.code == 0, planned.err
    assert "(state: s/g.json)" in planned.out
    assert json.loads((cwd / "p.json").read_text())["state_source"] == "s/g.json"
