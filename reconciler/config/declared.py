"""Where each GID is declared: ``FILE:LINE`` for the plan's changes, found only when asked.

Loading keeps no positions (the fast path has none), only, per declaring entry, the file it
is in, its path there and the GIDs it lists, in order: about one pointer per GID. When a plan
asks where some GIDs are declared, each file holding one of them is read again with libyaml's
events, composing only the nodes on those paths (about one libyaml scan of that file), so a
plan touching one team's file reads one file, whatever the size of the rest.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from reconciler.config.issues import Loc

# (instance_id, group_id) -> (file, line)
DeclaredKey = tuple[str, str]
Declaration = tuple[str, int]


@dataclass(frozen=True, slots=True)
class InstanceEntry:
    """One entry of ``instances`` in one file."""

    file: int
    loc: Loc  # ("instances", index) in that file
    instance_id: str
    group_ids: tuple[str, ...]  # in the order of ``groups``
    include: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SetEntry:
    file: int
    name: str
    group_ids: tuple[str, ...]  # in the order of the set's list


class Declarations:
    """Answers where GIDs are declared; built by the loader from the validated files."""

    def __init__(
        self,
        names: Sequence[str],
        texts: Sequence[str],
        instances: Sequence[InstanceEntry],
        sets: Sequence[SetEntry],
    ) -> None:
        self._names = tuple(names)
        self._texts = tuple(texts)
        self._instances = tuple(instances)
        self._sets = {entry.name: entry for entry in sets}
        self._index: dict[DeclaredKey, tuple[int, Loc]] | None = None

    @property
    def files(self) -> tuple[str, ...]:
        return self._names

    def where(self, instance_id: str, group_id: str) -> tuple[str, Loc] | None:
        """The file and data path declaring the GID (None: not declared)."""
        found = self._lookup().get((instance_id, group_id))
        return None if found is None else (self._names[found[0]], found[1])

    def locate(self, keys: Collection[DeclaredKey]) -> dict[DeclaredKey, Declaration]:
        """``(file, line)`` of each declared key (keys not declared are left out)."""
        from reconciler.config import locate  # noqa: PLC0415  (only when a plan asks)

        index = self._lookup()
        by_file: dict[int, list[tuple[DeclaredKey, Loc]]] = {}
        for key in keys:
            found = index.get(key)
            if found is not None:
                by_file.setdefault(found[0], []).append((key, found[1]))
        result: dict[DeclaredKey, Declaration] = {}
        for file, wanted in by_file.items():
            try:
                paths = locate.wanted_paths(loc for _, loc in wanted)
                composed = locate.compose(self._texts[file], paths)
            except locate.SyntaxProblem:  # it loaded, so this cannot happen; no line then
                continue
            locator = locate.Locator(composed)
            for key, loc in wanted:
                position = locator.find(loc)
                if position is not None:
                    result[key] = (self._names[file], position.line)
        return result

    def _lookup(self) -> dict[DeclaredKey, tuple[int, Loc]]:
        if self._index is None:
            index: dict[DeclaredKey, tuple[int, Loc]] = {}
            for entry in self._instances:
                groups_loc = (*entry.loc, "groups")
                iid = entry.instance_id
                for position, group_id in enumerate(entry.group_ids):
                    index.setdefault((iid, group_id), (entry.file, (*groups_loc, position)))
            # A GID an instance gets from a set is declared in the set.
            for entry in self._instances:
                for name in entry.include:
                    stamped = self._sets.get(name)
                    if stamped is None:
                        continue
                    for position, group_id in enumerate(stamped.group_ids):
                        index.setdefault(
                            (entry.instance_id, group_id),
                            (stamped.file, ("group_sets", name, position)),
                        )
            self._index = index
        return self._index

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Declarations):
            return NotImplemented
        return self._names == other._names and self._texts == other._texts

    def __hash__(self) -> int:
        return hash(self._names)
