"""``reconciler plan PATH...``: refresh, diff, guard, and show what apply would do.

Exit codes: 0 success (with ``--detailed-exitcode``: no changes), 1 error or a plan refused by
a guard, 2 changes present (``--detailed-exitcode`` only). A refused plan is still printed in
full, and still written with ``-o`` (marked ``"appliable": false``) so the artifact a CI job
keeps is the truth; ``apply`` refuses it.
"""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path

import click

from reconciler.collector import collector_paused
from reconciler.commands.options import (
    GuardFlags,
    check_plan_out,
    desired_paths_argument,
    endpoint_option,
    format_option,
    guard_options,
    lock_options,
    lock_wait_printer,
    no_color_option,
    output_file_option,
    state_path_option,
    use_color,
)
from reconciler.errors import ReconcilerError
from reconciler.exit_codes import ExitCode
from reconciler.plan.options import DEFAULT_PARALLELISM
from reconciler.render.formats import PLAN_FORMATS, render_plan


@click.command("plan")
@desired_paths_argument()
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
@state_path_option
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
    paths: tuple[Path, ...],
    *,
    output_format: str,
    out: Path | None,
    detailed_exitcode: bool,
    guards: GuardFlags,
    refresh_only: bool,
    endpoint: str | None,
    state_path: Path | None,
    lock: bool,
    lock_timeout: float,
    no_color: bool,
    parallelism: int,
) -> ExitCode:
    """Show what apply would change to make the cloud match PATHS (desired-state files or
    directories).

    Several files, and every *.yaml / *.yml file below a directory (hidden ones skipped),
    are merged into one desired state; no PATHS means reconciler.yaml."""
    check_plan_out(out, paths)
    with collector_paused():
        from reconciler.commands.context import run_context  # noqa: PLC0415
        from reconciler.state.locking import hold_lock  # noqa: PLC0415

        options = guards.plan_options(refresh_only=refresh_only)
        with run_context(
            paths, endpoint=endpoint, note=_say, targets=guards.targets, state_path=state_path
        ) as run:
            held = (
                hold_lock(run.backend, "plan", timeout=lock_timeout, on_wait=lock_wait_printer())
                if lock
                else nullcontext()
            )
            with held:
                plan = run.make_plan(
                    options,
                    run.read_state,
                    progress=_say,
                    parallelism=parallelism,
                    # Only a saved or JSON plan carries what a stale plan is judged by.
                    recorded=out is not None or output_format == "json",
                ).plan
        color = output_format == "text" and use_color(no_color)
        click.echo(render_plan(plan, output_format, color=color, plan_file=out), nl=False)
        refusals = plan.refusals()
        for warning in guards.unmatched_warnings(plan):
            _say(warning)
        if out is not None:
            from reconciler.plan.planfile import save_plan  # noqa: PLC0415

            save_plan(plan, out)
            if refusals:
                _say(f"Saved the plan to {out}; it is refused, so apply will not run it.")
            elif plan.has_changes:
                _say(f"Saved the plan to {out}; apply it with: reconciler apply {out}")
            else:
                _say(f"Saved the plan to {out}.")
        if refusals:
            from reconciler.plan.planfile import ensure_appliable  # noqa: PLC0415

            try:
                ensure_appliable(plan)
            except ReconcilerError as err:
                _say(f"Error: {err}")
            return ExitCode.ERROR
        if detailed_exitcode and plan.has_differences:
            return ExitCode.CHANGES
        return ExitCode.OK


def _say(message: str) -> None:
    click.echo(message, err=True)
