"""The comments of a GitHub pull request (the issues API: a pull request is an issue)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.ci.http import Answer, ApiSession, Forge
from reconciler.ci.upsert import Comment
from reconciler.errors import CiError

DEFAULT_API_URL = "https://api.github.com"
PER_PAGE = 100
# A comment body may hold at most this many characters.
MAX_BODY = 65_536
# One link of a Link header (RFC 8288): <URL>; params, the params holding rel="next".
_LINK = re.compile(r"<([^>]*)>([^,<]*)")
_REL_NEXT = re.compile(r"""(?:^|;)\s*rel\s*=\s*"?([^";]*)"?""", re.IGNORECASE)


@dataclass(frozen=True)
class GitHubTarget:
    api_url: str
    repository: str  # "owner/name"
    number: int
    token: str
    token_source: str


def github_target(env: Mapping[str, str], number: int | None) -> GitHubTarget:
    """From the variables every GitHub Actions job has; ``number`` (``--pr``) wins over the
    event payload's ``pull_request.number``."""
    repository = env.get("GITHUB_REPOSITORY", "").strip()
    if repository.count("/") != 1 or not all(repository.split("/")):
        raise CiError(
            "GITHUB_REPOSITORY must name the repository as OWNER/NAME "
            f"(it is {'unset' if not repository else repr(repository)})"
        )
    token_source = next((name for name in ("GITHUB_TOKEN", "GH_TOKEN") if env.get(name)), None)
    if token_source is None:
        raise CiError(
            "no token: set GITHUB_TOKEN (in a workflow: env: { GITHUB_TOKEN: "
            "${{ github.token }} } with permissions: pull-requests: write)"
        )
    if number is None:
        number = _number_from_event(env.get("GITHUB_EVENT_PATH", ""))
    return GitHubTarget(
        api_url=env.get("GITHUB_API_URL", "").strip() or DEFAULT_API_URL,
        repository=repository,
        number=number,
        token=env[token_source],
        token_source=token_source,
    )


def _number_from_event(path: str) -> int:
    if not path:
        raise CiError("no pull request number: pass --pr N, or run on a pull_request event")
    try:
        event = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CiError(f"cannot read the event payload GITHUB_EVENT_PATH={path}: {exc}") from exc
    pull_request = event.get("pull_request") if isinstance(event, dict) else None
    number = pull_request.get("number") if isinstance(pull_request, dict) else None
    if not isinstance(number, int) or isinstance(number, bool):
        raise CiError(
            f"the event in GITHUB_EVENT_PATH={path} is not about a pull request "
            "(no pull_request.number): pass --pr N"
        )
    return number


class GitHubComments:
    def __init__(self, target: GitHubTarget) -> None:
        self.target = target
        forge = Forge(
            "GitHub",
            target.token_source,
            f"pull request #{target.number} in {target.repository}",
        )
        self.api = ApiSession(
            forge,
            target.api_url,
            {
                "Authorization": f"Bearer {target.token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
            },
            token=target.token,
        )
        self._issue = f"/repos/{target.repository}/issues"

    def comments(self) -> Iterator[Comment]:
        url: str | None = self.api.url(f"{self._issue}/{self.target.number}/comments")
        params: dict[str, str | int] | None = {"per_page": PER_PAGE}
        while url is not None:
            answer = self.api.call("GET", url, params=params)
            page = answer.document
            if not isinstance(page, list):
                raise CiError("GitHub answered the comment list with something not a list")
            yield from (_comment(item) for item in page)
            # The next page's URL carries the query already.
            url, params = _next_link(answer), None
            if url is not None and not self.api.same_origin(url):
                raise CiError(f"GitHub's next page is on another host ({url}); not following it")

    def create(self, body: str) -> Comment:
        url = self.api.url(f"{self._issue}/{self.target.number}/comments")
        return _comment(self.api.call("POST", url, body={"body": body}).document)

    def update(self, comment_id: int, body: str) -> Comment:
        url = self.api.url(f"{self._issue}/comments/{comment_id}")
        return _comment(self.api.call("PATCH", url, body={"body": body}).document)

    def close(self) -> None:
        self.api.close()


def _next_link(answer: Answer) -> str | None:
    """The URL of the ``Link`` header's ``rel="next"``, if any."""
    for url, params in _LINK.findall(answer.headers.get("link", "")):
        for rel in _REL_NEXT.findall(params):
            if "next" in rel.lower().split():
                return str(url).strip()
    return None


def _comment(item: Any) -> Comment:
    if not isinstance(item, dict) or not isinstance(item.get("id"), int):
        raise CiError("GitHub answered with a comment that has no id")
    body = item.get("body")
    url = item.get("html_url")
    return Comment(
        id=item["id"],
        body=body if isinstance(body, str) else "",
        url=url if isinstance(url, str) else None,
    )
