"""``reconciler ci comment`` against a fake GitHub and GitLab on 127.0.0.1: one comment per
request kept up to date, every page searched, each failure one line without the token."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.ci.upsert import marker_line
from tests.ci.forge import (
    GITHUB_TOKEN,
    GITLAB_TOKEN,
    JOB_TOKEN,
    PULL_NUMBER,
    REPOSITORY,
    Failure,
    FakeForge,
    github_env,
    gitlab_env,
    running_forge,
)
from tests.fixtures.runs import Run, run_cli

MARKER = marker_line("reconciler-plan")
_CI_VARIABLES = (
    "GITHUB_REPOSITORY",
    "GITHUB_EVENT_PATH",
    "GITHUB_TOKEN",
    "GH_TOKEN",
    "GITHUB_API_URL",
    "CI_API_V4_URL",
    "CI_PROJECT_ID",
    "CI_MERGE_REQUEST_IID",
    "CI_PROJECT_URL",
    "GITLAB_TOKEN",
    "CI_JOB_TOKEN",
)


@pytest.fixture
def forge(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeForge]:
    for name in _CI_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    with running_forge() as running:
        yield running


def use_github(
    monkeypatch: pytest.MonkeyPatch, forge: FakeForge, number: int = PULL_NUMBER
) -> None:
    event = Path("event.json")
    event.write_text(json.dumps({"action": "synchronize", "pull_request": {"number": number}}))
    for name, value in github_env(forge, str(event.resolve())).items():
        monkeypatch.setenv(name, value)


def use_gitlab(monkeypatch: pytest.MonkeyPatch, forge: FakeForge) -> None:
    for name, value in gitlab_env(forge).items():
        monkeypatch.setenv(name, value)


def write_plan(text: str = "### reconciler plan\n\n**Plan: 1 to create**\n") -> str:
    Path("plan.md").write_text(text, encoding="utf-8")
    return "plan.md"


def comment(capsys: pytest.CaptureFixture[str], provider: str, *extra: str) -> Run:
    return run_cli(capsys, "ci", "comment", "--provider", provider, *extra, "plan.md")


def assert_one_line_error(run: Run, *needles: str) -> None:
    assert run.code == 1, run
    assert run.out == ""
    lines = run.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), run.err
    assert "Traceback" not in run.err
    for secret in (GITHUB_TOKEN, GITLAB_TOKEN, JOB_TOKEN):
        assert secret not in run.err
    for needle in needles:
        assert needle in lines[0], lines[0]


# --- GitHub -----------------------------------------------------------------------------------


def test_github_posts_one_comment_then_edits_it_on_every_push(
    forge: FakeForge, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use_github(monkeypatch, forge)
    other = forge.add_github("LGTM")
    write_plan("first plan\n")
    first = comment(capsys, "github")
    assert first.code == 0, first
    assert "posted the plan comment: https://github.test/" in first.err
    write_plan("second plan\n")
    second = comment(capsys, "github")
    assert second.code == 0, second
    assert "updated the plan comment" in second.err

    ours = [c for c in forge.github.values() if c["id"] != other]
    assert len(ours) == 1
    assert ours[0]["body"] == f"{MARKER}\nsecond plan\n"
    assert forge.github[other]["body"] == "LGTM"
    writes = [(seen.method, seen.path) for seen in forge.writes()]
    assert writes == [
        ("POST", f"/repos/{REPOSITORY}/issues/{PULL_NUMBER}/comments"),
        ("PATCH", f"/repos/{REPOSITORY}/issues/comments/{ours[0]['id']}"),
    ]
    first_request = forge.requests[0]
    assert first_request.headers["Authorization"] == f"Bearer {GITHUB_TOKEN}"
    assert first_request.headers["Accept"] == "application/vnd.github+json"
    assert GITHUB_TOKEN not in first.err + second.err


def test_github_finds_the_marker_on_the_second_page(
    forge: FakeForge, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use_github(monkeypatch, forge)
    forge.page_size = 3
    for index in range(3):
        forge.add_github(f"review {index}")
    ours = forge.add_github(f"{MARKER}\nold plan\n", user="github-actions[bot]")
    forge.add_github("quoting it:\n" + MARKER)  # the marker not on its first line: not ours
    write_plan("new plan\n")
    run = comment(capsys, "github")
    assert run.code == 0, run
    pages = [seen.query.get("page", ["1"])[0] for seen in forge.requests if seen.method == "GET"]
    assert pages == ["1", "2"]
    assert [(seen.method, seen.path) for seen in forge.writes()] == [
        ("PATCH", f"/repos/{REPOSITORY}/issues/comments/{ours}")
    ]
    assert forge.github[ours]["body"] == f"{MARKER}\nnew plan\n"


def test_github_leaves_an_identical_comment_alone(
    forge: FakeForge, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use_github(monkeypatch, forge)
    forge.add_github(f"{MARKER}\nsame plan\n")
    write_plan("same plan\n")
    run = comment(capsys, "github")
    assert run.code == 0 and "already up to date" in run.err, run
    assert forge.writes() == []


def test_github_pr_option_wins_over_the_event_and_a_marker_names_another_comment(
    forge: FakeForge, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use_github(monkeypatch, forge, number=999)
    forge.add_github(f"{MARKER}\nthe production plan\n")
    write_plan("staging plan\n")
    run = comment(capsys, "github", "--pr", str(PULL_NUMBER), "--marker", "plan:staging")
    assert run.code == 0, run
    assert [seen.method for seen in forge.writes()] == ["POST"]
    bodies = sorted(c["body"] for c in forge.github.values())
    assert bodies == ["<!-- plan:staging -->\nstaging plan\n", f"{MARKER}\nthe production plan\n"]


def test_github_does_not_follow_a_next_page_on_another_host(
    forge: FakeForge, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with running_forge() as elsewhere:
        use_github(monkeypatch, forge)
        forge.page_size = 1
        forge.foreign_next = f"{elsewhere.url}/steal?page=2"
        forge.add_github("one")
        forge.add_github("two")
        write_plan()
        run = comment(capsys, "github")
        assert_one_line_error(run, "next page is on another host")
        assert elsewhere.requests == []
        assert forge.writes() == []


@pytest.mark.parametrize("provider", ["github", "gitlab"])
@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_is_never_followed_so_the_token_stays_home(
    forge: FakeForge,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    provider: str,
    status: int,
) -> None:
    with running_forge() as elsewhere:
        (use_github if provider == "github" else use_gitlab)(monkeypatch, forge)
        location = f"{elsewhere.url}/collect?stolen=query-string-must-not-show"
        forge.fail_next.append(Failure(status, headers={"Location": location}))
        write_plan()
        run = comment(capsys, provider)
        host, other = forge.url.removeprefix("http://"), elsewhere.url.removeprefix("http://")
        assert_one_line_error(run, host, other, "redirect")
        assert "query-string-must-not-show" not in run.err
        assert elsewhere.requests == []
        assert forge.writes() == []


# --- GitLab -----------------------------------------------------------------------------------


def test_gitlab_keeps_one_note_across_pages_and_skips_system_notes(
    forge: FakeForge, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use_gitlab(monkeypatch, forge)
    write_plan("first plan\n")
    first = comment(capsys, "gitlab")
    assert first.code == 0, first
    assert "posted the plan comment: https://gitlab.test/platform/mqtt-gids/-/merge_requests/3" in (
        first.err
    )
    ours = next(iter(forge.gitlab))
    forge.page_size = 2
    forge.add_gitlab("added 1 commit", system=True)
    forge.add_gitlab(f"{MARKER}\nlooks like ours but is a system note", system=True)
    forge.add_gitlab("please rename")
    write_plan("second plan\n")
    second = comment(capsys, "gitlab")
    assert second.code == 0, second
    assert "updated the plan comment" in second.err
    notes_path = "/api/v4/projects/42/merge_requests/3/notes"
    assert [(seen.method, seen.path) for seen in forge.writes()] == [
        ("POST", notes_path),
        ("PUT", f"{notes_path}/{ours}"),
    ]
    listed_pages = [s.query["page"][0] for s in forge.requests if s.method == "GET"]
    assert listed_pages == ["1", "1", "2"]
    assert forge.gitlab[ours]["body"] == f"{MARKER}\nsecond plan\n"
    assert all(seen.headers.get("PRIVATE-TOKEN") == GITLAB_TOKEN for seen in forge.requests)


def test_gitlab_project_path_and_job_token(
    forge: FakeForge, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use_gitlab(monkeypatch, forge)
    monkeypatch.setenv("CI_PROJECT_ID", "platform/mqtt-gids")
    monkeypatch.delenv("GITLAB_TOKEN")
    monkeypatch.setenv("CI_JOB_TOKEN", JOB_TOKEN)
    write_plan()
    run = comment(capsys, "gitlab")
    assert run.code == 0, run
    post = forge.writes()[0]
    assert post.path == "/api/v4/projects/platform%2Fmqtt-gids/merge_requests/3/notes"
    assert post.headers.get("JOB-TOKEN") == JOB_TOKEN
    assert "PRIVATE-TOKEN" not in post.headers


# --- failures ---------------------------------------------------------------------------------

RATE_LIMITED = Failure(
    403,
    {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1893456000"},
    {"message": "API rate limit exceeded"},
)
TOO_MANY = Failure(429, {"Retry-After": "37"}, {"message": "Too Many Requests"})
GITLAB_LIMIT = Failure(429, {"RateLimit-Remaining": "0", "RateLimit-Reset": "1893456000"})


@pytest.mark.parametrize("provider", ["github", "gitlab"])
@pytest.mark.parametrize(
    ("failure", "needles"),
    [
        (RATE_LIMITED, ("rate limit reached", "403", "resets at 00:00:00 UTC")),
        (TOO_MANY, ("rate limit reached", "429", "retry in 37 s")),
        (GITLAB_LIMIT, ("rate limit reached", "429", "resets at 00:00:00 UTC")),
        (Failure(500, body={"message": "boom"}), ("answered GET /", "500", ": boom")),
    ],
    ids=["403-rate-limit", "429-retry-after", "429-ratelimit-reset", "500"],
)
def test_forge_failures_are_one_line(
    forge: FakeForge,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    provider: str,
    failure: Failure,
    needles: tuple[str, ...],
) -> None:
    (use_github if provider == "github" else use_gitlab)(monkeypatch, forge)
    forge.fail_next.append(failure)
    write_plan()
    assert_one_line_error(comment(capsys, provider), *needles)
    assert forge.writes() == []


@pytest.mark.parametrize("provider", ["github", "gitlab"])
def test_a_refused_token_is_a_401_naming_the_variable_not_the_token(
    forge: FakeForge,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    provider: str,
) -> None:
    (use_github if provider == "github" else use_gitlab)(monkeypatch, forge)
    variable = "GITHUB_TOKEN" if provider == "github" else "GITLAB_TOKEN"
    wrong = "wrong-but-secret-token-value"
    monkeypatch.setenv(variable, wrong)
    write_plan()
    run = comment(capsys, provider)
    assert_one_line_error(run, "refused the token from " + variable, "401")
    assert wrong not in run.err


def test_github_404_names_the_pull_request(
    forge: FakeForge, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use_github(monkeypatch, forge)
    monkeypatch.setenv("GITHUB_REPOSITORY", "octo-org/other")
    write_plan()
    assert_one_line_error(
        comment(capsys, "github"), "found no pull request #7 in octo-org/other", "404"
    )


def test_gitlab_404_names_the_merge_request(
    forge: FakeForge, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use_gitlab(monkeypatch, forge)
    write_plan()
    run = comment(capsys, "gitlab", "--mr", "99")
    assert_one_line_error(run, "found no merge request !99 in project 42", "404")


def test_an_unreachable_forge_is_one_line(
    forge: FakeForge, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use_github(monkeypatch, forge)
    monkeypatch.setenv("GITHUB_API_URL", "http://127.0.0.1:9")
    write_plan()
    assert_one_line_error(comment(capsys, "github"), "cannot reach GitHub at http://127.0.0.1:9")


def test_a_forge_url_that_is_not_http_is_one_line(
    forge: FakeForge, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use_gitlab(monkeypatch, forge)
    monkeypatch.setenv("CI_API_V4_URL", "gitlab.example.com/api/v4")
    write_plan()
    assert_one_line_error(
        comment(capsys, "gitlab"), "the GitLab API URL 'gitlab.example.com/api/v4' is not an http"
    )
    assert forge.requests == []


@pytest.mark.parametrize(
    ("provider", "drop", "needle"),
    [
        ("github", "GITHUB_TOKEN", "no token: set GITHUB_TOKEN"),
        ("github", "GITHUB_REPOSITORY", "GITHUB_REPOSITORY must name the repository"),
        ("github", "GITHUB_EVENT_PATH", "no pull request number: pass --pr N"),
        ("gitlab", "GITLAB_TOKEN", "no token: set GITLAB_TOKEN"),
        ("gitlab", "CI_MERGE_REQUEST_IID", "CI_MERGE_REQUEST_IID is not set"),
        ("gitlab", "CI_API_V4_URL", "CI_API_V4_URL not set"),
    ],
)
def test_missing_ci_variables_are_named(
    forge: FakeForge,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    provider: str,
    drop: str,
    needle: str,
) -> None:
    (use_github if provider == "github" else use_gitlab)(monkeypatch, forge)
    monkeypatch.delenv(drop)
    write_plan()
    assert_one_line_error(comment(capsys, provider), needle)
    assert forge.requests == []


def test_an_event_without_a_pull_request_says_to_pass_the_number(
    forge: FakeForge, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use_github(monkeypatch, forge)
    Path("event.json").write_text(json.dumps({"ref": "refs/heads/main"}))
    write_plan()
    assert_one_line_error(comment(capsys, "github"), "not about a pull request", "--pr N")


def test_an_empty_plan_file_posts_nothing(
    forge: FakeForge, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use_github(monkeypatch, forge)
    write_plan("")
    assert_one_line_error(comment(capsys, "github"), "plan.md is empty")
    assert forge.requests == []


def test_a_comment_over_the_forge_limit_is_refused_before_any_call(
    forge: FakeForge, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use_github(monkeypatch, forge)
    write_plan("x" * 70_000)
    assert_one_line_error(comment(capsys, "github"), "GitHub takes at most 65,536")
    assert forge.requests == []


def test_a_marker_that_would_break_the_html_comment_is_a_usage_error(
    forge: FakeForge, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use_github(monkeypatch, forge)
    write_plan()
    run = comment(capsys, "github", "--marker", "a-->b")
    assert_one_line_error(run, "--marker")
    assert forge.requests == []
