"""``reconciler apply FILE|PLANFILE``: make the cloud match, under the lock, recording each step.

FILE is a desired-state file (YAML: plan now, show it, ask for ``yes``) or a saved plan
(JSON from ``reconciler plan -o``: re-list, refuse it if stale, apply without asking, since it
was reviewed). ``--dry-run`` prints the exact API calls instead of sending them.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import click

from reconciler.commands.options import (
    GuardFlags,
    desired_paths_argument,
    endpoint_option,
    format_option,
    guard_options,
    lock_options,
    lock_wait_printer,
    no_color_option,
    state_path_option,
)
from reconciler.errors import PlanError
from reconciler.exit_codes import ExitCode
from reconciler.plan.options import DEFAULT_PARALLELISM
from reconciler.ratelimit import Rate, parse_rate

# The apply machinery, the models and the renderers load when apply runs, not for --help.
if TYPE_CHECKING:
    from reconciler.apply import RunSettings
    from reconciler.commands.apply_output import Output
    from reconciler.models import StateDocument
    from reconciler.plan.model import Plan


@click.command("apply")
@desired_paths_argument(exists=True)
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
@state_path_option
@no_color_option
@guard_options
def apply_command(
    *,
    paths: tuple[Path, ...],
    auto_approve: bool,
    dry_run: bool,
    parallelism: int,
    rate: str | None,
    lock: bool,
    lock_timeout: float,
    output_format: str,
    endpoint: str | None,
    state_path: Path | None,
    no_color: bool,
    guards: GuardFlags,
) -> ExitCode:
    """Make the cloud match PATHS (desired-state files or directories) or PLANFILE (a saved
    plan).

    PATHS (reconciler.yaml when none is given) are planned, shown and applied after you answer
    yes. PLANFILE (from
    `reconciler plan -o`) is applied as reviewed, and refused if anything moved since or if a
    GID it deletes has clients online now. --target and the --allow-*/--skip-* guard flags
    apply only to a desired file.

    Exit codes: 0 done (or no changes), 1 error or some action failed (the report says what
    was done and what not; run it again to finish), 4 done but differences remain that no
    action can make (a GID's topic: see "Not applied"), 130 interrupted by Ctrl-C.
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
        progress=out.note,
    )
    saved = _saved_plan(_read(paths[0]), paths[0]) if _one_file(paths) else None
    if saved is not None:
        _refuse_extra_overrides(saved, guards)
        return _apply_saved(
            saved,
            paths[0],
            endpoint=endpoint,
            state_path=state_path,
            settings=settings,
            out=out,
            guards=guards,
        )

    return _apply_file(
        paths,
        guards=guards,
        auto_approve=auto_approve,
        endpoint=endpoint,
        state_path=state_path,
        settings=settings,
        out=out,
    )


# --- the two ways in --------------------------------------------------------------------------


def _apply_file(
    paths: tuple[Path, ...],
    *,
    guards: GuardFlags,
    auto_approve: bool,
    endpoint: str | None,
    state_path: Path | None,
    settings: RunSettings,
    out: Output,
) -> ExitCode:
    from reconciler.apply import apply_desired  # noqa: PLC0415
    from reconciler.commands.context import run_context  # noqa: PLC0415

    options = guards.plan_options()
    rate = settings.execution.rate
    with (
        run_context(
            paths,
            endpoint=endpoint,
            note=out.note,
            targets=guards.targets,
            rate=rate,
            state_path=state_path,
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
            # A person at the prompt may answer long after the plan's online look-up.
            recheck_after_approval=not auto_approve,
            binding=run.binding,
        )
    return out.finish(outcome, dry_run=settings.dry_run)


def _apply_saved(
    plan: Plan,
    file: Path,
    *,
    endpoint: str | None,
    state_path: Path | None,
    settings: RunSettings,
    out: Output,
    guards: GuardFlags,
) -> ExitCode:
    from reconciler.apply import apply_saved  # noqa: PLC0415
    from reconciler.commands.context import run_context  # noqa: PLC0415
    from reconciler.plan.replan import override_words, recorded_options  # noqa: PLC0415
    from reconciler.render.plan_view import summary_line  # noqa: PLC0415

    inputs, base = _desired_inputs(plan, file)
    with (
        run_context(
            inputs,
            base=base,
            endpoint=endpoint,
            note=out.note,
            rate=settings.execution.rate,
            state_path=state_path,
        ) as run,
        out.progress() as observer,
    ):
        out.note(f"Applying saved plan {file}: {summary_line(plan)}")
        overrides = override_words(recorded_options(plan))
        if overrides:
            made_with = ", ".join(" ".join(words) for words in overrides)
            out.note(f"The plan was made with {made_with}.")
        outcome = apply_saved(
            plan,
            run.backend,
            desired=run.desired,
            client_for=run.cloud.client,
            settings=replace(settings, observer=observer),
            source=str(file),
            locate=None if run.declarations is None else run.declarations.locate,
            confirmed=guards.plan_options(),
            binding=run.binding,
        )
    if not outcome.plan.has_changes or outcome.calls:
        out.show_plan(outcome.plan)
    return out.finish(outcome, dry_run=settings.dry_run, rerun=_plan_again(plan, file))


def _refuse_extra_overrides(plan: Plan, guards: GuardFlags) -> None:
    """A flag the saved plan was not made with is refused before any work: plan again with
    it. (The plan's own overrides must be repeated: ``apply_saved`` checks that.)"""
    from reconciler.plan.replan import override_words, recorded_options  # noqa: PLC0415

    recorded = override_words(recorded_options(plan))
    extra = [
        " ".join(words) for words in override_words(guards.plan_options()) if words not in recorded
    ]
    if guards.targets:
        extra.insert(0, "--target")
    if extra:
        verb = "only applies" if len(extra) == 1 else "only apply"
        raise click.UsageError(
            f"{', '.join(extra)} {verb} when planning from a desired file; "
            "a saved plan is applied as reviewed: plan again with the flag"
        )


def _plan_again(plan: Plan, file: Path) -> str:
    """The commands that finish a partly applied saved plan: once anything is applied the
    plan is stale, so plan again, as it was made, and apply the new one."""
    from reconciler.plan.replan import recorded_flags  # noqa: PLC0415

    inputs = list(plan.desired_inputs) or [plan.desired_source or "PATH"]
    command = ["reconciler", "plan", *inputs, *recorded_flags(plan), "-o", str(file)]
    return f"{shlex.join(command)}; {shlex.join(['reconciler', 'apply', str(file)])}"


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


def _one_file(paths: tuple[Path, ...]) -> bool:
    """A saved plan is applied alone: one argument, a file (several, or a directory, are the
    desired state)."""
    if len(paths) == 1:
        return not paths[0].is_dir()
    for path in paths:
        if path.suffix.lower() == ".json":
            raise click.UsageError(
                f"{path} looks like a saved plan: apply a saved plan alone "
                "(reconciler apply PLANFILE)"
            )
    return False


def _desired_inputs(plan: Plan, plan_file: Path) -> tuple[list[Path], Path | None]:
    """The desired-state files and directories the plan was made from, as recorded: where
    apply runs (normally where the plan was made), or else beside the plan file. A plan
    saved before several files were recorded names its one file (``desired_source``)."""
    recorded = list(plan.desired_inputs)
    if not recorded:
        if not plan.desired_source:
            raise PlanError(f"{plan_file}: the saved plan does not name its desired-state file")
        recorded = [plan.desired_source]
    paths = [Path(name) for name in recorded]
    for base in (None, plan_file.parent):
        if all((path if base is None else base / path).exists() for path in paths):
            return paths, base
    missing = [name for name in recorded if not Path(name).exists()]
    what = f"file {missing[0]} was" if len(missing) == 1 else f"files {', '.join(missing)} were"
    raise PlanError(
        f"{plan_file}: the plan's desired-state {what} not found (looked in {Path.cwd()} and "
        f"{plan_file.parent}); run apply where the plan was made"
    )
