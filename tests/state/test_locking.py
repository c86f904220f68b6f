"""Lock metadata, the waiting message, hold_lock and --lock-timeout durations."""

from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime
from pathlib import Path

import pytest

from reconciler import __version__
from reconciler.duration import parse_duration
from reconciler.errors import LockHeldError
from reconciler.models import LocalBackendConfig
from reconciler.state import open_backend
from reconciler.state.base import LockInfo
from reconciler.state.locking import (
    ci_job,
    format_waiting,
    hold_lock,
    new_lock_info,
)


def test_new_lock_info_names_this_process() -> None:
    info = new_lock_info("apply", env={})
    assert uuid.UUID(info.id).version == 4
    assert info.operation == "apply"
    assert info.who.endswith("@" + socket.gethostname())
    assert info.version == __version__
    assert datetime.fromisoformat(info.created).utcoffset() is not None
    assert info.ci_job is None
    assert info.pid == os.getpid()
    assert new_lock_info("apply").id != info.id


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {
                "GITHUB_ACTIONS": "true",
                "GITHUB_RUN_ID": "42",
                "GITHUB_WORKFLOW": "deploy",
                "GITHUB_JOB": "apply",
                "GITHUB_SERVER_URL": "https://github.com",
                "GITHUB_REPOSITORY": "acme/infra",
            },
            "GitHub Actions deploy/apply run 42 https://github.com/acme/infra/actions/runs/42",
        ),
        ({"GITHUB_ACTIONS": "true", "GITHUB_RUN_ID": "7"}, "GitHub Actions job run 7"),
        (
            {"GITLAB_CI": "true", "CI_JOB_URL": "https://gitlab.example/j/9", "CI_JOB_ID": "9"},
            "https://gitlab.example/j/9",
        ),
        ({"GITLAB_CI": "true", "CI_JOB_ID": "9"}, "GitLab CI job 9"),
        ({"BUILDKITE_BUILD_URL": "https://buildkite.com/a/b/1"}, "https://buildkite.com/a/b/1"),
        ({"JENKINS_URL": "https://j", "BUILD_URL": "https://j/job/x/3/"}, "https://j/job/x/3/"),
        ({"CIRCLE_BUILD_URL": "https://circleci.com/gh/a/b/5"}, "https://circleci.com/gh/a/b/5"),
        ({"CI": "true"}, "CI"),
        ({"CI": "false"}, None),
        ({}, None),
    ],
)
def test_ci_job_comes_from_the_usual_variables(env: dict[str, str], expected: str | None) -> None:
    assert ci_job(env) == expected


def _info(ci: str | None) -> LockInfo:
    return LockInfo(
        id="8f0c0c3e-1111-4222-8333-444455556666",
        operation="apply",
        who="ci@runner-3",
        version="0.1.0",
        created="2026-01-02T03:04:05+00:00",
        ci_job=ci,
    )


def test_waiting_message_names_id_holder_time_operation_and_job() -> None:
    assert format_waiting(_info("https://ci/job/12")) == (
        "waiting for lock 8f0c0c3e-1111-4222-8333-444455556666 held by ci@runner-3 "
        "since 2026-01-02T03:04:05+00:00 (apply, https://ci/job/12)"
    )
    assert format_waiting(_info(None)).endswith("(apply, not in CI)")
    assert format_waiting(None) == "waiting for a lock held by an unknown holder"


def test_hold_lock_releases_on_error_and_names_the_backend(tmp_path: Path) -> None:
    backend = open_backend(LocalBackendConfig(), base_dir=tmp_path)
    with pytest.raises(RuntimeError), hold_lock(backend, "apply") as info:
        assert info.backend == backend.describe()
        holder = backend.lock_holder()
        assert holder is not None
        assert holder.id == info.id
        raise RuntimeError("boom")
    assert backend.lock_holder() is None


def test_hold_lock_raises_lock_held_when_taken(tmp_path: Path) -> None:
    first = open_backend(LocalBackendConfig(), base_dir=tmp_path)
    second = open_backend(LocalBackendConfig(), base_dir=tmp_path)
    with (
        hold_lock(first, "apply") as info,
        pytest.raises(LockHeldError, match=info.id),
        hold_lock(second, "plan"),
    ):
        pass
    with hold_lock(second, "plan"):
        pass


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("0", 0.0),
        ("30s", 30.0),
        ("5m", 300.0),
        ("1m30s", 90.0),
        ("1h", 3600.0),
        ("250ms", 0.25),
        ("1.5s", 1.5),
        ("45", 45.0),
        (" 2M ", 120.0),
    ],
)
def test_parse_duration_accepts_go_style_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "s", "5x", "m5", "1m 30s", "-3", "5s5", "abc"])
def test_parse_duration_rejects_nonsense(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)
