"""Several desired-state files as one: merged as plain data, checked once, located per file.

Each file is parsed on its own with the fast path (``fastyaml``); the plain data are then
merged into one document and that document goes through the same checks and the same single
pydantic validation as one big file would, so 100 files of 1,000 GIDs cost about what one file
of 100,000 does. ``Origins`` maps every path of the merged document back to a file and a path
in it, so a problem is located, as always, only once something is wrong, and only in the files
it concerns.

What merging means:

* ``version``, ``provider``, ``backend``, ``defaults`` and ``safety`` stand in one file, or in
  several with the same value; different values are an error at every place they are given;
* ``group_sets`` are shared by all files; a set defined twice is an error at both places;
* an instance may appear in several files, each adding groups (and sets) and access entries
  (identities, permissions, blacklist). Its settings (every field of the instance but its id,
  groups, sets and access) and each access kind's ownership must agree where they are given;
  a GID or an access entry it gets in two files, or a set it includes in two, is an error at
  both places.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from reconciler.config import checks, fastyaml
from reconciler.config.access_checks import ACCESS_LISTS
from reconciler.config.declared import Declarations, InstanceEntry, SetEntry
from reconciler.config.issues import Issue, Loc
from reconciler.config.plain_groups import CheckedGroup
from reconciler.config.schema import AccessSpec, DesiredFile, InstanceSpec

# The top-level blocks that must be the same wherever they are given.
SINGLE_BLOCKS = ("version", "provider", "backend", "defaults", "safety")
# An instance's entries are joined by these fields; every other field is a setting.
_JOINED_FIELDS = frozenset({"id", "include", "groups", "access"})


def instance_settings() -> tuple[str, ...]:
    """The instance fields that must agree across files (all but id, groups and sets)."""
    return tuple(name for name in InstanceSpec.model_fields if name not in _JOINED_FIELDS)


@dataclass(frozen=True, slots=True)
class Placed:
    """An issue at a path of one file; ``related`` places fill its ``{0}``, ``{1}``..."""

    file: int
    loc: Loc
    message: str
    at_key: bool = False
    related: tuple[tuple[int, Loc], ...] = ()
    warning: bool = False


@dataclass
class Origins:
    """Which file each part of the merged document comes from."""

    key_owner: dict[str, int] = field(default_factory=dict)
    set_owner: dict[str, int] = field(default_factory=dict)
    # The merged index where each file's instances start, and that file, in order.
    instance_starts: list[int] = field(default_factory=list)
    instance_owner: list[int] = field(default_factory=list)
    # The file of each merged instance entry.
    instance_files: list[int] = field(default_factory=list)

    def place(self, loc: Loc) -> tuple[int, Loc]:
        """The file and the path in it of a path of the merged document."""
        if not loc:
            return 0, loc
        head = loc[0]
        if head == "instances" and len(loc) > 1 and isinstance(loc[1], int):
            slot = bisect.bisect_right(self.instance_starts, loc[1]) - 1
            if slot >= 0:
                start = self.instance_starts[slot]
                return self.instance_owner[slot], ("instances", loc[1] - start, *loc[2:])
        if head == "group_sets" and len(loc) > 1 and loc[1] in self.set_owner:
            return self.set_owner[str(loc[1])], loc
        return self.key_owner.get(str(head), 0), loc

    def placed(self, issue: Issue) -> Placed:
        file, loc = self.place(issue.loc)
        return Placed(
            file,
            loc,
            issue.message,
            at_key=issue.at_key,
            related=tuple(self.place(other) for other in issue.related),
            warning=issue.warning,
        )


@dataclass
class Merged:
    document: dict[str, Any]
    origins: Origins
    issues: list[Placed]


def merge_documents(documents: Sequence[tuple[int, dict[Any, Any]]]) -> Merged:
    """One document from each file's top-level mapping, with the conflicts between them."""
    origins = Origins()
    issues: list[Placed] = []
    document: dict[str, Any] = {}
    given: dict[str, list[tuple[int, Any]]] = {}
    sets: dict[str, Any] = {}
    set_places: dict[str, list[int]] = {}
    instances: list[Any] = []
    for file, data in documents:
        for key, value in data.items():
            if key == "group_sets" and isinstance(value, dict):
                origins.key_owner.setdefault(key, file)
                for name, entries in value.items():
                    set_places.setdefault(str(name), []).append(file)
                    if name not in sets:
                        sets[name] = entries
                        origins.set_owner[str(name)] = file
            elif key == "instances" and isinstance(value, list):
                origins.key_owner.setdefault(key, file)
                origins.instance_starts.append(len(instances))
                origins.instance_owner.append(file)
                origins.instance_files.extend([file] * len(value))
                instances.extend(value)
            elif key in ("group_sets", "instances"):
                # Not a mapping / list: reported where it is, by the file's own shape check.
                expected = "a mapping" if key == "group_sets" else "a list"
                found = checks.describe_value(value)
                issues.append(Placed(file, (key,), f"expected {expected}, found {found}"))
            else:
                given.setdefault(str(key), []).append((file, value))
    for key, places in given.items():
        origins.key_owner[key] = places[0][0]
        document[key] = places[0][1]
        if key in SINGLE_BLOCKS and any(value != places[0][1] for _, value in places[1:]):
            issues.extend(_everywhere(places, key))
    for name, files in set_places.items():
        if len(files) > 1:
            where = [(file, ("group_sets", name)) for file in files]
            issues.extend(
                _at_each(where, f"group set {name!r} is defined twice: also at {{}}", at_key=True)
            )
    if sets or "group_sets" in origins.key_owner:
        document["group_sets"] = sets
    if instances or "instances" in origins.key_owner:
        document["instances"] = instances
    return Merged(document, origins, issues)


def _everywhere(places: list[tuple[int, Any]], key: str) -> list[Placed]:
    where = [(file, (key,)) for file, _ in places]
    distinct: list[Any] = []  # a list: the values may be mappings, which do not hash
    for _, value in places:
        if value not in distinct:
            distinct.append(value)
    message = (
        f"{key!r} is given in {len(places)} files with {len(distinct)} different values: "
        "here and at {}; "
        "give it in one file, or the same everywhere"
    )
    return _at_each(where, message, at_key=True)


def _at_each(
    where: Sequence[tuple[int, Loc]], template: str, *, at_key: bool = False
) -> list[Placed]:
    """The same problem at each place, each naming all the others."""
    result = []
    for index, (file, loc) in enumerate(where):
        others = tuple(place for other, place in enumerate(where) if other != index)
        placeholders = ", ".join("{" + str(n) + "}" for n in range(len(others)))
        result.append(
            Placed(file, loc, template.replace("{}", placeholders), at_key=at_key, related=others)
        )
    return result


# --- instances across files -------------------------------------------------------------------


def shared_settings(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per instance id, the settings its entries give (the first given of each): what holds
    for an entry of the instance that does not repeat them."""
    found: dict[str, dict[str, Any]] = {}
    settings = instance_settings()
    for entry in _list(document.get("instances")):
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
            continue
        given = found.setdefault(entry["id"], {})
        for setting in settings:
            if setting in entry:
                given.setdefault(setting, entry[setting])
    return found


def instance_conflicts(merged: Merged) -> list[Placed]:
    """Settings that disagree, and GIDs or sets one instance gets in two files."""
    instances = merged.document.get("instances")
    if not isinstance(instances, list):
        return []
    sets = merged.document.get("group_sets")
    sets = sets if isinstance(sets, dict) else {}
    files = merged.origins.instance_files
    by_id: dict[str, list[int]] = {}
    for index, entry in enumerate(instances):
        if isinstance(entry, dict) and isinstance(entry.get("id"), str):
            by_id.setdefault(entry["id"], []).append(index)
    issues: list[Issue] = []
    for instance_id, indexes in by_id.items():
        if len({files[index] for index in indexes}) < 2:
            continue
        entries = [(index, instances[index]) for index in indexes]
        issues.extend(_disagreeing_settings(instance_id, entries))
        issues.extend(_declared_twice(instance_id, entries, files, sets))
    return [merged.origins.placed(issue) for issue in issues]


def _access_ownership(entry: dict[Any, Any]) -> dict[Any, Any]:
    access = entry.get("access")
    ownership = access.get("ownership") if isinstance(access, dict) else None
    return ownership if isinstance(ownership, dict) else {}


def _disagreeing_settings(
    instance_id: str, entries: list[tuple[int, dict[Any, Any]]]
) -> list[Issue]:
    issues: list[Issue] = []
    settings: list[tuple[str, list[tuple[Loc, Any]]]] = [
        (
            setting,
            [
                (("instances", index, setting), entry[setting])
                for index, entry in entries
                if setting in entry
            ],
        )
        for setting in instance_settings()
    ]
    settings.extend(
        (
            f"access ownership of {name}",
            [
                (("instances", index, "access", "ownership", name), _access_ownership(entry)[name])
                for index, entry in entries
                if name in _access_ownership(entry)
            ],
        )
        for name, _, _ in ACCESS_LISTS
    )
    for setting, given in settings:
        if len(given) < 2 or all(value == given[0][1] for _, value in given[1:]):
            continue
        for loc, value in given:
            others = [(other, v) for other, v in given if other != loc]
            elsewhere = ", ".join(f"{v!r} at {{{n}}}" for n, (_, v) in enumerate(others))
            issues.append(
                Issue(
                    loc,
                    f"instance {instance_id!r} has {setting} {value!r} here but {elsewhere}: "
                    "its settings must agree in every file that gives them",
                    related=tuple(other for other, _ in others),
                )
            )
    return issues


def _declared_twice(
    instance_id: str,
    entries: list[tuple[int, dict[Any, Any]]],
    files: Sequence[int],
    sets: dict[Any, Any],
) -> list[Issue]:
    issues: list[Issue] = []
    first_set: dict[str, tuple[int, Loc]] = {}  # name -> (file, place of the include)
    first_gid: dict[str, tuple[int, Loc]] = {}
    first_access: dict[str, dict[str, tuple[int, Loc]]] = {}

    def both(loc: Loc, first: Loc, what: str) -> None:
        template = f"{what} is declared for instance {instance_id!r} in two files: also at {{0}}"
        issues.append(Issue(loc, template, related=(first,)))
        issues.append(Issue(first, template, related=(loc,)))

    def note(table: dict[str, tuple[int, Loc]], name: str, file: int, loc: Loc, what: str) -> None:
        first = table.setdefault(name, (file, loc))
        if first[0] != file:  # within one file, the file's own checks report it
            both(loc, first[1], what)

    for index, entry in entries:
        file = files[index]
        for position, name in enumerate(_list(entry.get("include"))):
            if isinstance(name, str):
                loc: Loc = ("instances", index, "include", position)
                note(first_set, name, file, loc, f"group set {name!r}")
        for position, group in enumerate(_list(entry.get("groups"))):
            gid = _group_id(group)
            if gid is not None:
                loc = ("instances", index, "groups", position)
                note(first_gid, gid, file, loc, f"GID {gid!r}")
        access = entry.get("access")
        for name, key_of, noun in ACCESS_LISTS:
            block = access.get(name) if isinstance(access, dict) else None
            for position, item in enumerate(_list(block)):
                key = key_of(item)
                if key is not None:
                    loc = ("instances", index, "access", name, position)
                    note(first_access.setdefault(name, {}), key, file, loc, f"{noun} {key}")
    # A GID a file lists itself while another file includes a set bringing it.
    for name, (file, include_loc) in first_set.items():
        for group in _list(sets.get(name)):
            gid = _group_id(group)
            first = first_gid.get(gid) if gid is not None else None
            if first is not None and first[0] != file:
                both(include_loc, first[1], f"GID {gid!r} (from group set {name!r})")
    return issues


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _group_id(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("id"), str):
        return str(value["id"])
    return None


# --- after validation -------------------------------------------------------------------------


def join_instances(doc: DesiredFile, origins: Origins) -> DesiredFile:
    """The document with each instance given in several files as one entry (first place
    first): its settings from wherever they are given, its sets and groups one after the
    other. Called only on a valid document, where the settings agree."""
    groups: dict[str, list[int]] = {}
    for index, spec in enumerate(doc.instances):
        groups.setdefault(spec.id, []).append(index)
    files = origins.instance_files
    joined: list[InstanceSpec] = []
    for index, spec in enumerate(doc.instances):
        indexes = groups[spec.id]
        if len({files[i] for i in indexes}) < 2:
            joined.append(spec)
            continue
        if indexes[0] != index:
            continue
        specs = [doc.instances[i] for i in indexes]
        update: dict[str, Any] = {}
        for setting in instance_settings():
            for other in specs:
                if setting in other.model_fields_set:
                    update[setting] = getattr(other, setting)
                    break
        update["include"] = [name for other in specs for name in other.include]
        update["groups"] = [group for other in specs for group in other.groups]
        update["access"] = _joined_access([other.access for other in specs])
        joined.append(spec.model_copy(update=update))
    return doc.model_copy(update={"instances": joined})


def _joined_access(blocks: Sequence[AccessSpec | None]) -> AccessSpec | None:
    """One access block of several files' (each kind's ownership agrees where given)."""
    given = [block for block in blocks if block is not None]
    if not given:
        return None
    ownership = next((b.ownership for b in given if b.ownership is not None), None)
    for block in given:
        if block.ownership is not None and ownership is not None:
            ownership = ownership.model_copy(
                update={
                    name: getattr(block.ownership, name)
                    for name in block.ownership.model_fields_set
                }
            )
    return AccessSpec.model_construct(
        ownership=ownership,
        identities=[item for block in given for item in block.identities],
        permissions=[item for block in given for item in block.permissions],
        blacklist=[item for block in given for item in block.blacklist],
    )


@dataclass(frozen=True, slots=True)
class GroupLines:
    """The line of each group of each instance entry and each set, where the parse gave it."""

    instances: list[Sequence[int] | None]
    sets: dict[str, Sequence[int]]


def group_lines(document: Any, lines: fastyaml.ItemLines) -> GroupLines:
    """Pick, from the item lines the fast path noted, those of the group lists (call it before
    the raw data is freed: the lines are keyed by the lists' ids)."""
    instances: list[Sequence[int] | None] = []
    sets: dict[str, Sequence[int]] = {}
    if not isinstance(document, dict):
        return GroupLines(instances, sets)
    for entry in _list(document.get("instances")):
        groups = entry.get("groups") if isinstance(entry, dict) else None
        found = lines.get(id(groups)) if isinstance(groups, list) else None
        if found is not None and isinstance(groups, list) and len(found) == len(groups):
            instances.append(found)
        else:
            instances.append(None)
    group_sets = document.get("group_sets")
    for name, entries in group_sets.items() if isinstance(group_sets, dict) else ():
        found = lines.get(id(entries)) if isinstance(entries, list) else None
        if found is not None and len(found) == len(entries):
            sets[str(name)] = found
    return GroupLines(instances, sets)


def declarations(
    doc: DesiredFile,
    origins: Origins,
    names: Sequence[str],
    texts: Sequence[str],
    lines: GroupLines | None = None,
) -> Declarations:
    """Where each GID of ``doc`` (not yet joined) is declared."""
    instances = []
    starts = origins.instance_starts
    for index, spec in enumerate(doc.instances):
        slot = bisect.bisect_right(starts, index) - 1
        instances.append(
            InstanceEntry(
                file=origins.instance_owner[slot],
                loc=("instances", index - starts[slot]),
                instance_id=spec.id,
                group_ids=_group_ids(spec.groups),
                include=tuple(spec.include),
                lines=lines.instances[index]
                if lines is not None and index < len(lines.instances)
                else None,
            )
        )
    sets = [
        SetEntry(
            origins.set_owner.get(name, 0),
            name,
            _group_ids(entries),
            lines.sets.get(name) if lines is not None else None,
        )
        for name, entries in doc.group_sets.items()
    ]
    return Declarations(names, texts, instances, sets)


def _group_ids(entries: Iterable[CheckedGroup]) -> tuple[str, ...]:
    return tuple(
        entry if isinstance(entry, str) else entry["id"] if isinstance(entry, dict) else entry.id
        for entry in entries
    )


def single_file_origins(doc: DesiredFile) -> Origins:
    """The origins of a document that is one file."""
    return Origins(
        instance_starts=[0],
        instance_owner=[0],
        instance_files=[0] * len(doc.instances),
        set_owner=dict.fromkeys(doc.group_sets, 0),
    )
