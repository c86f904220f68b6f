"""``reconciler validate PATH...``: check the desired state, listing every problem.

PATHs are files or directories, merged into one desired state as ``plan`` reads them.

It needs no secrets: a ``${VAR}`` naming an unset variable is a warning here (checked for its
syntax, located), while plan, apply and state, which need its value, refuse the file.
"""

from __future__ import annotations

from pathlib import Path

import click

from reconciler.commands.options import desired_paths_argument
from reconciler.config import load_desired_paths
from reconciler.config.inputs import expand_inputs, inputs_label
from reconciler.errors import ConfigErrors
from reconciler.exit_codes import ExitCode


def _plural(count: int, word: str, words: str | None = None) -> str:
    return f"{count} {word if count == 1 else (words or word + 's')}"


@click.command("validate")
@desired_paths_argument()
def validate_command(paths: tuple[Path, ...]) -> ExitCode:
    """Check the desired state in PATHS (files or directories, merged): exit 0 when valid, 1
    listing every error.

    A directory stands for every *.yaml / *.yml file below it (hidden ones skipped); several
    files are merged into one desired state, as plan reads them; no PATHS means
    reconciler.yaml.

    Errors and warnings go to stderr, one located line each (FILE:LINE:COLUMN). ${VAR}
    references are checked for their syntax; one naming an unset variable is only a
    warning, so CI can validate without the secrets that plan, apply and state need.
    """
    files = []
    try:
        files = expand_inputs(paths)
        result = load_desired_paths(paths, warn_unset_env=True)  # as plan reads them
    except ConfigErrors as exc:
        for error in exc.errors:
            click.echo(error.format(), err=True)
        failed = len({error.file for error in exc.errors})
        summary = f"validate: {_plural(len(exc.errors), 'error')} in {_plural(failed, 'file')}"
        if files:
            summary += f" (of {len(files)} checked)"
        click.echo(summary, err=True)
        return ExitCode.ERROR
    for warning in result.warnings:
        click.echo(warning.format(), err=True)
    counts = [_plural(result.instance_count, "instance"), _plural(result.group_count, "group")]
    if result.access_count:
        counts.append(_plural(result.access_count, "access entry", "access entries"))
    click.echo(f"{inputs_label(paths, files)}: valid ({', '.join(counts)})")
    return ExitCode.OK
