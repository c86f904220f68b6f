"""Where ``reconciler inspect`` asks and how it answers: its options (gathered as one
``Asked``), the region, instance and API they and the desired file name (``Located``), and the
``Runtime`` (clock, sleep, wall clock, rates) a test passes as the click context's ``obj``."""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from reconciler.commands.options import (
    DEFAULT_CONFIG,
    config_option,
    endpoint_option,
    no_color_option,
    stacked,
    use_color,
)
from reconciler.models import (
    APIS,
    DEFAULT_API,
    DEFAULT_REGION,
    GROUP_ID_RE,
    Api,
    DesiredInstance,
    DesiredState,
    client_id_problem,
)

if TYPE_CHECKING:
    from reconciler.inspect.queries import Target
    from reconciler.models import ProviderConfig
    from reconciler.ratelimit import Rate

F = Callable[..., Any]
FORMATS = ("text", "json", "csv")
STDIN = "-"


@dataclass
class Runtime:
    """Clock, sleep and rates (action -> limit) of the session's client registry, and the
    wall clock ranges are read against; tests pass their own as the click context's ``obj``
    so a minute of pacing takes no real time."""

    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    wall_ms: Callable[[], int] = field(default=lambda: int(time.time() * 1000))
    rate_limits: Mapping[str, Rate | None] | None = None


@dataclass(frozen=True)
class Asked:
    """The options every command takes (``common_options`` gathers them): where to ask,
    how to answer."""

    config: tuple[Path, ...]
    region: str | None
    endpoint: str | None
    api: Api | None  # click.Choice(APIS) lets no other value through
    instance_id: str | None
    output_format: str
    no_color: bool

    @property
    def color(self) -> bool:
        return use_color(self.no_color, sys.stdout)


@dataclass(frozen=True)
class Located:
    """What a command asks about: the file's settings, the region and instance, the API."""

    desired: DesiredState | None
    provider: ProviderConfig
    declared: list[DesiredInstance]
    target: Target
    api: Api
    endpoint: str | None


# --- options --------------------------------------------------------------------------------


def common_options(function: F) -> F:
    """``-c/--config``, ``--region``, ``--endpoint``, ``--api``, ``--format``, ``--no-color``,
    passed with the command's ``instance_id`` as one ``asked: Asked``."""

    @functools.wraps(function)
    def with_asked(*args: Any, **kwargs: Any) -> Any:
        asked = Asked(**{f.name: kwargs.pop(f.name) for f in fields(Asked)})
        return function(*args, asked=asked, **kwargs)

    return stacked(
        config_option(
            f"Desired-state file (or directory) for region, endpoint, credentials profile and "
            f"state [default: {DEFAULT_CONFIG} when present].",
            default=None,
        ),
        click.option(
            "--region",
            default=None,
            help="Region [default: the instance's in the file, else the file's, "
            f"else {DEFAULT_REGION}].",
        ),
        endpoint_option(),
        click.option(
            "--api",
            type=click.Choice(APIS),
            default=None,
            help="The instance's API: ons (ONS 2019-02-14) or onsmqtt (OnsMqtt 2020-04-20) "
            f"[default: the instance's api in the file, else provider.api, else {DEFAULT_API}].",
        ),
        click.option(
            "--format",
            "output_format",
            type=click.Choice(FORMATS),
            default="text",
            show_default=True,
            help="text for people; json or csv (data only) for scripts.",
        ),
        no_color_option,
    )(with_asked)


def instance_option(
    required_help: str = "Instance id [default: the file's only instance].",
) -> Callable[[F], F]:
    return click.option("--instance", "instance_id", default=None, metavar="ID", help=required_help)


def range_options(function: F) -> F:
    @functools.wraps(function)
    def with_range(
        *args: Any, since: str | None, start: str | None, end: str | None, **kwargs: Any
    ) -> Any:
        from reconciler.inspect.timespec import TimeSpecError, resolve_range  # noqa: PLC0415

        runtime = current_runtime()
        try:
            begin_ms, end_ms = resolve_range(
                since=since, start=start, end=end, now_ms=runtime.wall_ms()
            )
        except TimeSpecError as exc:
            raise click.UsageError(str(exc)) from exc
        return function(*args, begin_ms=begin_ms, end_ms=end_ms, **kwargs)

    return stacked(
        click.option("--no-chart", is_flag=True, help="Print the numbers, not a chart."),
        click.option(
            "--since",
            default=None,
            metavar="T",
            help="Range from T to now [default: 24h]. T: 30m, 6h, 7d, ISO 8601 or epoch ms.",
        ),
        click.option("--from", "start", default=None, metavar="T", help="Start of the range."),
        click.option(
            "--to", "end", default=None, metavar="T", help="End of the range [default: now]."
        ),
    )(with_range)


def group_id_callback(ctx: click.Context, param: click.Parameter, value: str) -> str:
    if not GROUP_ID_RE.match(value):
        raise click.BadParameter(
            f"{value!r} is not a Group ID: GID_ or GID- then letters, digits, '-' and '_' "
            "(7 to 64 characters)",
            ctx=ctx,
            param=param,
        )
    return value


def client_id_callback(ctx: click.Context, param: click.Parameter, value: str) -> str:
    problem = client_id_problem(value)
    if problem is not None:
        raise click.BadParameter(problem, ctx=ctx, param=param)
    return value


def read_client_ids(source: str) -> list[str]:
    """The ids of FILE or standard input (``-``); a bad line is a usage error naming it."""
    from reconciler.inspect.clientids import ClientIdListError, parse_client_ids  # noqa: PLC0415

    name = "<stdin>" if source == STDIN else source
    try:
        with click.open_file(source, "rb") as stream:
            raw = stream.read()
    except OSError as exc:
        raise click.UsageError(f"cannot read {name}: {exc.strerror or exc}") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise click.UsageError(f"{name}: not UTF-8 text (byte {exc.start + 1})") from exc
    try:
        return parse_client_ids(text, source=name)
    except ClientIdListError as exc:
        raise click.UsageError(str(exc)) from exc


def current_runtime() -> Runtime:
    found = click.get_current_context().find_object(Runtime)
    return found if found is not None else Runtime()


def _load_desired(config: tuple[Path, ...]) -> DesiredState | None:
    """The ``-c`` files; the default name only when it exists (inspect needs no file)."""
    from reconciler.commands.options import load_config  # noqa: PLC0415

    if not config:
        default = Path(DEFAULT_CONFIG)
        if not default.is_file():
            return None
        config = (default,)
    return load_config(config)


def locate(asked: Asked) -> Located:
    """The region, instance and API a command asks about: the options, else the file's."""
    from reconciler.inspect.queries import Target  # noqa: PLC0415
    from reconciler.models import ProviderConfig  # noqa: PLC0415

    desired = _load_desired(asked.config)
    provider = desired.provider if desired is not None else ProviderConfig()
    declared = list(desired.instances) if desired is not None else []
    instance_id = asked.instance_id
    if instance_id is None and len(declared) == 1:
        instance_id = declared[0].instance_id
    # Region and API: the options, else the declared instance's, else the provider's.
    settings = next((i for i in declared if i.instance_id == instance_id), provider)
    target = Target(asked.region or settings.region, instance_id)
    api = asked.api or settings.api
    return Located(desired, provider, declared, target, api, asked.endpoint)


def several_declared(located: Located) -> str | None:
    """What to say when no ``--instance`` was given where one is needed and the file declares
    several instances (with one, it is the default): which they are, and to pick one."""
    declared = located.declared
    if located.target.instance_id is not None or len(declared) < 2 or located.desired is None:
        return None
    shown = [instance.instance_id for instance in declared[:_IDS_SHOWN]]
    if len(declared) > _IDS_SHOWN:
        shown.append(f"{len(declared) - _IDS_SHOWN} more")
    source = located.desired.source or "the file"
    listed = ", ".join(shown)
    return f"{source} declares {len(declared)} instances ({listed}): name one with --instance"


_IDS_SHOWN = 5
