"""Saved plan files: the JSON document, its schema, loading, and explaining staleness.

The document is the Plan model's JSON plus two derived fields a CI job can read without our
code: ``summary`` (counts per action) and ``appliable`` (false when a guard refuses). Loading
drops both and validates the rest against the model. A saved plan also carries ``digest``, the
sha256 of the rest, so an edit of the file is found (``digest_problem``): it is not a signature
(anyone with this code can compute it), which is why apply also plans again and compares
(``plan.replan``). The plan holds no secret by construction: no credentials or endpoints, only
names, digests, reasons and where the state was (``StateBackend.describe``: a DSN by host,
port, dbname and user, never its password).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from reconciler.atomicfile import write_atomic
from reconciler.errors import PlanError, PlanRefusedError
from reconciler.models import DesiredState, InstanceInventory, StateDocument
from reconciler.plan.desired_summary import explain_desired_change, name_list
from reconciler.plan.model import PLAN_FORMAT_VERSION, Plan, PlanSummary
from reconciler.schemadoc import schema_document

DERIVED_FIELDS = ("summary", "appliable")
DIGEST_FIELD = "digest"
# Recorded only to explain a stale plan: saved plan files carry them, --format json does not.
EXPLANATION_FIELDS = ("inventory_group_ids", "desired_instances", "desired_safety")
SCHEMA_ID = "urn:reconciler:schema:plan"


def plan_document(plan: Plan, *, include_inventory: bool = True) -> dict[str, Any]:
    """The saved-plan JSON as a dict; ``include_inventory=False`` leaves out the listed and
    declared GIDs (``--format json`` on stdout), which only serve to explain a stale plan."""
    if not plan.desired_digest:
        # A plan made only to be shown (``PlanMeta.recorded`` false): as a document it would
        # be a saved plan no staleness check could judge.
        raise ValueError("a plan made only to be shown has no document")
    exclude = {DIGEST_FIELD} if include_inventory else {DIGEST_FIELD, *EXPLANATION_FIELDS}
    document = plan.model_dump(mode="json", exclude=exclude)
    if include_inventory:
        document[DIGEST_FIELD] = content_digest(document)
    document["summary"] = plan.summary.model_dump(mode="json")
    document["appliable"] = not plan.refusals()
    return document


def content_digest(document: Mapping[str, Any]) -> str:
    """sha256 of a plan document's canonical JSON, leaving out the digest itself and the
    derived fields (loading recomputes those)."""
    content = {
        name: value
        for name, value in document.items()
        if name != DIGEST_FIELD and name not in DERIVED_FIELDS
    }
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def digest_problem(plan: Plan, source: str) -> str | None:
    """Why ``plan`` (loaded from ``source``) is not the document reconciler wrote: no digest,
    or one its content no longer matches. None when it is."""
    if plan.digest is None:
        return f"{source} has no digest (it was edited): plan again and apply the new plan"
    if content_digest(plan.model_dump(mode="json")) != plan.digest:
        return (
            f"{source} was edited after it was made (its content no longer matches its "
            "digest): plan again and apply the new plan as written"
        )
    return None


def dumps_plan(plan: Plan, *, include_inventory: bool = True) -> str:
    return json.dumps(plan_document(plan, include_inventory=include_inventory), indent=2) + "\n"


def save_plan(plan: Plan, path: str | Path) -> Path:
    """Write atomically (temp file, fsync, rename) so a reader never sees half a plan."""
    target = Path(path)
    try:
        write_atomic(target, dumps_plan(plan))
    except OSError as exc:
        raise PlanError(f"cannot write plan file {target}: {exc.strerror or exc}") from exc
    return target


def load_plan(path: str | Path) -> Plan:
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise PlanError(f"cannot read plan file {source}: {exc.strerror or exc}") from exc
    return loads_plan(text, str(source))


def loads_plan(text: str, source: str = "<plan>") -> Plan:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PlanError(
            f"{source}:{exc.lineno}:{exc.colno}: not a plan file (invalid JSON: {exc.msg})"
        ) from exc
    if not isinstance(document, dict) or "format_version" not in document:
        raise PlanError(f"{source}: not a plan file (no format_version)")
    version = document["format_version"]
    if not isinstance(version, int) or isinstance(version, bool):
        raise PlanError(f"{source}: not a plan file (format_version is not a number)")
    if version < PLAN_FORMAT_VERSION:
        raise PlanError(
            f"{source}: plan format version {version} is older than this reconciler's "
            f"({PLAN_FORMAT_VERSION}): plan again and apply the new plan"
        )
    if version != PLAN_FORMAT_VERSION:
        raise PlanError(
            f"{source}: plan format version {version} is newer than this reconciler reads "
            f"({PLAN_FORMAT_VERSION}): use a newer reconciler"
        )
    for name in DERIVED_FIELDS:
        document.pop(name, None)
    try:
        return Plan.model_validate(document)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"]) or "<root>"
        raise PlanError(f"{source}: not a valid plan file: {where}: {error['msg']}") from exc


def ensure_appliable(plan: Plan) -> None:
    """Raise PlanRefusedError naming every refusing guard and the flag that overrides it."""
    refusals = plan.refusals()
    if refusals:
        raise PlanRefusedError(
            [
                f"{g.subject + ': ' if g.subject else ''}{g.message}"
                + (f" (override: {g.override})" if g.override else "")
                for g in refusals
            ]
        )


def plan_json_schema() -> dict[str, Any]:
    """JSON Schema of the saved-plan document (the model plus the derived fields)."""
    schema = schema_document(
        Plan,
        schema_id=SCHEMA_ID,
        title="reconciler saved plan",
        description="Output of `reconciler plan -o FILE` and `reconciler plan --format json` "
        "(which leaves out inventory_group_ids).",
    )
    summary = PlanSummary.model_json_schema(mode="serialization")
    schema.setdefault("$defs", {})["PlanSummary"] = summary
    schema["properties"]["summary"] = {"$ref": "#/$defs/PlanSummary"}
    schema["properties"]["appliable"] = {
        "type": "boolean",
        "description": "false when a guard refuses the plan; apply refuses it too",
    }
    schema["required"] = sorted({*schema.get("required", ()), "format_version", "summary"})
    return schema


# --- staleness ------------------------------------------------------------------------------


def check_fresh(
    plan: Plan,
    desired: DesiredState,
    state: StateDocument | None,
    inventories: Mapping[str, InstanceInventory],
    *,
    workspace: str | None = None,
    state_backend: str | None = None,
) -> list[str]:
    """Every reason ``plan`` no longer matches the world; empty when it may be applied.
    ``state_backend`` describes the state read now (``StateBackend.describe``).

    ``inventories`` maps ``REGION/INSTANCE_ID`` to what the cloud lists now. The plan's
    snapshot of the world and the current one are compared; when they differ, deepdiff says
    where, and each difference becomes a sentence; a changed inventory lists the GIDs that
    appeared or vanished.
    """
    then = _snapshot_of_plan(plan, workspace)
    now = _snapshot_now(plan, desired, state, inventories, workspace)
    if then == now:
        return []
    from deepdiff import DeepDiff  # noqa: PLC0415  (slow import; only to explain a stale plan)

    diff = DeepDiff(then, now, view="tree")
    changed_paths: set[tuple[str, ...]] = set()
    for report in ("values_changed", "type_changes", "dictionary_item_added"):
        for level in diff.get(report, ()):
            changed_paths.add(tuple(str(part) for part in level.path(output_format="list")))

    reasons: list[str] = []
    if ("workspace",) in changed_paths:
        reasons.append(
            f"the plan was made for workspace {plan.workspace!r}, but this is workspace "
            f"{workspace!r}"
        )
    if ("state_lineage",) in changed_paths and plan.state_lineage is None:
        reasons.append(
            f"the plan was made on an empty state, but the state now exists (lineage "
            f"{now['state_lineage']}, serial {now['state_serial']})"
        )
    elif ("state_lineage",) in changed_paths and state is None:
        reasons.append(_missing_state_reason(plan, state_backend))
    elif ("state_lineage",) in changed_paths:
        reasons.append(
            f"the state lineage changed from {plan.state_lineage} to {now['state_lineage']}: "
            "it is a different state" + _both_places(plan.state_backend, state_backend)
        )
    elif ("state_serial",) in changed_paths:
        reasons.append(
            f"the state serial moved from {plan.state_serial} to {now['state_serial']} since "
            "the plan (another apply or a state command ran)"
        )
    digest_changed = ("desired_digest",) in changed_paths
    if plan.desired_files != desired.files:
        reasons.extend(_file_reasons(plan, desired, explained=digest_changed))
    if digest_changed:
        reasons.append(_desired_reason(plan, desired))
    for label in sorted(plan.inventory_fingerprints):
        if ("inventory", label) in changed_paths:
            reasons.append(_inventory_reason(plan, label, inventories.get(label)))
    return reasons


def _missing_state_reason(plan: Plan, state_backend: str | None) -> str:
    """A plan made on a state, applied where there is none: say where each was, most often
    a relative local path read from another directory."""
    here = f" at {state_backend}" if state_backend else ""
    then = f" at {plan.state_backend}" if plan.state_backend else ""
    return (
        f"no state was found{here}; the plan was made on the state{then} (lineage "
        f"{plan.state_lineage}, serial {plan.state_serial}): apply where that state is found "
        "(the directory the plan was made in, for a relative local path)"
    )


def _both_places(then: str | None, now: str | None) -> str:
    if then is None or now is None or then == now:
        return ""
    return f" (the plan's was at {then}; this one is at {now})"


def _snapshot_of_plan(plan: Plan, workspace: str | None) -> dict[str, Any]:
    return {
        "workspace": plan.workspace if workspace is not None else None,
        "state_lineage": plan.state_lineage,
        "state_serial": plan.state_serial,
        "desired_digest": plan.desired_digest,
        "desired_files": dict(plan.desired_files),
        "inventory": dict(plan.inventory_fingerprints),
    }


def _snapshot_now(
    plan: Plan,
    desired: DesiredState,
    state: StateDocument | None,
    inventories: Mapping[str, InstanceInventory],
    workspace: str | None,
) -> dict[str, Any]:
    lineage = state.lineage if state is not None else None
    serial = state.serial if state is not None else 0
    # A plan made on no state stays fresh while nothing was written (serial 0).
    if plan.state_lineage is None and serial == 0:
        lineage = None
    return {
        "workspace": workspace,
        "state_lineage": lineage,
        "state_serial": serial,
        "desired_digest": desired.digest(),
        "desired_files": dict(desired.files),
        "inventory": {
            label: inventories[label].fingerprint() if label in inventories else None
            for label in plan.inventory_fingerprints
        },
    }


def _file_reasons(plan: Plan, desired: DesiredState, *, explained: bool) -> list[str]:
    """Each desired-state file that changed, appeared or disappeared since the plan. A single
    file whose change ``_desired_reason`` explains (``explained``) is left to it."""
    then, now = plan.desired_files, desired.files
    reasons = []
    for name in sorted(then.keys() | now.keys()):
        if name not in now:
            reasons.append(f"{name} disappeared since the plan (it was one of its files)")
        elif name not in then:
            reasons.append(f"{name} appeared since the plan (it was not one of its files)")
        elif then[name] != now[name] and not (explained and name == plan.desired_source):
            reasons.append(f"{name} changed since the plan")
    return reasons


def _desired_reason(plan: Plan, desired: DesiredState) -> str:
    source = plan.desired_source or "the desired-state file"
    parts = (
        explain_desired_change(plan.desired_instances, plan.desired_safety, desired)
        if plan.desired_instances or plan.desired_safety is not None
        else []
    )
    if parts:
        return f"{source} changed since the plan: {'; '.join(parts)}"
    # A plan saved without the record (or a change it does not cover): the digests only.
    return (
        f"{source} changed since the plan (digest {plan.desired_digest[:12]} is now "
        f"{desired.digest()[:12]})"
    )


def _inventory_reason(plan: Plan, label: str, now: InstanceInventory | None) -> str:
    if now is None:
        return f"instance {label} was not listed now"
    before = plan.inventory_group_ids.get(label)
    if before is None:
        return f"the GIDs of instance {label} changed since the plan"
    current = now.group_ids()
    appeared = sorted(current - set(before))
    vanished = sorted(set(before) - current)
    parts = []
    if appeared:
        parts.append(f"appeared: {name_list(appeared)}")
    if vanished:
        parts.append(f"vanished: {name_list(vanished)}")
    return f"the GIDs of instance {label} changed since the plan ({'; '.join(parts)})"
