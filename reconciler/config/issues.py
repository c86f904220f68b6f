"""Problems found in a desired-state file before they are located in its text.

Checks work on data, not text, so they describe *where* as a path of keys and indexes
(``("instances", 2, "groups", 5, "id")``). The loader turns each ``Issue`` into a located
``ConfigError`` (or a ``ConfigWarning``) once it knows line and column.
"""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.errors import format_located

Loc = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem at ``loc``.

    ``message`` may hold ``{0}``, ``{1}``... placeholders, replaced by where each ``related``
    location is ("line 4, column 7" once located, else its path). ``at_key`` points at the key of
    a mapping entry rather than at its value (unknown keys, duplicate keys).
    """

    loc: Loc
    message: str
    at_key: bool = False
    related: tuple[Loc, ...] = ()
    warning: bool = False


@dataclass(frozen=True, slots=True)
class ConfigWarning:
    """Something suspicious that does not stop a load (for example an unknown region)."""

    message: str
    file: str | None = None
    line: int | None = None
    column: int | None = None
    path: str | None = None

    def format(self) -> str:
        return format_located(
            f"warning: {self.message}",
            file=self.file,
            line=self.line,
            column=self.column,
            path=self.path,
        )

    def __str__(self) -> str:
        return self.format()


def format_loc(loc: Loc) -> str:
    """``("instances", 2, "groups", 5, "id")`` -> ``instances[2].groups[5].id``."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif text:
            text += f".{part}"
        else:
            text = str(part)
    return text
