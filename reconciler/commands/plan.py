"""``reconciler plan FILE``: refresh, diff, guard, and show what apply would do.

Exit codes: 0 success (with ``--detailed-exitcode``: no changes), 1 error or a plan refused by
a guard, 2 changes present (``--detailed-exitcode`` only). A refused plan is still printed in
full, and still written with ``-o`` (marked ``"appliable": false``) so the artifact a CI job
keeps is the truth; ``apply`` refuses it.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import click

from reconciler.commands.options import (
    GuardFlags,
    endpoint_option,
    format_option,
    guard_options,
    lock_options,
    lock_wait_printer,
    no_color_option,
    output_file_option,
    use_color,
)
from reconciler.errors import ReconcilerError
from reconciler.plan.options import DEFAULT_PARALLELISM
from reconciler.render.formats import PLAN_FORMATS, render_plan

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CHANGES = 2


@dataclass(frozen=True)
class PlanRequest:
    file: Path
    output_format: str = "text"
    out: Path | None = None
    detailed_exitcode: bool = False
    guards: GuardFlags = field(default_factory=GuardFlags)
    refresh_only: bool = False
    endpoint: str | None = None
    lock: bool = True
    lock_timeout: float = 0.0
    color: bool = False
    parallelism: int = DEFAULT_PARALLELISM


def run_plan(request: PlanRequest, *, echo: Callable[[str, bool], None]) -> int:
    """Plan ``request.file``; ``echo(text, to_stderr)`` writes. Returns the exit code."""
    # A large estate allocates a few hundred thousand small objects that all live until the
    # end; the cyclic collector would rescan them again and again (measured: about a third of
    # the wall time at 100,000 GIDs) and find nothing to free. It is off for the run only.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _run_plan(request, echo)
    finally:
        if gc_was_enabled:
            gc.enable()


def _run_plan(request: PlanRequest, echo: Callable[[str, bool], None]) -> int:
    from reconciler.commands.context import run_context  # noqa: PLC0415
    from reconciler.state.locking import hold_lock  # noqa: PLC0415

    def say(message: str) -> None:
        echo(message, True)

    options = request.guards.plan_options(refresh_only=request.refresh_only)
    with run_context(
        request.file, endpoint=request.endpoint, note=say, targets=request.guards.targets
    ) as run:
        lock = (
            hold_lock(
                run.backend, "plan", timeout=request.lock_timeout, on_wait=lock_wait_printer()
            )
            if request.lock
            else nullcontext()
        )
        with lock:
            built = run.make_plan(
                options, run.backend.read, progress=say, parallelism=request.parallelism
            )

    plan = built.plan
    echo(
        render_plan(plan, request.output_format, color=request.color, plan_file=request.out),
        False,
    )
    refusals = plan.refusals()
    for warning in request.guards.unmatched_warnings(plan):
        say(warning)
    if request.out is not None:
        from reconciler.plan.planfile import save_plan  # noqa: PLC0415

        save_plan(plan, request.out)
        if refusals:
            say(f"Saved the plan to {request.out}; it is refused, so apply will not run it.")
        elif plan.has_changes:
            say(f"Saved the plan to {request.out}; apply it with: reconciler apply {request.out}")
        else:
            say(f"Saved the plan to {request.out}.")
    if refusals:
        from reconciler.plan.planfile import ensure_appliable  # noqa: PLC0415

        try:
            ensure_appliable(plan)
        except ReconcilerError as err:
            say(f"Error: {err}")
        return EXIT_ERROR
    if request.detailed_exitcode and plan.has_differences:
        return EXIT_CHANGES
    return EXIT_OK


@click.command("plan")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@format_option(PLAN_FORMATS)
@output_file_option("Save the plan (JSON) to this file.")
@click.option(
    "--detailed-exitcode", is_flag=True, help="Exit 0 without changes, 2 with changes, 1 on error."
)
@guard_options
@click.option(
    "--refresh-only", is_flag=True, help="Only record drift (forget vanished GIDs) in the state."
)
@endpoint_option()
@lock_options("Take the state lock while planning.")
@no_color_option
@click.option(
    "--parallelism",
    type=click.IntRange(1, 64),
    default=DEFAULT_PARALLELISM,
    show_default=True,
    help="Instances listed at once.",
)
def plan_command(
    file: Path,
    *,
    output_format: str,
    out: Path | None,
    detailed_exitcode: bool,
    guards: GuardFlags,
    refresh_only: bool,
    endpoint: str | None,
    lock: bool,
    lock_timeout: float,
    no_color: bool,
    parallelism: int,
) -> int:
    """Show what apply would change to make the cloud match FILE."""
    request = PlanRequest(
        file=file,
        output_format=output_format,
        out=out,
        detailed_exitcode=detailed_exitcode,
        guards=guards,
        refresh_only=refresh_only,
        endpoint=endpoint,
        lock=lock,
        lock_timeout=lock_timeout,
        color=output_format == "text" and use_color(no_color),
        parallelism=parallelism,
    )
    return run_plan(request, echo=_echo)


def _echo(text: str, to_stderr: bool) -> None:
    click.echo(text, err=to_stderr, nl=to_stderr)
