"""``reconciler fmt PATH... [--check] [--diff]``: rewrite files in canonical form.

PATHs are files or directories (every YAML file below them), checked as one desired state.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import click

from reconciler.atomicfile import write_atomic
from reconciler.commands.options import desired_paths_argument
from reconciler.config import load_desired_paths
from reconciler.config.fmt import format_text
from reconciler.config.inputs import expand_inputs
from reconciler.config.loader import read_text
from reconciler.errors import ConfigError, ConfigErrors
from reconciler.exit_codes import ExitCode


@dataclass
class Formatted:
    path: Path
    original: str = ""
    formatted: str = ""
    errors: list[ConfigError] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return not self.errors and self.original != self.formatted


def format_paths(paths: Sequence[Path]) -> list[Formatted]:
    """The canonical text of every file ``paths`` name (directories: every YAML file below).

    They are checked as one desired state, as plan reads them; a file with an error located
    in it is not formatted (its errors instead), the others are.
    """
    try:
        files = expand_inputs(paths)
    except ConfigErrors as exc:
        return [Formatted(Path(error.file or "."), errors=[error]) for error in exc.errors]
    errors: dict[str, list[ConfigError]] = {}
    try:
        # ${VAR} is left alone: formatting must work without the CI secrets.
        load_desired_paths(paths, expand_env=False)
    except ConfigErrors as exc:
        for error in exc.errors:
            errors.setdefault(error.file or "", []).append(error)
    results = []
    for item in files:
        if item.name in errors:
            results.append(Formatted(item.path, errors=errors.pop(item.name)))
            continue
        try:
            text = read_text(item.path)
            results.append(Formatted(item.path, text, format_text(text, item.name)))
        except ConfigErrors as exc:
            results.append(Formatted(item.path, errors=exc.errors))
    # Errors no file is named for (none expected): still shown, still a failure.
    results.extend(Formatted(Path(name or "."), errors=rest) for name, rest in errors.items())
    return results


def unified_diff(item: Formatted) -> str:
    name = str(item.path)
    return "".join(
        difflib.unified_diff(
            item.original.splitlines(keepends=True),
            item.formatted.splitlines(keepends=True),
            fromfile=f"{name} (original)",
            tofile=f"{name} (formatted)",
        )
    )


def _plural(count: int) -> str:
    return f"{count} file" + ("" if count == 1 else "s")


def summary(results: Sequence[Formatted], *, write: bool, unwritable: int = 0) -> str:
    changed = sum(1 for item in results if item.changed) - unwritable
    same = sum(1 for item in results if not item.changed and not item.errors)
    invalid = sum(1 for item in results if item.errors)
    verb = "reformatted" if write else "would be reformatted"
    parts = [f"{_plural(changed)} {verb}", f"{_plural(same)} left unchanged"]
    if invalid:
        parts.append(f"{_plural(invalid)} invalid (not formatted)")
    if unwritable:
        parts.append(f"{_plural(unwritable)} not written")
    return "fmt: " + ", ".join(parts)


@click.command("fmt")
@desired_paths_argument()
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if a file would change.")
@click.option("--diff", "show_diff", is_flag=True, help="Write nothing; print a unified diff.")
def fmt_command(paths: tuple[Path, ...], check: bool, show_diff: bool) -> ExitCode:
    """Rewrite the desired-state files in PATHS (files or directories) in canonical form,
    keeping comments.

    A directory stands for every *.yaml / *.yml file below it (hidden ones skipped); the files
    are checked as one desired state, and a file with an error in it is not touched; no
    PATHS means reconciler.yaml.

    GIDs are sorted within each instance and group set, `{id: GID_x}` becomes `GID_x`, keys
    take the canonical order and indentation is two spaces. Invalid files are not touched.
    """
    write = not (check or show_diff)
    results = format_paths(paths)
    unwritable = 0
    for item in results:
        for error in item.errors:
            click.echo(error.format(), err=True)
        if not item.changed:
            continue
        if show_diff:
            click.echo(unified_diff(item), nl=False)
        if check:
            click.echo(f"would reformat {item.path}", err=True)
        if write:
            try:
                write_atomic(item.path, item.formatted, mode=item.path.stat().st_mode & 0o7777)
            except OSError as exc:
                unwritable += 1
                click.echo(f"{item.path}: cannot write the file: {exc.strerror or exc}", err=True)
                continue
            click.echo(f"reformatted {item.path}", err=True)
    click.echo(summary(results, write=write, unwritable=unwritable), err=True)
    failed = (
        unwritable > 0
        or any(item.errors for item in results)
        or (check and any(item.changed for item in results))
    )
    if failed:
        return ExitCode.ERROR
    return ExitCode.OK
