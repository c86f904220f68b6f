"""``reconciler force-unlock LOCK_ID [--force]``: break a state lock whose holder is gone.

Asks for confirmation (only ``yes`` confirms) unless ``--force``; without a terminal to ask
on, it refuses rather than guess.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from reconciler.commands.options import config_option, open_state, state_path_option
from reconciler.errors import LockError
from reconciler.exit_codes import ExitCode
from reconciler.render.state import render_force_unlock_prompt, render_force_unlocked
from reconciler.state.base import StateBackend


class ForceUnlockRefusedError(LockError):
    """No confirmation could be had, or it was not given."""


def stdin_is_terminal() -> bool:
    return sys.stdin.isatty()


def force_unlock(backend: StateBackend, lock_id: str, *, confirm: bool) -> None:
    """Break lock ``lock_id``; asks (on the terminal) first when ``confirm``."""
    if confirm:
        if not stdin_is_terminal():
            raise ForceUnlockRefusedError(
                f"refusing to force-unlock {lock_id} without confirmation: there is no terminal "
                "to ask on; re-run with --force if its holder is really gone"
            )
        click.echo(render_force_unlock_prompt(lock_id, backend.lock_holder(), backend.describe()))
        answer = click.prompt("Enter a value", default="", show_default=False)
        if answer.strip() != "yes":
            raise ForceUnlockRefusedError(f"force-unlock of {lock_id} cancelled; nothing changed")
    backend.force_unlock(lock_id)


@click.command("force-unlock")
@click.argument("lock_id", metavar="LOCK_ID")
@click.option("--force", is_flag=True, help="Do not ask for confirmation.")
@config_option("Desired-state file naming the backend.")
@state_path_option
def force_unlock_command(
    *, lock_id: str, force: bool, config: tuple[Path, ...], state_path: Path | None
) -> int:
    """Release the state lock LOCK_ID left by a run that is gone."""
    _, backend = open_state(config, state_path)
    with backend:
        force_unlock(backend, lock_id, confirm=not force)
        label = backend.describe()
    click.echo(render_force_unlocked(lock_id, label), nl=False)
    return ExitCode.OK
