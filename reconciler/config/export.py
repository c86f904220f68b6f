"""Render a desired-state file from what an instance lists, to adopt or to bootstrap from it.

The output is plain, sorted and already in ``fmt``'s canonical form, so exporting twice gives
the same file and ``reconciler validate`` accepts it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from reconciler.models import GROUP_ID_RE

SCHEMA_COMMENT = "# yaml-language-server: $schema={ref}"
# Without a checkout to point at there is no schema path an editor could open: name it instead.
NO_SCHEMA_COMMENT = "# JSON Schema: schemas/desired-state.schema.json in the reconciler source"
DEFAULT_SCHEMA_REF = "schemas/desired-state.schema.json"


@dataclass(frozen=True, slots=True)
class Export:
    text: str
    group_count: int
    skipped: tuple[str, ...]  # listed names this tool's naming rule rejects (written as comments)


def render_export(
    *,
    instance_id: str,
    region: str,
    group_ids: Iterable[str],
    independent_naming: bool | None,
    schema_ref: str | None = DEFAULT_SCHEMA_REF,
) -> Export:
    """The desired-state file declaring exactly ``group_ids`` on one instance."""
    names = sorted(set(group_ids))
    valid = [name for name in names if GROUP_ID_RE.match(name)]
    skipped = tuple(name for name in names if not GROUP_ID_RE.match(name))
    lines = [
        NO_SCHEMA_COMMENT if schema_ref is None else SCHEMA_COMMENT.format(ref=schema_ref),
        f"# Exported from instance {instance_id} ({region}) by `reconciler export`.",
        "version: 1",
        "provider:",
        f"  region: {region}",
        "instances:",
        f"  - id: {instance_id}",
    ]
    if independent_naming is not None:
        lines.append(f"    independent_naming: {'true' if independent_naming else 'false'}")
    lines.append("    groups:" if valid else "    groups: []")
    lines.extend(f"      - {name}" for name in valid)
    for name in skipped:
        # ascii() keeps odd characters from breaking the comment line.
        lines.append(f"      # left out, not a valid Group ID name: {name!a}")
    return Export("\n".join(lines) + "\n", len(valid), skipped)
