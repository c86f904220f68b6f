"""Which files make up the desired state: the paths given, directories expanded.

A directory stands for every ``*.yaml`` / ``*.yml`` file below it, in sorted order, hidden
files and folders (a name starting with ``.``) skipped. Each file keeps the name it is known
by (the argument as given, joined with its path inside the directory), so errors and saved
plans name it the way the user wrote it; ``base`` lets ``apply PLANFILE`` find the same
names beside the plan when it runs elsewhere.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from reconciler.errors import ConfigError, ConfigErrors

YAML_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True, slots=True)
class InputFile:
    name: str  # as shown in messages and recorded in saved plans
    path: Path  # where it is read from


def expand_inputs(args: Sequence[str | Path], *, base: Path | None = None) -> list[InputFile]:
    """The desired-state files the arguments name; raises ConfigErrors for a missing path or
    a directory holding no YAML file. A file named twice is read once."""
    files: list[InputFile] = []
    seen: set[Path] = set()
    problems: list[ConfigError] = []
    for arg in args:
        shown = str(arg)
        path = Path(arg) if base is None else base / arg
        if path.is_dir():
            found = _yaml_below(path)
            if not found:
                problems.append(
                    ConfigError(
                        "the directory holds no desired-state file (*.yaml or *.yml)", file=shown
                    )
                )
            for relative in found:
                _add(files, seen, InputFile(str(Path(shown) / relative), path / relative))
        elif path.exists():
            _add(files, seen, InputFile(shown, path))
        else:
            problems.append(
                ConfigError("cannot read the file: No such file or directory", file=shown)
            )
    if problems:
        raise ConfigErrors(problems)
    return files


def _add(files: list[InputFile], seen: set[Path], item: InputFile) -> None:
    key = item.path.resolve()
    if key not in seen:
        seen.add(key)
        files.append(item)


def _yaml_below(directory: Path) -> list[Path]:
    found = []
    # os.walk, pruned, rather than rglob: a hidden folder (.git) is never walked at all.
    for root, folders, names in os.walk(directory):
        folders[:] = [folder for folder in folders if not folder.startswith(".")]
        here = Path(root).relative_to(directory)
        for name in names:
            if not name.startswith(".") and name.lower().endswith(YAML_SUFFIXES):
                found.append(here / name)
    return sorted(found, key=lambda path: path.parts)


def inputs_label(args: Sequence[str | Path], files: Sequence[InputFile]) -> str:
    """How the desired state the arguments name is named in one line; a path given twice
    (``gids ./gids``) is named once, as first written."""
    if len(files) == 1:
        return files[0].name
    named: dict[Path, str] = {}
    for arg in args:
        named.setdefault(Path(arg).resolve(), str(arg))
    return f"{' '.join(named.values())} ({len(files)} files)"
