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
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from reconciler import __version__
from reconciler.commands.options import (
    GuardFlags,
    check_target_instances,
    endpoint_option,
    format_option,
    guard_options,
    lock_options,
    lock_wait_printer,
    no_color_option,
    output_file_option,
    state_backend,
    use_color,
)
from reconciler.errors import ReconcilerError

if TYPE_CHECKING:
    from reconciler.models import DesiredState, StateDocument
    from reconciler.plan.builder import BuiltPlan, ClientFor
    from reconciler.plan.diff import PlanOptions
    from reconciler.plan.model import Plan

FORMATS = ("text", "json", "markdown")
EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CHANGES = 2


def render_plan(
    plan: Plan, output_format: str, *, color: bool = False, plan_file: Path | None = None
) -> str:
    """``plan_file``: where the plan is saved, if it is (Markdown names it when truncated)."""
    if output_format == "json":
        from reconciler.render.json import render_json  # noqa: PLC0415

        return render_json(plan)
    if output_format == "markdown":
        from reconciler.render.markdown import render_markdown  # noqa: PLC0415

        return render_markdown(plan, plan_file=None if plan_file is None else str(plan_file))
    from reconciler.render.text import render_text  # noqa: PLC0415

    return render_text(plan, color=color)


def make_plan(
    desired: DesiredState,
    state: StateDocument | Callable[[], StateDocument | None] | None,
    client_for: ClientFor,
    options: PlanOptions,
    *,
    workspace: str,
    desired_source: str | None,
    parallelism: int = 8,
    progress: Callable[[str], None] | None = None,
) -> BuiltPlan:
    """Build a plan stamped with this tool's version and the current time (used by apply too)."""
    from reconciler.plan.builder import build_plan  # noqa: PLC0415
    from reconciler.plan.diff import PlanMeta  # noqa: PLC0415

    meta = PlanMeta(
        tool_version=__version__,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        workspace=workspace,
        desired_source=desired_source,
    )
    return build_plan(
        desired,
        state,
        client_for,
        options,
        meta,
        parallelism=parallelism,
        progress=progress,
    )


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
    parallelism: int = 8


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
    from reconciler.commands.connect import cloud_session  # noqa: PLC0415
    from reconciler.config import load_desired  # noqa: PLC0415
    from reconciler.state.locking import hold_lock  # noqa: PLC0415

    def say(message: str) -> None:
        echo(message, True)

    desired = load_desired(request.file)
    options = request.guards.plan_options(refresh_only=request.refresh_only)
    with state_backend(desired) as backend:
        check_target_instances(desired, request.guards.targets, backend.read)
        with cloud_session(
            desired.provider, endpoint=request.endpoint, instances=desired.instances
        ) as session:
            session.check()
            if session.embedded:
                say(f"Using the {session.endpoint_label}.")
            lock = (
                hold_lock(
                    backend,
                    "plan",
                    timeout=request.lock_timeout,
                    on_wait=lock_wait_printer(),
                )
                if request.lock
                else nullcontext()
            )
            with lock:
                built = make_plan(
                    desired,
                    backend.read,
                    session.client,
                    options,
                    workspace=backend.workspace,
                    desired_source=str(request.file),
                    parallelism=request.parallelism,
                    progress=say,
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
@format_option(FORMATS)
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
    default=8,
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
