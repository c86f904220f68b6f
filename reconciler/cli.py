"""The command line: the root group, lazy subcommand loading and the single error handler.

Subcommands live in ``reconciler.commands.<module>`` and are imported only when invoked, so
``reconciler plan`` does not pay for the emulator or PostgreSQL imports.
"""

from __future__ import annotations

import atexit
import gc
import importlib
import logging
import os
import sys
import textwrap
import types
from collections.abc import Callable
from typing import IO, Any, NamedTuple

import click

from reconciler import __version__
from reconciler.collector import collector_paused
from reconciler.errors import ReconcilerError
from reconciler.exit_codes import ExitCode


class CommandEntry(NamedTuple):
    """Where a subcommand lives, and its short help: ``reconciler --help`` lists every command
    without importing any (tests/test_cli.py checks each text equals the command's own)."""

    target: str  # "module:attribute" of a click.Command
    short_help: str


COMMANDS: dict[str, CommandEntry] = {
    "validate": CommandEntry(
        "reconciler.commands.validate:validate_command",
        "Check the desired state in PATHS (files or directories, merged): exit 0 when valid, "
        "1 listing every error.",
    ),
    "fmt": CommandEntry(
        "reconciler.commands.fmt:fmt_command",
        "Rewrite the desired-state files in PATHS (files or directories) in canonical form, "
        "keeping comments.",
    ),
    "export": CommandEntry(
        "reconciler.commands.export:export_command",
        "List an instance's GIDs (or every instance's, with --all) and write a desired-state "
        "file declaring exactly them (through --api onsmqtt, its access rules too).",
    ),
    "plan": CommandEntry(
        "reconciler.commands.plan:plan_command",
        "Show what apply would change to make the cloud match PATHS (desired-state files or "
        "directories).",
    ),
    "show": CommandEntry(
        "reconciler.commands.show:show_command",
        "Render a plan saved with `reconciler plan -o PLANFILE`.",
    ),
    "apply": CommandEntry(
        "reconciler.commands.apply:apply_command",
        "Make the cloud match PATHS (desired-state files or directories) or PLANFILE (a "
        "saved plan).",
    ),
    "state": CommandEntry(
        "reconciler.commands.state:state_group",
        "Inspect and edit the state (what reconciler created or adopted).",
    ),
    "import": CommandEntry(
        "reconciler.commands.import_:import_command",
        "Adopt the existing resource KEY into the state.",
    ),
    "force-unlock": CommandEntry(
        "reconciler.commands.force_unlock:force_unlock_command",
        "Release the state lock LOCK_ID left by a run that is gone.",
    ),
    "ci": CommandEntry(
        "reconciler.commands.ci:ci_group",
        "Steps for CI pipelines (pull/merge request comments).",
    ),
    "inspect": CommandEntry(
        "reconciler.commands.inspect:inspect_group",
        "Ask the service who is online, since when, and how much traffic flows (read-only).",
    ),
    "emulator": CommandEntry(
        "reconciler.commands.emulator:emulator_group",
        "A local emulator of the MQTT management API (for tests, demos and benchmarks).",
    ),
}

# At exit the interpreter's last collections walk every object still alive (the pydantic
# schemas, the typing objects, the plan) only to free memory the process is about to return:
# about a fifth of a small plan's CPU time. Frozen objects are skipped; atexit hooks still run
# and the operating system still closes every file and socket.
atexit.register(gc.freeze)

DEBUG_ENV = "RECONCILER_DEBUG"
# The client's logger (named here, not imported: the root must not load the cloud package).
CLOUD_LOGGER = "reconciler.cloud"


class CommandLineError(click.ClickException):
    """A usage error as one line, exit 1: exit 2 belongs to ``plan --detailed-exitcode``
    ("changes present"), so a CI job must not mistake a typo for a plan with changes."""

    exit_code = ExitCode.ERROR

    def __init__(self, message: str, command_path: str) -> None:
        # click's messages may wrap (a did-you-mean list); the contract is one line.
        one_line = " ".join(message.split()).removesuffix(".")
        super().__init__(f"{one_line} (see '{command_path} --help')")


class MissingCommandError(click.ClickException):
    """A group run without a subcommand: its help on stderr, exit 1 (only --help exits 0)."""

    exit_code = ExitCode.ERROR

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(self.message, file=file, err=file is None)


def _one_line(err: click.UsageError, fallback: click.Context) -> click.ClickException:
    if isinstance(err, click.exceptions.NoArgsIsHelpError):
        return MissingCommandError(err.format_message())
    if err.ctx is not None:
        path = err.ctx.command_path
    else:  # raised by a command body without its context: name the command at least
        sub = fallback.invoked_subcommand
        path = f"{fallback.command_path} {sub}" if sub else fallback.command_path
    return CommandLineError(err.format_message(), path)


class LazyGroup(click.Group):
    """Imports a subcommand only when it runs, and reports every usage error in one line
    with exit 1 (``make_context`` parses the root's arguments, ``invoke`` everything below)."""

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as err:
            context = err.ctx or click.Context(self, info_name=info_name, parent=parent)
            raise _one_line(err, context) from err

    def invoke(self, ctx: click.Context) -> Any:
        try:
            code = super().invoke(ctx)
        except click.UsageError as err:
            raise _one_line(err, ctx) from err
        # Every command returns its ExitCode; click's standalone mode (a test's CliRunner)
        # drops a returned value, so any other code leaves as the Exit both modes honour.
        if isinstance(code, ExitCode) and code is not ExitCode.OK:
            ctx.exit(code)
        return code

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The commands and their short help from the registry: no command module is
        imported for ``reconciler --help``."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(name) for name in names)
        # textwrap, not click's helper: click 8.5 made make_default_short_help private.
        rows = [
            (name, textwrap.shorten(COMMANDS[name].short_help, limit, placeholder="..."))
            for name in names
        ]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        target = entry.target
        module_name, _, attribute = target.partition(":")
        # A command's modules live until exit: the collector would scan them as they are
        # imported (a small plan's start-up spent some 7 ms so) and find nothing to free.
        with collector_paused():
            command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{target} is not a click command")
        _accept_debug(command)
        return command


DEBUG_HELP = f"Log every API call (secrets masked) on stderr; also ${DEBUG_ENV}=1."


def _accept_debug(command: click.Command) -> None:
    """Give ``command`` (and, for a group, every command below it) its own ``--debug``, so
    the flag works after the subcommand as well as before it."""
    if not any(param.name == "debug" for param in command.params):
        command.params.append(
            click.Option(
                ["--debug"],
                is_flag=True,
                expose_value=False,
                callback=_debug_callback,
                help=DEBUG_HELP,
            )
        )
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _accept_debug(sub)


def _debug_callback(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        enable_debug()


def enable_debug() -> None:
    """Log every call from here on (commands ask the logger whether debug is on)."""
    logging.getLogger(CLOUD_LOGGER).setLevel(logging.DEBUG)


@click.group(
    cls=LazyGroup,
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(__version__, prog_name="reconciler")
@click.option("--debug", is_flag=True, envvar=DEBUG_ENV, help=DEBUG_HELP)
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Declarative reconciler for the Group IDs of Alibaba Cloud MQTT instances."""
    if ctx.invoked_subcommand is None:
        raise MissingCommandError(ctx.get_help())
    disable_pydantic_plugins()
    ctx.call_on_close(show_cloud_log(logging.INFO))
    if debug:
        enable_debug()


# pydantic's plugin loader, imported when the first validator is built.
PYDANTIC_PLUGIN_LOADER = "pydantic.plugin._loader"
# The values of PYDANTIC_DISABLE_PLUGINS by which pydantic's loader finds no plugin.
ALL_PLUGINS_DISABLED = frozenset({"__all__", "1", "true"})


def disable_pydantic_plugins() -> None:
    """No pydantic plugins for this tool (it uses none), unless the user says otherwise.

    pydantic scans the entry points of every installed distribution for plugins when it
    builds its first validator (about a tenth of a small plan's run): the variable, set here
    unless already set (even empty: the user's choice), skips the scan. Its loader module is
    imported even so, and imports importlib.metadata (with zipfile, csv and
    importlib.resources: some 5 ms of a small plan) for nothing; with every plugin disabled its
    one function answers "no plugins" without reading anything, so a module answering just
    that stands in for it (tests/plan/test_startup.py builds validators through it).
    """
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    if os.environ["PYDANTIC_DISABLE_PLUGINS"] not in ALL_PLUGINS_DISABLED:
        return
    if PYDANTIC_PLUGIN_LOADER not in sys.modules:
        loader = types.ModuleType(PYDANTIC_PLUGIN_LOADER, "No pydantic plugins (reconciler.cli).")
        vars(loader).update(get_plugins=_no_plugins, __getattr__=_pydantic_loader_attribute)
        sys.modules[PYDANTIC_PLUGIN_LOADER] = loader


def _no_plugins() -> tuple[()]:
    return ()


def _pydantic_loader_attribute(name: str) -> Any:
    """Anything else a pydantic release asks of its loader: from pydantic's own, imported in
    place of the stand-in (a newer release's needs cost the import, never a failure). The
    import system's own questions (``__path__``...) get the plain module's answers."""
    if name.startswith("__"):
        raise AttributeError(name)
    if getattr(sys.modules.get(PYDANTIC_PLUGIN_LOADER), "get_plugins", None) is _no_plugins:
        del sys.modules[PYDANTIC_PLUGIN_LOADER]  # the stand-in, not pydantic's already there
    return getattr(importlib.import_module(PYDANTIC_PLUGIN_LOADER), name)


class _StderrLines(logging.Handler):
    """One line on stderr per record, looked up at each write (tests swap the stream)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # a bad log call must not break a command
            self.handleError(record)
            return
        prefix = "debug: " if record.levelno <= logging.DEBUG else ""
        click.echo(prefix + " ".join(message.splitlines()), err=True)


def show_cloud_log(level: int) -> Callable[[], None]:
    """Show the cloud client's retries and pacing waits (INFO) or every call (DEBUG, the
    client masks secrets) on stderr for one command; returns the undo."""
    logger = logging.getLogger(CLOUD_LOGGER)
    # The logger's level decides (``enable_debug`` lowers it later): the handler passes all.
    handler = _StderrLines()
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(level)

    def undo() -> None:
        logger.removeHandler(handler)
        logger.setLevel(previous)

    return undo


def main(argv: list[str] | None = None) -> Any:
    """Run the CLI; every ReconcilerError becomes one message on stderr and exit 1, anything
    else is a bug: exit 3 with a report for the maintainers."""
    try:
        code = cli.main(args=argv, prog_name="reconciler", standalone_mode=False)
    except ReconcilerError as err:
        click.echo(f"Error: {err}", err=True)
        sys.exit(ExitCode.ERROR)
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("Interrupted.", err=True)
        sys.exit(ExitCode.INTERRUPTED)
    except click.ClickException as err:
        err.show()
        sys.exit(err.exit_code)
    except click.exceptions.Exit as err:
        sys.exit(err.exit_code)
    except Exception as err:  # the one place unexpected errors are reported
        click.echo(f"Error: {describe_bug(err, sys.argv[1:] if argv is None else argv)}", err=True)
        sys.exit(ExitCode.BUG)
    sys.exit(code if isinstance(code, int) else ExitCode.OK)


def describe_bug(error: Exception, argv: list[str]) -> str:
    """Write the bug report and say where it is, in one line (no secret: only the type)."""
    bug = f"this is a bug in reconciler (unexpected {type(error).__name__})"
    try:
        # Imported only for a bug, and inside the try: a broken install is a bug too.
        from reconciler.bug_report import write_bug_report  # noqa: PLC0415

        path = write_bug_report(error, argv)
    except OSError as failure:
        where = f" to {failure.filename}" if failure.filename else ""
        return f"{bug}; its report could not be written{where}: {failure.strerror or failure}"
    except Exception as failure:  # never hide the bug behind a failing report
        return f"{bug}; its report could not be written ({type(failure).__name__})"
    return f"{bug}; please report it with the file {path}"
