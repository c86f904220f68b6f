"""Find the comment carrying our marker and edit it, or post a new one: one per request.

Contract: a ``CommentThread`` is the comments of one pull or merge request. ``comments()``
yields them oldest first, every page; ``create`` and ``update`` return the stored comment.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

DEFAULT_MARKER = "reconciler-plan"
_MARKER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,99}")


@dataclass(frozen=True)
class Comment:
    id: int
    body: str
    url: str | None = None


class CommentThread(Protocol):
    def comments(self) -> Iterator[Comment]: ...

    def create(self, body: str) -> Comment: ...

    def update(self, comment_id: int, body: str) -> Comment: ...


class Outcome(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"  # the comment already said exactly this: no write


@dataclass(frozen=True)
class Upserted:
    comment: Comment
    outcome: Outcome


def valid_marker(name: str) -> bool:
    """Letters, digits and ``._:/-``: the name sits inside an HTML comment, so ``--`` and
    ``>`` must not reach it."""
    return _MARKER_NAME.fullmatch(name) is not None and "--" not in name


def marker_line(name: str) -> str:
    """Hidden when rendered; how the comment is found again on the next push."""
    return f"<!-- {name} -->"


def with_marker(body: str, name: str) -> str:
    return f"{marker_line(name)}\n{body}"


def upsert_comment(thread: CommentThread, body: str, marker: str) -> Upserted:
    """Edit the newest comment carrying ``marker`` to say ``body`` (marked), or post one."""
    line = marker_line(marker)
    found: Comment | None = None
    for comment in thread.comments():
        # The marker is the first line we write; a comment merely quoting it does not count.
        if comment.body.split("\n", 1)[0].strip() == line:
            found = comment
    marked = with_marker(body, marker)
    if found is None:
        return Upserted(thread.create(marked), Outcome.CREATED)
    if found.body.replace("\r\n", "\n") == marked:
        return Upserted(found, Outcome.UNCHANGED)
    return Upserted(thread.update(found.id, marked), Outcome.UPDATED)
