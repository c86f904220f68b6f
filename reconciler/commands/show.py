"""``reconciler show PLANFILE``: render a saved plan (no lock, no cloud)."""

from __future__ import annotations

from pathlib import Path

import click

from reconciler.commands.options import format_option, no_color_option, use_color
from reconciler.exit_codes import ExitCode
from reconciler.render.formats import PLAN_FORMATS, render_plan


@click.command("show")
@click.argument("planfile", type=click.Path(dir_okay=False, path_type=Path))
@format_option(PLAN_FORMATS)
@no_color_option
def show_command(planfile: Path, output_format: str, no_color: bool) -> ExitCode:
    """Render a plan saved with `reconciler plan -o PLANFILE`."""
    from reconciler.plan.planfile import load_plan  # noqa: PLC0415

    plan = load_plan(planfile)
    color = output_format == "text" and use_color(no_color)
    click.echo(render_plan(plan, output_format, color=color, plan_file=planfile), nl=False)
    return ExitCode.OK
