"""``${VAR}`` references, expanded from the environment in the few documented places.

Only ``provider.endpoint``, ``provider.profile`` and ``backend.postgres.dsn`` are expanded, so a
secret can stay in the CI environment instead of the file. ``$${`` writes a literal ``${``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

INTERPOLATED_FIELDS = ("provider.endpoint", "provider.profile", "backend.postgres.dsn")

_TOKEN = re.compile(r"\$\$\{|\$\{([^}]*)(\}?)")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def interpolate(
    text: str, env: Mapping[str, str], *, unset: list[str] | None = None
) -> tuple[str, list[str]]:
    """Expand every ``${NAME}``; returns the text and one message per problem (empty: fine).

    With ``unset`` given, a variable that is not set is no problem: its name is added to
    ``unset`` and its reference left as written (``validate`` checks a file without secrets).
    """
    if "${" not in text:
        return text, []
    problems: list[str] = []

    def expand(match: re.Match[str]) -> str:
        if match.group(0) == "$${":
            return "${"
        name, closed = match.group(1), match.group(2)
        if not closed:
            problems.append("unclosed '${' (write '${NAME}', or '$${' for a literal '${')")
            return ""
        if not _NAME.fullmatch(name):
            problems.append(f"'${{{name}}}' is not a valid environment variable reference")
            return ""
        if name not in env:
            if unset is not None:
                unset.append(name)
                return match.group(0)
            problems.append(f"environment variable {name} is not set")
            return ""
        return env[name]

    return _TOKEN.sub(expand, text), problems
