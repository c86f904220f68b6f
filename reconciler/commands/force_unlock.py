"""``reconciler force-unlock LOCK_ID [--force]``: break a state lock whose holder is gone.

Asks for confirmation (only ``yes`` confirms) unless ``--force``; without a terminal to ask
on, it refuses rather than guess. A holder still running is warned about: the PostgreSQL
backend can break its lock, and the holder then stops before its next call or state write.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from reconciler.commands.options import config_option, open_state, state_path_option
from reconciler.errors import LockError
from reconciler.exit_codes import ExitCode
from reconciler.render.state import (
    render_force_unlock_prompt,
    render_force_unlocked,
    render_live_holder_warning,
)
from reconciler.state.base import LockInfo, StateBackend, may_be_alive


class ForceUnlockRefusedError(LockError):
    """No confirmation could be had, or it was not given."""


def stdin_is_terminal() -> bool:
    return sys.stdin.isatty()


def force_unlock(backend: StateBackend, lock_id: str, *, confirm: bool) -> None:
    """Break lock ``lock_id``; asks (on the terminal) first when ``confirm``. A holder still
    running is named: in the prompt, in the refusal without a terminal, and in a warning
    under ``--force`` (a backend that cannot break it refuses by itself)."""
    holder = backend.lock_holder()
    live = _live_holder(backend, holder, lock_id)
    if confirm:
        if not stdin_is_terminal():
            if live is not None:
                raise ForceUnlockRefusedError(
                    f"refusing to force-unlock {lock_id} without confirmation: its holder "
                    f"{live.holder_label()} is still running and there is no terminal to ask "
                    "on; re-run with --force to stop it"
                )
            raise ForceUnlockRefusedError(
                f"refusing to force-unlock {lock_id} without confirmation: there is no terminal "
                "to ask on; re-run with --force if its holder is really gone"
            )
        click.echo(
            render_force_unlock_prompt(lock_id, holder, backend.describe(), live=live is not None)
        )
        answer = click.prompt("Enter a value", default="", show_default=False)
        if answer.strip() != "yes":
            raise ForceUnlockRefusedError(f"force-unlock of {lock_id} cancelled; nothing changed")
    elif live is not None:
        click.echo(render_live_holder_warning(lock_id, live), err=True, nl=False)
    backend.force_unlock(lock_id)


def _live_holder(backend: StateBackend, holder: LockInfo | None, lock_id: str) -> LockInfo | None:
    """The holder of ``lock_id`` when it is still running and the backend can break it."""
    if holder is None or holder.id != lock_id or not backend.breaks_live_locks:
        return None
    return holder if may_be_alive(holder) else None


@click.command("force-unlock")
@click.argument("lock_id", metavar="LOCK_ID")
@click.option("--force", is_flag=True, help="Do not ask for confirmation.")
@config_option("Desired-state file naming the backend.")
@state_path_option
def force_unlock_command(
    *, lock_id: str, force: bool, config: tuple[Path, ...], state_path: Path | None
) -> ExitCode:
    """Release the state lock LOCK_ID left by a run that is gone."""
    _, backend = open_state(config, state_path)
    with backend:
        force_unlock(backend, lock_id, confirm=not force)
        label = backend.describe()
    click.echo(render_force_unlocked(lock_id, label), nl=False)
    return ExitCode.OK
