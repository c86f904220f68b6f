"""``reconciler validate PATH...``: check the desired state, listing every problem.

PATHs are files or directories, merged into one desired state as ``plan`` reads them.

It needs no secrets: a ``${VAR}`` naming an unset variable is a warning here (checked for its
syntax, located), while plan, apply and state, which need its value, refuse the file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import click

from reconciler.config import LoadResult, load_desired_paths
from reconciler.config.inputs import expand_inputs, inputs_label
from reconciler.errors import ConfigError, ConfigErrors
from reconciler.exit_codes import ExitCode


@dataclass
class Checked:
    """The outcome of validating one desired state (one file, or several merged)."""

    label: str
    files: int
    result: LoadResult | None = None
    errors: list[ConfigError] = field(default_factory=list)


def check_paths(paths: Sequence[Path]) -> Checked:
    """Load the files and directories ``paths`` as one desired state, as plan would."""
    try:
        files = expand_inputs(paths)
    except ConfigErrors as exc:
        return Checked(" ".join(map(str, paths)), 0, errors=exc.errors)
    label = inputs_label(paths, files)
    try:
        return Checked(label, len(files), result=load_desired_paths(paths, warn_unset_env=True))
    except ConfigErrors as exc:
        return Checked(label, len(files), errors=exc.errors)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def render_check(checked: Checked) -> tuple[list[str], list[str]]:
    """(stdout lines, stderr lines): the valid state's line, each warning and error."""
    out: list[str] = []
    err: list[str] = []
    if checked.result is not None:
        result = checked.result
        err.extend(warning.format() for warning in result.warnings)
        out.append(
            f"{checked.label}: valid ({_plural(result.instance_count, 'instance')}, "
            f"{_plural(result.group_count, 'group')})"
        )
        return out, err
    err.extend(error.format() for error in checked.errors)
    failed = len({error.file for error in checked.errors})
    summary = f"validate: {_plural(len(checked.errors), 'error')} in {_plural(failed, 'file')}"
    if checked.files:
        summary += f" (of {checked.files} checked)"
    err.append(summary)
    return out, err


@click.command("validate")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.pass_context
def validate_command(ctx: click.Context, paths: tuple[Path, ...]) -> int:
    """Check the desired state in PATHS (files or directories, merged): exit 0 when valid, 1
    listing every error.

    A directory stands for every *.yaml / *.yml file below it (hidden ones skipped); several
    files are merged into one desired state, as plan reads them.

    Errors and warnings go to stderr, one located line each (FILE:LINE:COLUMN). ${VAR}
    references are checked for their syntax; one naming an unset variable is only a
    warning, so CI can validate without the secrets that plan, apply and state need.
    """
    checked = check_paths(paths)
    out, err = render_check(checked)
    for line in out:
        click.echo(line)
    for line in err:
        click.echo(line, err=True)
    code = ExitCode.ERROR if checked.errors else ExitCode.OK
    if code:
        ctx.exit(code)
    return code
