"""``reconciler state list | show KEY | rm KEY...`` on the backend the desired file names."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from reconciler.errors import LockHeldError, StateError
from reconciler.models import StateDocument
from reconciler.state import new_state
from reconciler.state.locking import new_lock_info
from tests.commands.statecli import invoke, local_state, resource, spawn


def _seed(state_workdir: Path, *group_ids: str, extra: tuple = ()) -> StateDocument:
    doc = new_state()
    for group_id in group_ids:
        doc = doc.with_resource(resource(group_id))
    for item in extra:
        doc = doc.with_resource(item)
    with local_state(state_workdir) as backend:
        return backend.write(doc, expected_serial=0)


def test_list_prints_one_key_per_line_sorted(state_workdir: Path) -> None:
    _seed(
        state_workdir, "GID_orders", "GID_bills", extra=(resource("GID_a", instance="post-cn-b"),)
    )
    result = invoke(["state", "list"])
    assert result.exit_code == 0, result.output
    assert result.output == (
        "post-cn-b/GID_a\npost-cn-test0001/GID_bills\npost-cn-test0001/GID_orders\n"
    )


def test_list_of_no_state_prints_nothing(state_workdir: Path) -> None:
    result = invoke(["state", "list"])
    assert result.exit_code == 0
    assert result.output == ""


def test_list_takes_the_lock(state_workdir: Path) -> None:
    _seed(state_workdir, "GID_orders")
    with local_state(state_workdir) as holder:
        info = new_lock_info("apply")
        holder.lock(info)
        refused = invoke(["state", "list"])
        assert isinstance(refused.exception, LockHeldError)
        assert info.id in str(refused.exception)
        holder.unlock(info.id)


@pytest.mark.parametrize("opt_out", [["--lock=false"], ["--lock", "false"], ["--no-lock"]])
def test_list_skips_the_lock_when_told_not_to(state_workdir: Path, opt_out: list[str]) -> None:
    _seed(state_workdir, "GID_orders")
    with local_state(state_workdir) as holder:
        info = new_lock_info("apply")
        holder.lock(info)
        result = invoke(["state", "list", *opt_out])
        assert result.exit_code == 0, result.output
        assert result.output == "post-cn-test0001/GID_orders\n"
        holder.unlock(info.id)


def test_list_with_lock_timeout_waits_for_the_holder(state_workdir: Path) -> None:
    _seed(state_workdir, "GID_orders")
    with local_state(state_workdir) as holder:
        info = new_lock_info("apply")
        holder.lock(info)
        proc = spawn(["state", "list", "--lock-timeout", "2m"], cwd=state_workdir)
        assert proc.stderr is not None
        waiting = proc.stderr.readline()
        assert waiting.startswith(f"waiting for lock {info.id} held by {info.who} since ")
        assert "(apply, " in waiting
        holder.unlock(info.id)
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert out == "post-cn-test0001/GID_orders\n"
    assert err.count("waiting for lock") == 0  # printed once per holder, not per retry


def test_bad_lock_timeout_is_a_usage_error(state_workdir: Path) -> None:
    result = invoke(["state", "list", "--lock-timeout", "soon"])
    assert result.exit_code == 1
    assert "--lock-timeout" in result.output


def test_show_prints_the_resource(state_workdir: Path) -> None:
    _seed(state_workdir, "GID_orders")
    result = invoke(["state", "show", "post-cn-test0001/GID_orders"])
    assert result.exit_code == 0, result.output
    assert result.output == (
        "# post-cn-test0001/GID_orders\n"
        "region      = cn-shanghai\n"
        "instance_id = post-cn-test0001\n"
        "group_id    = GID_orders\n"
        "topic       = orders\n"
        "protect     = false\n"
        "origin      = created\n"
        "recorded_at = 2026-01-02T03:04:05+00:00\n"
        "api         = ons\n"
    )


def test_show_of_an_unknown_key_names_it(state_workdir: Path) -> None:
    _seed(state_workdir, "GID_orders")
    result = invoke(["state", "show", "post-cn-test0001/GID_nope"])
    assert isinstance(result.exception, StateError)
    assert "post-cn-test0001/GID_nope is not in the state" in str(result.exception)
    bad = invoke(["state", "show", "GID_orders"])
    assert isinstance(bad.exception, StateError)
    assert "INSTANCE_ID/GROUP_ID" in str(bad.exception)


def test_show_picks_the_region_the_file_declares(state_workdir: Path) -> None:
    twin = resource("GID_orders", region="cn-beijing").model_copy(update={"topic": "other"})
    _seed(state_workdir, "GID_orders", extra=(twin,))
    result = invoke(["state", "show", "post-cn-test0001/GID_orders"])
    assert result.exit_code == 0, result.output
    assert "region      = cn-shanghai" in result.output


def test_show_of_an_undeclared_instance_in_two_regions_is_ambiguous(state_workdir: Path) -> None:
    _seed(
        state_workdir,
        extra=(
            resource("GID_x1", instance="post-cn-other", region="cn-beijing"),
            resource("GID_x1", instance="post-cn-other", region="cn-hangzhou"),
        ),
    )
    result = invoke(["state", "show", "post-cn-other/GID_x1"])
    assert isinstance(result.exception, StateError)
    assert "several regions (cn-beijing, cn-hangzhou)" in str(result.exception)


def test_rm_forgets_only_the_named_resources(state_workdir: Path) -> None:
    before = _seed(state_workdir, "GID_orders", "GID_bills", "GID_keep")
    result = invoke(["state", "rm", "post-cn-test0001/GID_orders", "post-cn-test0001/GID_bills"])
    assert result.exit_code == 0, result.output
    assert "Removed post-cn-test0001/GID_orders from the state." in result.output
    assert f"serial is now {before.serial + 1}" in result.output
    with local_state(state_workdir) as backend:
        after = backend.read()
    assert after is not None
    assert [r.group_id for r in after.resources] == ["GID_keep"]
    assert after.lineage == before.lineage


def test_rm_writes_only_the_change_and_leaves_the_document_alone(state_workdir: Path) -> None:
    before = _seed(state_workdir, *(f"GID_n{n:03d}" for n in range(300)))
    with local_state(state_workdir) as backend:
        document = backend.path.read_bytes()
        journal = backend.journal_path
    result = invoke(["state", "rm", "post-cn-test0001/GID_n007"])
    assert result.exit_code == 0, result.output
    with local_state(state_workdir) as backend:
        assert backend.path.read_bytes() == document
        (line,) = journal.read_text().splitlines()
        assert '"drop":[{' in line and "GID_n007" in line
        after = backend.read()
    assert after is not None and after.serial == before.serial + 1
    assert len(after.resources) == 299


def test_rm_of_an_unknown_key_changes_nothing(state_workdir: Path) -> None:
    before = _seed(state_workdir, "GID_orders")
    result = invoke(["state", "rm", "post-cn-test0001/GID_orders", "post-cn-test0001/GID_nope"])
    assert isinstance(result.exception, StateError)
    assert "GID_nope is not in the state" in str(result.exception)
    with local_state(state_workdir) as backend:
        assert backend.read() == before
        assert backend.lock_holder() is None  # the lock was released on the error


def test_rm_refuses_while_someone_holds_the_lock(state_workdir: Path) -> None:
    before = _seed(state_workdir, "GID_orders")
    with local_state(state_workdir) as holder:
        info = new_lock_info("apply")
        holder.lock(info)
        result = invoke(["state", "rm", "post-cn-test0001/GID_orders"])
        assert isinstance(result.exception, LockHeldError)
        assert holder.read() == before
        holder.unlock(info.id)


def test_errors_are_one_line_without_traceback(state_workdir: Path) -> None:
    _seed(state_workdir, "GID_orders")
    proc = spawn(["state", "show", "post-cn-test0001/GID_nope"], cwd=state_workdir)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert out == ""
    assert err.startswith("Error: post-cn-test0001/GID_nope is not in the state (local ")
    assert err.count("\n") == 1
    assert "Traceback" not in err


def test_missing_config_file_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    proc = spawn(["state", "list"], cwd=tmp_path, stdin=subprocess.DEVNULL)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert "reconciler.yaml" in err
