"""The process exit codes of every command, in one place.

CI jobs branch on them, so each keeps its meaning across releases: 2 is ``plan
--detailed-exitcode``'s "changes present" (never a usage error), 3 is a bug in reconciler
(never a mistake of the user's), 4 is an apply that left differences it cannot make, 130 is
the shell's code for a run stopped by Ctrl-C.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    ERROR = 1  # a user mistake, a refused or stale plan, an apply with failed actions
    CHANGES = 2  # plan --detailed-exitcode: changes or differences present
    BUG = 3  # an unexpected exception: a report was written for the maintainers
    # apply did what it could, but the cloud still differs from the file in ways no action
    # can make (a GID's topic): a CI job must not go green on it.
    NOT_APPLIED = 4
    INTERRUPTED = 130
