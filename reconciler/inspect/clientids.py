"""Client ids as people write them: one ``GROUP_ID@@@DEVICE_ID`` to a line of a file or of
standard input, blank lines and ``#`` comments skipped."""

from __future__ import annotations

from reconciler.models import client_id_problem

COMMENT = "#"


class ClientIdListError(ValueError):
    """A list of client ids that cannot be asked about; the message is located
    (``FILE:LINE:COLUMN: ...``)."""


def parse_client_ids(text: str, *, source: str) -> list[str]:
    """The client ids of ``text`` in order, each once. Every line is checked before anything
    is asked: the first bad one is reported with where it is, and how many more there are."""
    found: dict[str, None] = {}
    bad: list[tuple[int, int, str]] = []
    for number, line in enumerate(text.splitlines(), 1):
        value = line.strip()
        if not value or value.startswith(COMMENT):
            continue
        problem = client_id_problem(value)
        if problem is None:
            found[value] = None
        else:
            column = len(line) - len(line.lstrip()) + 1
            bad.append((number, column, problem))
    if bad:
        number, column, problem = bad[0]
        more = ""
        if len(bad) > 1:
            lines = ", ".join(str(n) for n, _, _ in bad[1:6]) + (", ..." if len(bad) > 6 else "")
            more = f" (and {len(bad) - 1} more bad lines: {lines})"
        raise ClientIdListError(f"{source}:{number}:{column}: {problem}{more}")
    if not found:
        raise ClientIdListError(f"{source}: no client ids (one GROUP_ID@@@DEVICE_ID a line)")
    return list(found)
