"""``reconciler apply FILE|PLANFILE``: make the cloud match, under the lock, recording each step.

FILE is a desired-state file (YAML: plan now, show it, ask for ``yes``) or a saved plan
(JSON from ``reconciler plan -o``: re-list, refuse it if stale, apply without asking, since it
was reviewed). ``--dry-run`` prints the exact API calls instead of sending them.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import click

from reconciler.commands.options import (
    GuardFlags,
    endpoint_option,
    format_option,
    guard_options,
    lock_options,
    lock_wait_printer,
    no_color_option,
)
from reconciler.errors import PlanError
from reconciler.plan.options import DEFAULT_PARALLELISM
from reconciler.ratelimit import Rate, parse_rate

# The apply machinery, the models and the renderers load when apply runs, not for --help.
if TYPE_CHECKING:
    from reconciler.apply import RunSettings
    from reconciler.commands.apply_output import Output
    from reconciler.models import StateDocument
    from reconciler.plan.model import Plan


@click.command("apply")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--auto-approve", is_flag=True, help="Apply a desired file's plan without asking.")
@click.option("--dry-run", is_flag=True, help="Print the API calls in order; send none.")
@click.option(
    "--parallelism",
    type=click.IntRange(1, 64),
    default=DEFAULT_PARALLELISM,
    show_default=True,
    help="API calls in flight at once.",
)
@click.option("--rate", metavar="RATE", help="Pace creates and deletes, each: e.g. 50/s, 600/min.")
@lock_options("Take the state lock (only a --dry-run may skip it).")
@format_option(("text", "json"))
@endpoint_option()
@no_color_option
@guard_options
def apply_command(
    *,
    file: Path,
    auto_approve: bool,
    dry_run: bool,
    parallelism: int,
    rate: str | None,
    lock: bool,
    lock_timeout: float,
    output_format: str,
    endpoint: str | None,
    no_color: bool,
    guards: GuardFlags,
) -> int:
    """Make the cloud match FILE (a desired file) or PLANFILE (a saved plan).

    FILE is planned, shown and applied after you answer yes. PLANFILE (from
    `reconciler plan -o`) is applied as reviewed, and refused if anything moved since. --target
    and the --allow-*/--skip-* guard flags apply only to a desired file.

    Exit codes: 0 done (or no changes), 1 error or some action failed (the report says what
    was done and what not; run it again to finish), 130 interrupted by Ctrl-C.
    """
    if not lock and not dry_run:
        raise click.UsageError(
            "--lock=false (--no-lock) is refused: apply writes the state, so it always takes "
            "the lock; only --dry-run may skip it"
        )
    from reconciler.apply import ExecutionOptions, RunSettings  # noqa: PLC0415
    from reconciler.commands.apply_output import Output  # noqa: PLC0415

    out = Output(json_mode=output_format == "json", no_color=no_color)
    settings = RunSettings(
        execution=ExecutionOptions(parallelism=parallelism, rate=_rate(rate)),
        lock=lock,
        lock_timeout=lock_timeout,
        on_wait=lock_wait_printer(),
        dry_run=dry_run,
        catch_sigint=True,
    )
    text = _read(file)
    saved = _saved_plan(text, file)
    if saved is not None:
        given = guards.given()
        if given:
            verb = "only applies" if len(given) == 1 else "only apply"
            raise click.UsageError(
                f"{', '.join(given)} {verb} when planning from a desired file; "
                "a saved plan is applied as reviewed: plan again with the flag"
            )
        return _apply_saved(saved, file, endpoint, settings, out)

    return _apply_file(
        file,
        guards=guards,
        auto_approve=auto_approve,
        endpoint=endpoint,
        settings=settings,
        out=out,
    )


# --- the two ways in --------------------------------------------------------------------------


def _apply_file(
    file: Path,
    *,
    guards: GuardFlags,
    auto_approve: bool,
    endpoint: str | None,
    settings: RunSettings,
    out: Output,
) -> int:
    from reconciler.apply import apply_desired  # noqa: PLC0415
    from reconciler.commands.context import run_context  # noqa: PLC0415

    options = guards.plan_options()
    rate = settings.execution.rate
    with (
        run_context(
            file, endpoint=endpoint, note=out.note, targets=guards.targets, rate=rate
        ) as run,
        out.progress() as observer,
    ):

        def plan_now(state: StateDocument | None) -> Plan:
            plan = run.make_plan(options, state, progress=out.note).plan
            for warning in guards.unmatched_warnings(plan):
                out.note(warning)
            return plan

        outcome = apply_desired(
            run.backend,
            build_plan=plan_now,
            review=out.show_plan,
            approve=lambda _plan: auto_approve or out.ask_approval(),
            client_for=run.cloud.client,
            settings=replace(settings, observer=observer),
            desired=run.desired,
        )
    return out.finish(outcome, dry_run=settings.dry_run)


def _apply_saved(
    plan: Plan, file: Path, endpoint: str | None, settings: RunSettings, out: Output
) -> int:
    from reconciler.apply import apply_saved  # noqa: PLC0415
    from reconciler.commands.context import run_context  # noqa: PLC0415
    from reconciler.render.plan_view import summary_line  # noqa: PLC0415

    with (
        run_context(
            _desired_path(plan, file),
            endpoint=endpoint,
            note=out.note,
            rate=settings.execution.rate,
        ) as run,
        out.progress() as observer,
    ):
        out.note(f"Applying saved plan {file}: {summary_line(plan)}")
        outcome = apply_saved(
            plan,
            run.backend,
            desired=run.desired,
            client_for=run.cloud.client,
            settings=replace(settings, observer=observer),
        )
    if not outcome.plan.has_changes or outcome.calls:
        out.show_plan(outcome.plan)
    return out.finish(outcome, dry_run=settings.dry_run)


# --- inputs -------------------------------------------------------------------------------------


def _rate(text: str | None) -> Rate | None:
    if text is None:
        return None
    try:
        return parse_rate(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--rate") from exc


def _read(file: Path) -> str:
    try:
        return file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanError(f"cannot read {file}: {exc}") from exc


def _saved_plan(text: str, file: Path) -> Plan | None:
    """A FILE named ``*.json``, or starting with ``{`` and not named ``*.yaml``/``*.yml``, is
    taken for a saved plan, so a truncated or hand-damaged plan is reported as bad JSON
    (line:column), not as a YAML syntax error. A valid JSON object without the plan's
    ``desired_digest`` is a desired file in YAML's flow style, unless the name says ``.json``:
    then the plan check says what is missing."""
    from reconciler.plan.planfile import loads_plan  # noqa: PLC0415

    suffix = file.suffix.lower()
    named_json = suffix == ".json"
    looks_json = text.lstrip().startswith("{") and suffix not in (".yaml", ".yml")
    if not named_json and not looks_json:
        return None
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        return loads_plan(text, str(file))  # raises, with line:column
    if not named_json and (not isinstance(document, dict) or "desired_digest" not in document):
        return None
    return loads_plan(text, str(file))


def _desired_path(plan: Plan, plan_file: Path) -> Path:
    """The plan's desired file, as recorded (relative to where the plan was made, normally
    the same directory apply runs in), or else beside the plan file."""
    if not plan.desired_source:
        raise PlanError(f"{plan_file}: the saved plan does not name its desired-state file")
    recorded = Path(plan.desired_source)
    for candidate in (recorded, plan_file.parent / recorded):
        if candidate.is_file():
            return candidate
    raise PlanError(
        f"{plan_file}: the plan's desired-state file {plan.desired_source} was not found "
        f"(looked in {Path.cwd()} and {plan_file.parent}); run apply where the plan was made"
    )
