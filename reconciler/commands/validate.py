"""``reconciler validate FILE...``: check desired-state files, listing every problem.

It needs no secrets: a ``${VAR}`` naming an unset variable is a warning here (checked for its
syntax, located), while plan, apply and state, which need its value, refuse the file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import click

from reconciler.config import LoadResult, load_desired_result
from reconciler.errors import ConfigError, ConfigErrors
from reconciler.exit_codes import ExitCode


@dataclass
class FileCheck:
    path: str
    result: LoadResult | None = None
    errors: list[ConfigError] = field(default_factory=list)


def check_files(paths: Sequence[Path]) -> list[FileCheck]:
    checks = []
    for path in paths:
        try:
            result = load_desired_result(path, warn_unset_env=True)
            checks.append(FileCheck(str(path), result=result))
        except ConfigErrors as exc:
            checks.append(FileCheck(str(path), errors=exc.errors))
    return checks


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def render_checks(checks: Sequence[FileCheck]) -> tuple[list[str], list[str]]:
    """(stdout lines, stderr lines): one line per valid file, warning and error."""
    out: list[str] = []
    err: list[str] = []
    for check in checks:
        if check.result is not None:
            err.extend(warning.format() for warning in check.result.warnings)
            out.append(
                f"{check.path}: valid ({_plural(check.result.instance_count, 'instance')}, "
                f"{_plural(check.result.group_count, 'group')})"
            )
        else:
            err.extend(error.format() for error in check.errors)
    failed = [check for check in checks if check.errors]
    if failed:
        count = sum(len(check.errors) for check in failed)
        err.append(
            f"validate: {_plural(count, 'error')} in {_plural(len(failed), 'file')} "
            f"(of {len(checks)} checked)"
        )
    return out, err


@click.command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.pass_context
def validate_command(ctx: click.Context, files: tuple[Path, ...]) -> int:
    """Check desired-state FILEs: exit 0 when all are valid, 1 listing every error.

    Errors and warnings go to stderr, one located line each (FILE:LINE:COLUMN). ${VAR}
    references are checked for their syntax; one naming an unset variable is only a
    warning, so CI can validate without the secrets that plan, apply and state need.
    """
    checks = check_files(files)
    out, err = render_checks(checks)
    for line in out:
        click.echo(line)
    for line in err:
        click.echo(line, err=True)
    code = ExitCode.ERROR if any(check.errors for check in checks) else ExitCode.OK
    if code:
        ctx.exit(code)
    return code
