"""Where each GID is declared: ``FILE:LINE`` for the plan's changes.

Loading keeps, per declaring entry, the file it is in, its path there, the GIDs it lists in
order and, when the fast path parsed the file, the line of each (``fastyaml`` notes them as it
builds the lists): about two words per GID. A file the fast path could not build (anchors,
aliases, tags) has no lines; when a plan asks about one of its GIDs, that file is read again
with libyaml's events, composing only the nodes on the paths asked about.
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
    lines: Sequence[int] | None = None  # 0-based line of each group, when the parse gave it


@dataclass(frozen=True, slots=True)
class SetEntry:
    file: int
    name: str
    group_ids: tuple[str, ...]  # in the order of the set's list
    lines: Sequence[int] | None = None


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
        self._by_instance: dict[str, list[InstanceEntry]] | None = None
        # id() of an entry (held above) -> the position of each GID it lists.
        self._positions_of: dict[int, dict[str, int]] = {}

    @property
    def files(self) -> tuple[str, ...]:
        return self._names

    def locate(self, keys: Collection[DeclaredKey]) -> dict[DeclaredKey, Declaration]:
        """``(file, line)`` of each declared key (keys not declared are left out)."""
        by_file: dict[int, list[tuple[DeclaredKey, Loc]]] = {}
        result: dict[DeclaredKey, Declaration] = {}
        for key in keys:
            found = self._find(key)
            if found is None:
                continue
            file, loc, line = found
            if line is not None:
                result[key] = (self._names[file], line + 1)
            else:
                by_file.setdefault(file, []).append((key, loc))
        if by_file:
            result.update(self._located_in_text(by_file))
        return result

    def _find(self, key: DeclaredKey) -> tuple[int, Loc, int | None] | None:
        """Where ``key`` is first declared: in its instance's entries, in order, else in the
        first set one of them includes that lists it."""
        instance_id, group_id = key
        entries = self._entries_of().get(instance_id, ())
        for entry in entries:
            position = self._positions(entry).get(group_id)
            if position is not None:
                return entry.file, (*entry.loc, "groups", position), _line(entry, position)
        for entry in entries:
            for name in entry.include:
                stamped = self._sets.get(name)
                if stamped is None:
                    continue
                position = self._positions(stamped).get(group_id)
                if position is not None:
                    return stamped.file, ("group_sets", name, position), _line(stamped, position)
        return None

    def _positions(self, entry: InstanceEntry | SetEntry) -> dict[str, int]:
        """The position of each GID ``entry`` lists (the first, if one is listed twice).

        A plan asks where its changes are declared: a few keys of each of its instances. Each
        entry's positions are indexed when one of its keys is first asked: a plan of 100,000
        GIDs would otherwise index them all, tens of MB, to place a thousand changes."""
        found = self._positions_of.get(id(entry))
        if found is None:
            found = {}
            for position, group_id in enumerate(entry.group_ids):
                found.setdefault(group_id, position)
            self._positions_of[id(entry)] = found
        return found

    def _entries_of(self) -> dict[str, list[InstanceEntry]]:
        if self._by_instance is None:
            by_instance: dict[str, list[InstanceEntry]] = {}
            for entry in self._instances:
                by_instance.setdefault(entry.instance_id, []).append(entry)
            self._by_instance = by_instance
        return self._by_instance

    def _located_in_text(
        self, by_file: dict[int, list[tuple[DeclaredKey, Loc]]]
    ) -> dict[DeclaredKey, Declaration]:
        """The lines of GIDs in files the fast path noted none for, read from their text."""
        from reconciler.config import locate  # noqa: PLC0415  (only for such files)

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

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Declarations):
            return NotImplemented
        return self._names == other._names and self._texts == other._texts

    def __hash__(self) -> int:
        return hash(self._names)


def _line(entry: InstanceEntry | SetEntry, position: int) -> int | None:
    return None if entry.lines is None else entry.lines[position]
