"""The notes of a GitLab merge request."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from reconciler.ci.http import ApiSession, Forge
from reconciler.ci.upsert import Comment
from reconciler.errors import CiError

PER_PAGE = 100
# A note may hold at most this many characters.
MAX_BODY = 1_000_000


@dataclass(frozen=True)
class GitLabTarget:
    api_url: str  # CI_API_V4_URL: https://gitlab.example.com/api/v4
    project: str  # numeric id or "group/project"
    iid: int
    token: str
    token_source: str
    web_url: str | None = None  # CI_PROJECT_URL, to name the note in messages

    @property
    def token_header(self) -> str:
        """A personal, project or group access token goes in PRIVATE-TOKEN; the job's own
        token in JOB-TOKEN."""
        job_token = self.token_source == "CI_JOB_TOKEN"  # noqa: S105 (a variable name)
        return "JOB-TOKEN" if job_token else "PRIVATE-TOKEN"


def gitlab_target(env: Mapping[str, str], iid: int | None) -> GitLabTarget:
    """From the variables of a merge-request pipeline; ``iid`` (``--pr``) wins over
    CI_MERGE_REQUEST_IID."""
    missing = [name for name in ("CI_API_V4_URL", "CI_PROJECT_ID") if not env.get(name)]
    if missing:
        raise CiError(f"{' and '.join(missing)} not set: run in a GitLab CI job")
    if iid is None:
        text = env.get("CI_MERGE_REQUEST_IID", "").strip()
        if not text:
            raise CiError(
                "no merge request: CI_MERGE_REQUEST_IID is not set (run the job in merge "
                "request pipelines: if: $CI_PIPELINE_SOURCE == 'merge_request_event') or "
                "pass --pr N"
            )
        if not text.isdigit():
            raise CiError(f"CI_MERGE_REQUEST_IID must be a number (it is {text!r})")
        iid = int(text)
    token_source = next((name for name in ("GITLAB_TOKEN", "CI_JOB_TOKEN") if env.get(name)), None)
    if token_source is None:
        raise CiError(
            "no token: set GITLAB_TOKEN (a project access token with the api scope, as a "
            "masked CI/CD variable)"
        )
    return GitLabTarget(
        api_url=env["CI_API_V4_URL"].strip(),
        project=env["CI_PROJECT_ID"].strip(),
        iid=iid,
        token=env[token_source],
        token_source=token_source,
        web_url=env.get("CI_PROJECT_URL", "").strip().rstrip("/") or None,
    )


class GitLabNotes:
    def __init__(self, target: GitLabTarget) -> None:
        self.target = target
        forge = Forge(
            "GitLab",
            target.token_source,
            f"merge request !{target.iid} in project {target.project}",
        )
        self.api = ApiSession(
            forge,
            target.api_url,
            {target.token_header: target.token},
            token=target.token,
        )
        project = quote(target.project, safe="")
        self._notes = f"/projects/{project}/merge_requests/{target.iid}/notes"

    def comments(self) -> Iterator[Comment]:
        page = "1"
        while page:
            answer = self.api.call(
                "GET",
                self.api.url(self._notes),
                params={
                    "per_page": PER_PAGE,
                    "page": page,
                    "sort": "asc",
                    "order_by": "created_at",
                },
            )
            notes = answer.document
            if not isinstance(notes, list):
                raise CiError("GitLab answered the note list with something not a list")
            # System notes ("added 1 commit") are GitLab's, never ours.
            for item in notes:
                if not (isinstance(item, dict) and item.get("system")):
                    yield self._note(item)
            page = answer.headers.get("x-next-page", "").strip()

    def create(self, body: str) -> Comment:
        answer = self.api.call("POST", self.api.url(self._notes), body={"body": body})
        return self._note(answer.document)

    def update(self, comment_id: int, body: str) -> Comment:
        url = self.api.url(f"{self._notes}/{comment_id}")
        return self._note(self.api.call("PUT", url, body={"body": body}).document)

    def close(self) -> None:
        self.api.close()

    def _note(self, item: Any) -> Comment:
        if not isinstance(item, dict) or not isinstance(item.get("id"), int):
            raise CiError("GitLab answered with a note that has no id")
        body = item.get("body")
        # The notes API gives no web address; the job's CI_PROJECT_URL does.
        url = None
        if self.target.web_url:
            url = f"{self.target.web_url}/-/merge_requests/{self.target.iid}#note_{item['id']}"
        return Comment(id=item["id"], body=body if isinstance(body, str) else "", url=url)
