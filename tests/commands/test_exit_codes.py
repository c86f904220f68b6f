"""Every command says how it ended with an ``ExitCode``: the one table CI jobs branch on."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Iterator

import click

from reconciler.cli import COMMANDS, cli
from reconciler.exit_codes import ExitCode


def leaf_commands() -> Iterator[tuple[str, click.Command]]:
    context = click.Context(cli)
    pending: list[tuple[str, click.Command]] = [
        (name, command)
        for name in COMMANDS
        if (command := cli.get_command(context, name)) is not None
    ]
    while pending:
        name, command = pending.pop()
        if isinstance(command, click.Group):
            pending.extend((f"{name} {sub}", cmd) for sub, cmd in command.commands.items())
        else:
            yield name, command


def test_every_command_returns_an_exit_code() -> None:
    found = dict(leaf_commands())
    assert {"apply", "inspect group", "ci comment", "state list", "emulator serve"} <= set(found)
    for name, command in found.items():
        callback = inspect.unwrap(command.callback)  # type: ignore[arg-type]
        returns = typing.get_type_hints(callback).get("return")
        assert returns is ExitCode, f"reconciler {name} returns {returns}"
