"""The root command: every registered subcommand loads and is listed."""

from __future__ import annotations

import click
from click.testing import CliRunner

from reconciler.cli import COMMANDS, cli


def test_every_registered_command_loads_and_is_listed() -> None:
    context = click.Context(cli)
    assert cli.list_commands(context) == sorted(COMMANDS)
    for name in COMMANDS:
        command = cli.get_command(context, name)
        assert isinstance(command, click.Command), name
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    listed = result.output.split("Commands:", 1)[1]
    assert all(f"  {name} " in listed for name in COMMANDS)
