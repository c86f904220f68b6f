"""The secrets this process read from the environment or files for its resources (a leaf any
layer may use): ``config`` notes each identity secret it reads, the bug report masks them.

A bug report masks what it can know by itself (secret-looking variables, options, profiles);
an identity's secret may come from a variable of any name or from a file, so the reader says.
"""

from __future__ import annotations

_READ: set[str] = set()


def note_secret(value: str) -> None:
    """Remember ``value`` as a secret for the rest of the process."""
    if value:
        _READ.add(value)


def secrets_read() -> tuple[str, ...]:
    """Every secret noted so far."""
    return tuple(_READ)
