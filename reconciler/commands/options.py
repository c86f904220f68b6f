"""Command-line options and small helpers that several commands share.

One definition per option keeps the spelling, defaults and help text the same in every
command: ``-c/--config``, ``--endpoint``, ``--format``, ``--no-color``, the state lock
(``--lock[=BOOL]``, ``--no-lock``, ``--lock-timeout``) and the plan guards. Only click is
imported at module level: ``reconciler plan --help`` should not pay for the state backends.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import click

if TYPE_CHECKING:
    from reconciler.models import DesiredState
    from reconciler.plan.model import Plan
    from reconciler.plan.options import PlanOptions, Target
    from reconciler.state.base import LockInfo, OnWait, StateBackend

DEFAULT_CONFIG = "reconciler.yaml"

F = Callable[..., Any]
Decorator = Callable[[F], F]


# --- the desired-state file and the backend it names ------------------------------------------


def config_option(
    help: str = "Desired-state file (or directory) naming the backend (and the instances' "
    "regions); repeat it for a desired state split across several.",
    *,
    default: str | None = DEFAULT_CONFIG,
) -> Decorator:
    """``-c/--config PATH`` (default ``reconciler.yaml``; repeatable, merged as plan merges
    its PATHS), passed as ``config: tuple[Path, ...]``; a directory is the desired state split
    across its files. With ``default=None`` the option is ``()`` when not given (the command
    says in ``help`` what it does then)."""
    return click.option(
        "-c",
        "--config",
        "config",
        multiple=True,
        default=(default,) if default is not None else (),
        show_default=default is not None,
        type=click.Path(path_type=Path),
        help=help,
    )


def desired_paths_argument(*, exists: bool = False) -> Decorator:
    """``[PATHS]...``: desired-state files or directories, passed as ``paths: tuple[Path, ...]``;
    none given means ``reconciler.yaml``, as ``-c/--config`` defaults to."""

    def default(ctx: click.Context, param: click.Parameter, value: tuple[Path, ...]) -> object:
        return value or (default_config(f"{ctx.command_path} PATH..."),)

    return click.argument(
        "paths",
        nargs=-1,
        type=click.Path(exists=exists, path_type=Path),
        callback=default,
    )


def default_config(usage: str) -> Path:
    """``reconciler.yaml`` in the current directory, or the one error every command gives
    when it is missing (``usage``: how this command names another)."""
    path = Path(DEFAULT_CONFIG)
    if not path.exists():
        raise click.ClickException(
            f"{DEFAULT_CONFIG} not found in {Path.cwd()}: name the desired state ({usage})"
        )
    return path


def open_state(
    config: Sequence[Path], state_path: Path | None = None
) -> tuple[DesiredState, StateBackend]:
    """Load the desired state of ``-c/--config`` and open the backend it names (or
    ``--state``'s file)."""
    desired = load_config(config)
    return desired, state_backend(desired, config, state_path)


def load_config(config: Sequence[Path]) -> DesiredState:
    """Load the ``-c/--config`` files; when the default name is missing, say how to name one
    (someone running ``state list`` in the wrong directory does not know the default)."""
    from reconciler.config import load_desired_paths  # noqa: PLC0415

    if [str(path) for path in config] == [DEFAULT_CONFIG]:
        config = [default_config("-c/--config PATH")]
    return load_desired_paths(config).state


def state_backend(
    desired: DesiredState, inputs: Sequence[Path], state_path: Path | None = None
) -> StateBackend:
    """Open the backend ``desired`` (read from ``inputs``) names, or the local file
    ``state_path`` (``--state``); a relative local path is relative to the cwd. A lock error
    names the force-unlock command that reaches this same backend."""
    import shlex  # noqa: PLC0415

    from reconciler.state import open_backend  # noqa: PLC0415

    backend = open_backend(with_state_path(desired, state_path).backend, base_dir=Path.cwd())
    backend.force_unlock_options = config_arguments(inputs) + (
        f" --state {shlex.quote(str(state_path))}" if state_path is not None else ""
    )
    return backend


def config_arguments(inputs: Sequence[Path]) -> str:
    """``-c PATH`` for each of ``inputs``, quoted for a shell; nothing for the default."""
    import shlex  # noqa: PLC0415

    if [str(path) for path in inputs] == [DEFAULT_CONFIG]:
        return ""
    return "".join(f" -c {shlex.quote(str(path))}" for path in inputs)


def with_state_path(desired: DesiredState, state_path: Path | None) -> DesiredState:
    """``desired`` with its backend replaced by the local file ``state_path`` (``--state``),
    so that everything naming the state (a plan's ``state_source``) names that file. Refused
    for a file whose backend is PostgreSQL: a workspace is chosen there."""
    from reconciler.models import LocalBackendConfig  # noqa: PLC0415

    if state_path is None:
        return desired
    config = desired.backend
    if not isinstance(config, LocalBackendConfig):
        raise click.UsageError(
            f"--state names a local state file, but {desired.source or 'the file'} keeps "
            f"its state in {config.kind} (backend: {config.kind}); choose another "
            f"{config.kind} workspace there instead"
        )
    return desired.model_copy(update={"backend": LocalBackendConfig(path=str(state_path))})


def state_path_option(function: F) -> F:
    """``--state PATH``, passed as ``state_path: Path | None``: the local state file to use
    instead of the one the file's ``backend:`` names (one state per desired state)."""
    return click.option(
        "--state",
        "state_path",
        default=None,
        metavar="PATH",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Local state file to use (default: the file's backend, else .reconciler/state.json).",
    )(function)


# --- endpoint and output ----------------------------------------------------------------------


def endpoint_option(
    help: str = "API endpoint URL, or 'embedded'; overrides the file and $RECONCILER_ENDPOINT.",
) -> Decorator:
    """``--endpoint URL``, passed as ``endpoint: str | None``."""
    return click.option("--endpoint", default=None, metavar="URL", help=help)


def output_file_option(help: str) -> Decorator:
    """``-o/--out FILE``, passed as ``out: Path | None``; a missing directory is a usage
    error found before any work is done, not after a whole plan or listing."""
    return click.option(
        "-o",
        "--out",
        "out",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        callback=writable_place,
        help=help,
    )


def writable_place(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    if value is None:
        return None
    directory = value.parent
    if not directory.is_dir():
        raise click.BadParameter(
            f"cannot write {value}: the directory {directory} does not exist", ctx=ctx, param=param
        )
    return value


def check_plan_out(out: Path | None, inputs: Sequence[Path]) -> None:
    """Before any work: refuse to save a plan over one of the desired ``inputs`` (or a YAML
    file below an input directory, which the next run would read), or over an existing file
    that is not a saved plan; a plan saved before is replaced."""
    if out is None:
        return
    target = out.resolve()
    for given in inputs:
        source = given.resolve()
        inside = source.is_dir() and target.is_relative_to(source)
        if target == source or (inside and target.suffix.lower() in (".yaml", ".yml")):
            raise click.BadParameter(
                f"{out} is a desired-state input; save the plan to another file",
                param_hint="-o/--out",
            )
    if out.exists() and not _is_saved_plan(out):
        raise click.BadParameter(
            f"{out} exists and is not a saved plan; refusing to overwrite it",
            param_hint="-o/--out",
        )


def _is_saved_plan(path: Path) -> bool:
    import json  # noqa: PLC0415

    try:
        document = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return False
    return isinstance(document, dict) and "format_version" in document and "changes" in document


def write_file(path: Path, text: str) -> None:
    """Write a file the user named; a failure is one line naming the path."""
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise click.ClickException(f"cannot write {path}: {exc.strerror or exc}") from exc


def format_option(choices: Sequence[str]) -> Decorator:
    """``--format`` among ``choices`` (the first is the default), passed as ``output_format``."""
    return click.option(
        "--format",
        "output_format",
        type=click.Choice(list(choices)),
        default=choices[0],
        show_default=True,
        help="Output format.",
    )


def no_color_option(function: F) -> F:
    """``--no-color``, passed as ``no_color: bool``; see ``use_color``."""
    return click.option("--no-color", is_flag=True, help="No colours (NO_COLOR works too).")(
        function
    )


def use_color(no_color: bool, stream: object | None = None) -> bool:
    """Colour only on a terminal, never with --no-color or NO_COLOR (no-color.org)."""
    if no_color or os.environ.get("NO_COLOR", ""):
        return False
    return is_terminal(stream if stream is not None else sys.stdout)


def is_terminal(stream: object) -> bool:
    try:
        return bool(stream.isatty())  # type: ignore[attr-defined]
    except (AttributeError, ValueError):  # not a stream, or a closed one
        return False


# --- the state lock ---------------------------------------------------------------------------


def lock_timeout_option(function: F) -> F:
    """``--lock-timeout DURATION``, passed as ``lock_timeout: float`` (seconds)."""
    return click.option(
        "--lock-timeout",
        default="0s",
        show_default=True,
        metavar="DURATION",
        callback=_duration,
        help="Wait this long for the state lock (e.g. 30s, 5m, 1m30s).",
    )(function)


class StrictBool(click.ParamType[bool]):
    """true/false (also 1/0, yes/no, on/off, any case), and an error that says so: click's
    BOOL lists its whole vocabulary, the empty string first."""

    name = "boolean"
    _VALUES: ClassVar[Mapping[str, bool]] = {
        "true": True, "1": True, "yes": True, "on": True,
        "false": False, "0": False, "no": False, "off": False,
    }  # fmt: skip

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> bool:
        if isinstance(value, bool):
            return value
        found = self._VALUES.get(str(value).strip().lower())
        if found is None:
            self.fail(f"{value!r}: expected true or false", param, ctx)
        return found


STRICT_BOOL = StrictBool()


def lock_options(help: str = "Take the state lock while reading.") -> Decorator:
    """``--lock[=BOOL]`` (so ``--lock=false`` works, as in Terraform), ``--no-lock`` (the
    same as ``--lock=false``) and ``--lock-timeout``; the command receives ``lock: bool``
    (already combined with ``--no-lock``) and ``lock_timeout: float``."""

    def decorate(function: F) -> F:
        @functools.wraps(function)
        def with_lock(*args: Any, lock: bool, no_lock: bool, **kwargs: Any) -> Any:
            return function(*args, lock=lock and not no_lock, **kwargs)

        decorated = lock_timeout_option(with_lock)
        decorated = click.option(
            "--no-lock",
            "no_lock",
            is_flag=True,
            help="Do not take the state lock (same as --lock=false).",
        )(decorated)
        return click.option(
            "--lock",
            "lock",
            type=STRICT_BOOL,
            default=True,
            is_flag=False,
            flag_value=True,
            metavar="[BOOL]",
            help=f"{help}  [default: true]",
        )(decorated)

    return decorate


def lock_wait_printer() -> OnWait:
    """An ``on_wait`` for the lock that says on stderr who we wait for, once per holder (the
    backend calls it before every retry)."""
    from reconciler.state.locking import format_waiting  # noqa: PLC0415

    seen: set[str | None] = set()

    def on_wait(holder: LockInfo | None) -> None:
        marker = holder.id if holder is not None else None
        if marker not in seen:
            seen.add(marker)
            click.echo(format_waiting(holder), err=True)

    return on_wait


def _duration(ctx: click.Context, param: click.Parameter, value: str) -> float:
    from reconciler.duration import parse_duration  # noqa: PLC0415

    try:
        return parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from exc


# --- plan guards (plan, and apply of a desired file) ----------------------------------------


@dataclass(frozen=True)
class GuardFlags:
    """The flags that narrow a plan or override its safety guards."""

    targets: tuple[Target, ...] = ()
    allow_protected_delete: tuple[str, ...] = ()
    allow_online_delete: bool = False
    skip_online_check: bool = False
    allow_mass_delete: bool = False
    allow_empty: bool = False

    def given(self) -> list[str]:
        """The flags that were set, spelled as on the command line."""
        flags = (
            ("--target", self.targets),
            ("--allow-protected-delete", self.allow_protected_delete),
            ("--allow-online-delete", self.allow_online_delete),
            ("--skip-online-check", self.skip_online_check),
            ("--allow-mass-delete", self.allow_mass_delete),
            ("--allow-empty", self.allow_empty),
        )
        return [flag for flag, value in flags if value]

    def unmatched_warnings(self, plan: Plan) -> list[str]:
        """A warning for each ``--allow-protected-delete KEY`` that overrides nothing in
        ``plan`` (a typo, or a GID no longer deleted): silently ignoring it hides the typo."""
        from reconciler.plan.model import GuardKind  # noqa: PLC0415

        protected = {
            str(change.key)
            for change in plan.changes
            if any(guard.kind is GuardKind.PROTECTED for guard in change.guards)
        }
        return [
            f"warning: --allow-protected-delete {key} matches no protected delete in this plan"
            for key in self.allow_protected_delete
            if key not in protected
        ]

    def plan_options(self, *, refresh_only: bool = False) -> PlanOptions:
        from reconciler.plan.options import PlanOptions  # noqa: PLC0415

        return PlanOptions(
            targets=self.targets,
            refresh_only=refresh_only,
            allow_protected_delete=frozenset(self.allow_protected_delete),
            allow_online_delete=self.allow_online_delete,
            skip_online_check=self.skip_online_check,
            allow_mass_delete=self.allow_mass_delete,
            allow_empty=self.allow_empty,
        )


def guard_options(function: F) -> F:
    """``--target``, ``--allow-protected-delete``, ``--allow-online-delete``,
    ``--skip-online-check``, ``--allow-mass-delete`` and ``--allow-empty``, passed as one
    ``guards: GuardFlags``."""

    @functools.wraps(function)
    def with_guards(*args: Any, **kwargs: Any) -> Any:
        guards = GuardFlags(**{field.name: kwargs.pop(field.name) for field in fields(GuardFlags)})
        return function(*args, guards=guards, **kwargs)

    return stacked(
        click.option(
            "--target",
            "targets",
            multiple=True,
            metavar="KEY",
            callback=_targets,
            help="Plan only INSTANCE_ID/KEY (a GID, or an access entry as state list writes "
            "it), or a whole INSTANCE_ID (repeatable).",
        ),
        click.option(
            "--allow-protected-delete",
            multiple=True,
            metavar="KEY",
            callback=_keys,
            help="Allow deleting this protected INSTANCE_ID/GROUP_ID (repeatable).",
        ),
        click.option(
            "--allow-online-delete", is_flag=True, help="Allow deleting GIDs with online clients."
        ),
        click.option(
            "--skip-online-check",
            is_flag=True,
            help="Do not look up online clients before deletes.",
        ),
        click.option(
            "--allow-mass-delete", is_flag=True, help="Override the delete circuit breaker."
        ),
        click.option(
            "--allow-empty",
            is_flag=True,
            help="Allow a desired state declaring no instance to delete managed GIDs.",
        ),
    )(with_guards)


def stacked(*decorators: Decorator) -> Decorator:
    """The decorators applied as if written one above another, the first on top."""
    return lambda function: functools.reduce(lambda f, d: d(f), reversed(decorators), function)


def _keys(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> tuple[str, ...]:
    if not values:
        return values  # no need to load the models
    from reconciler.models import parse_key_text  # noqa: PLC0415

    for value in values:
        try:
            parse_key_text(value)
        except ValueError as exc:
            raise click.BadParameter(str(exc), ctx=ctx, param=param) from exc
    return values


def _targets(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> tuple[Target, ...]:
    from reconciler.errors import PlanError  # noqa: PLC0415
    from reconciler.plan.options import parse_targets  # noqa: PLC0415

    try:
        return parse_targets(values)
    except PlanError as exc:
        raise click.BadParameter(str(exc).removeprefix("--target "), ctx=ctx, param=param) from exc
