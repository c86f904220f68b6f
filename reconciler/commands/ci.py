"""``reconciler ci comment``: keep one plan comment per pull or merge request up to date."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from reconciler.ci import github, gitlab
from reconciler.ci.github import GitHubComments
from reconciler.ci.gitlab import GitLabNotes
from reconciler.ci.upsert import DEFAULT_MARKER, Outcome, Upserted, upsert_comment, valid_marker
from reconciler.errors import CiError
from reconciler.exit_codes import ExitCode

PROVIDERS = ("github", "gitlab")


@click.group("ci")
def ci_group() -> None:
    """Steps for CI pipelines (pull/merge request comments)."""


def _read_body(path: str) -> str:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise CiError(f"{path}: cannot read the comment: {reason}") from exc
    if not text.strip():
        # Posting nothing would erase the last plan; an empty file means the plan step failed.
        raise CiError(f"{path} is empty (did the plan fail before writing it?); nothing posted")
    return text


def _upsert(provider: str, body: str, number: int | None, marker: str) -> Upserted:
    env = dict(os.environ)
    thread: GitHubComments | GitLabNotes
    if provider == "github":
        _check_size(body, marker, github.MAX_BODY, "GitHub")
        thread = GitHubComments(github.github_target(env, number))
    else:
        _check_size(body, marker, gitlab.MAX_BODY, "GitLab")
        thread = GitLabNotes(gitlab.gitlab_target(env, number))
    try:
        return upsert_comment(thread, body, marker)
    finally:
        thread.close()


def _check_size(body: str, marker: str, limit: int, forge: str) -> None:
    size = len(body) + len(marker) + 10
    if size > limit:
        raise CiError(
            f"the comment is {size:,} characters; {forge} takes at most {limit:,} "
            "(plan --format markdown stays under 60,000)"
        )


@ci_group.command("comment")
@click.argument("file", metavar="PLAN.md", type=str)
@click.option(
    "--provider",
    type=click.Choice(PROVIDERS),
    required=True,
    help="The forge the pipeline runs on.",
)
@click.option(
    "--pr",
    "--mr",
    "number",
    type=click.IntRange(min=1),
    default=None,
    help="Pull/merge request number (default: from the CI variables).",
)
@click.option(
    "--marker",
    default=DEFAULT_MARKER,
    show_default=True,
    help="Hidden name that finds the comment again; one comment per name.",
)
def comment_command(file: str, provider: str, number: int | None, marker: str) -> ExitCode:
    """Post PLAN.md as a comment on the pull/merge request, or edit the one posted before.

    The comment starts with a hidden <!-- MARKER --> line; the newest comment starting with
    it is edited, so each request keeps one plan comment however often it is pushed. PLAN.md
    may be - (stdin).

    \b
    GitHub: GITHUB_REPOSITORY, GITHUB_TOKEN (or GH_TOKEN), the number from
      GITHUB_EVENT_PATH's pull_request.number, GITHUB_API_URL (default api.github.com).
    GitLab: CI_API_V4_URL, CI_PROJECT_ID, CI_MERGE_REQUEST_IID, and GITLAB_TOKEN (an
      access token with the api scope; sent as PRIVATE-TOKEN), else CI_JOB_TOKEN.
    """
    if not valid_marker(marker):
        raise click.BadParameter(
            "letters, digits and . _ : / - only (no '--')", param_hint="--marker"
        )
    body = _read_body(file)
    done = _upsert(provider, body, number, marker)
    where = done.comment.url or f"comment {done.comment.id}"
    verbs = {
        Outcome.CREATED: "posted the plan comment",
        Outcome.UPDATED: "updated the plan comment",
        Outcome.UNCHANGED: "the plan comment is already up to date",
    }
    click.echo(f"ci comment: {verbs[done.outcome]}: {where}", err=True)
    return ExitCode.OK
