"""The desired-state file: its YAML shape, loading with located errors, fmt and export.

Public API::

    load_desired(path) -> DesiredState                    raises ConfigErrors (every problem)
    load_desired_text(text, source="<string>") -> DesiredState
    load_desired_result(path) -> LoadResult               .state and .warnings (unknown regions...)
    load_desired_text_result(text, source) -> LoadResult
    load_desired_paths([FILE_OR_DIR, ...]) -> LoadResult  several files merged into one state;
                                                          .declarations says where GIDs are

May import: models, errors (see ARCHITECTURE.md, layers).
"""

from __future__ import annotations

from reconciler.config.files import load_desired_paths
from reconciler.config.issues import ConfigWarning
from reconciler.config.loader import (
    LoadResult,
    load_desired,
    load_desired_result,
    load_desired_text,
    load_desired_text_result,
)

__all__ = [
    "ConfigWarning",
    "LoadResult",
    "load_desired",
    "load_desired_paths",
    "load_desired_result",
    "load_desired_text",
    "load_desired_text_result",
]
