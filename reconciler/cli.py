"""The command line: the root group, lazy subcommand loading and the single error handler.

Subcommands live in ``reconciler.commands.<module>`` and are imported only when invoked, so
``reconciler plan`` does not pay for the emulator or PostgreSQL imports.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import click

from reconciler import __version__
from reconciler.errors import ReconcilerError

# command name -> "module:attribute" of a click.Command
COMMANDS: dict[str, str] = {
    "validate": "reconciler.commands.validate:validate_command",
    "fmt": "reconciler.commands.fmt:fmt_command",
    "export": "reconciler.commands.export:export_command",
    "plan": "reconciler.commands.plan:plan_command",
    "show": "reconciler.commands.show:show_command",
    "apply": "reconciler.commands.apply:apply_command",
    "state": "reconciler.commands.state:state_group",
    "import": "reconciler.commands.import_:import_command",
    "force-unlock": "reconciler.commands.force_unlock:force_unlock_command",
    "emulator": "reconciler.commands.emulator:emulator_group",
}

EXIT_INTERRUPTED = 130


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, _, attribute = target.partition(":")
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{target} is not a click command")
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="reconciler")
def cli() -> None:
    """Declarative reconciler for the Group IDs of Alibaba Cloud MQTT instances."""


def main(argv: list[str] | None = None) -> Any:
    """Run the CLI; every ReconcilerError becomes one message on stderr and exit 1."""
    try:
        code = cli.main(args=argv, prog_name="reconciler", standalone_mode=False)
    except ReconcilerError as err:
        click.echo(f"Error: {err}", err=True)
        sys.exit(1)
    except click.exceptions.Abort:
        click.echo("Interrupted.", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except click.ClickException as err:
        err.show()
        sys.exit(err.exit_code)
    except click.exceptions.Exit as err:
        sys.exit(err.exit_code)
    except Exception as err:  # the one place unexpected errors are reported
        click.echo(
            f"Error: unexpected {type(err).__name__}: {err}\n"
            "This is a bug in reconciler; run with RECONCILER_TRACEBACK=1 for the traceback.",
            err=True,
        )
        if _want_traceback():
            raise
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)


def _want_traceback() -> bool:
    return os.environ.get("RECONCILER_TRACEBACK", "") not in ("", "0")
