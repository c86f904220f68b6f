"""A state write that stores only what changed: one journal entry, and reading entries back.

``StateBackend.append`` stores a ``StateChanges`` (resources put, keys dropped, perhaps a new
binding) as one ``JournalEntry`` with the serial it makes, instead of rewriting the whole
document; every reader applies the entries after the document's serial. A stored entry is read
as strictly as a document (``state/document.py``): a key given twice, a wrong type, an unknown
field, a missing kind, another lineage or a serial out of sequence is an error naming the
entry, never resolved.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pydantic import Field, ValidationError

from reconciler.models import (
    FrozenModel,
    ResourceKey,
    StateBinding,
    StateDocument,
    StateResource,
    resource_sort_key,
)
from reconciler.state.document import (
    StateFormatError,
    first_problem,
    refuse_missing_kind,
    refuse_repeated_keys,
)

# When either backend's journal is folded into the document (written whole, the journal
# cleared): at the end of a run when the journal holds at least 1/FOLD_SHARE of the
# document's size, so a fold
# of D bytes follows at least D/FOLD_SHARE bytes of changes and writes cost O(change) over
# time; and at once past JOURNAL_FOLD_BYTES, since every reader applies the journal (4 MB of
# entries read about as long as a whole document of 100,000 resources is written).
FOLD_SHARE = 8
JOURNAL_FOLD_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class StateChanges:
    """What one write changes: ``binding`` replaces the recorded one unless None; ``put``
    adds or replaces resources, then ``drop`` removes keys."""

    lineage: str
    binding: StateBinding | None = None
    put: tuple[StateResource, ...] = ()
    drop: tuple[ResourceKey, ...] = ()


class JournalEntry(FrozenModel):
    """One stored ``StateChanges``: the state at ``serial`` is the state at ``serial - 1``
    with these changes."""

    lineage: str
    serial: int = Field(ge=1)
    binding: StateBinding | None = None
    put: tuple[StateResource, ...] = ()
    drop: tuple[ResourceKey, ...] = ()

    @classmethod
    def of(cls, changes: StateChanges, serial: int) -> JournalEntry:
        return cls(
            lineage=changes.lineage,
            serial=serial,
            binding=changes.binding,
            put=changes.put,
            drop=changes.drop,
        )


def parse_entry(text: str, *, where: str) -> JournalEntry:
    """One entry stored as JSON ``text``; ``where`` names it (``journal F line N``)."""
    try:
        entry = JournalEntry.model_validate_json(text, strict=True)
    except ValidationError as exc:
        error = exc.errors()[0]
        if error["type"] == "json_invalid":
            raise StateFormatError(f"{where} is corrupt: not valid JSON") from exc
        raise StateFormatError(f"{where} is corrupt: {first_problem(exc, None)}") from exc
    refuse_repeated_keys(text, where)
    refuse_missing_kind(entry.put, where, field="put")
    for index, key in enumerate(entry.drop):
        if "kind" not in key.model_fields_set:
            raise StateFormatError(
                f"{where} is corrupt: drop[{index}] ({key}): kind: Field required"
            )
    return entry


def applied(document: StateDocument, entries: Iterable[tuple[str, JournalEntry]]) -> StateDocument:
    """``document`` with the entries after its serial applied in order; each comes with where
    it is stored. Entries at or below the document's serial were folded into it already (a
    fold that stopped before clearing its journal leaves them) and are skipped; the others must
    continue its lineage and serial one by one."""
    resources: dict[tuple[str, str, str, str], StateResource] | None = None
    binding = document.binding
    serial = document.serial
    for where, entry in entries:
        if entry.serial <= document.serial:
            continue
        if entry.lineage != document.lineage:
            raise StateFormatError(
                f"{where} is corrupt: lineage {entry.lineage} is not the state's "
                f"({document.lineage})"
            )
        if entry.serial != serial + 1:
            raise StateFormatError(
                f"{where} is corrupt: serial {entry.serial} does not follow {serial}"
            )
        serial = entry.serial
        if resources is None:
            resources = {resource_sort_key(r): r for r in document.resources}
        for resource in entry.put:
            resources[resource_sort_key(resource)] = resource
        for key in entry.drop:
            resources.pop(key.sort_key(), None)
        if entry.binding is not None:
            binding = entry.binding
    if resources is None:
        return document
    ordered = tuple(resources[key] for key in sorted(resources))
    return document.model_copy(update={"serial": serial, "binding": binding, "resources": ordered})
