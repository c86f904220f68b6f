"""The desired-state file: its YAML shape, loading with located errors, fmt and export.

Public API::

    load_desired(path) -> DesiredState                    raises ConfigErrors (every problem)
    load_desired_text(text, source="<string>") -> DesiredState
    load_desired_result(path) -> LoadResult               .state and .warnings (unknown regions...)
    load_desired_text_result(text, source) -> LoadResult

May import: models, errors (see ARCHITECTURE.md, layers).
"""

from __future__ import annotations

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
    "load_desired_result",
    "load_desired_text",
    "load_desired_text_result",
]
