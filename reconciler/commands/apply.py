"""``reconciler apply FILE|PLANFILE``: make the cloud match, under the lock, recording each step.

FILE is a desired-state file (YAML: plan now, show it, ask for ``yes``) or a saved plan
(JSON from ``reconciler plan -o``: re-list, refuse it if stale, apply without asking, since it
was reviewed). ``--dry-run`` prints the exact API calls instead of sending them.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import IO, TYPE_CHECKING

import click

from reconciler.apply import (
    DEFAULT_PARALLELISM,
    ActionOutcome,
    ApplyObserver,
    ApplyRun,
    ExecutionOptions,
    RunSettings,
    apply_desired,
    apply_saved,
)
from reconciler.commands.connect import CloudSession, cloud_session
from reconciler.commands.options import (
    GuardFlags,
    check_target_instances,
    endpoint_option,
    format_option,
    guard_options,
    lock_options,
    lock_wait_printer,
    no_color_option,
    state_backend,
    use_color,
)
from reconciler.commands.plan import make_plan
from reconciler.config import load_desired
from reconciler.errors import ApplyError, PlanError
from reconciler.models import DesiredState, StateDocument
from reconciler.plan.model import Plan
from reconciler.plan.planfile import loads_plan
from reconciler.ratelimit import Rate, parse_rate
from reconciler.render.apply_result import (
    outcome_line,
    render_apply_json,
    render_calls_text,
    render_result_text,
)
from reconciler.render.plan_view import not_applied_text, summary_line
from reconciler.render.text import render_text
from reconciler.state.base import StateBackend

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INTERRUPTED = 130
APPROVE_PROMPT = (
    "Do you want to perform these actions? Only 'yes' will be accepted to approve.\n  Enter a value"
)


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
    desired = load_desired(file)
    options = guards.plan_options()
    with _session(desired, endpoint, out, targets=guards.targets) as (backend, cloud, observer):

        def plan_now(state: StateDocument | None) -> Plan:
            built = make_plan(
                desired,
                state,
                cloud.client,
                options,
                workspace=backend.workspace,
                desired_source=str(file),
                progress=out.note,
            )
            for warning in guards.unmatched_warnings(built.plan):
                out.note(warning)
            return built.plan

        def approve(plan: Plan) -> bool:
            if auto_approve:
                return True
            return out.ask_approval()

        run = apply_desired(
            backend,
            build_plan=plan_now,
            review=out.show_plan,
            approve=approve,
            client_for=cloud.client,
            settings=replace(settings, observer=observer),
        )
    return out.finish(run, dry_run=settings.dry_run)


def _apply_saved(
    plan: Plan, file: Path, endpoint: str | None, settings: RunSettings, out: Output
) -> int:
    desired = load_desired(_desired_path(plan, file))
    with _session(desired, endpoint, out) as (backend, cloud, observer):
        out.note(f"Applying saved plan {file}: {summary_line(plan)}")
        run = apply_saved(
            plan,
            backend,
            desired=desired,
            client_for=cloud.client,
            settings=replace(settings, observer=observer),
        )
    if not run.plan.has_changes or run.calls:
        out.show_plan(run.plan)
    return out.finish(run, dry_run=settings.dry_run)


@contextmanager
def _session(
    desired: DesiredState, endpoint: str | None, out: Output, *, targets: tuple[str, ...] = ()
) -> Iterator[tuple[StateBackend, CloudSession, ApplyObserver]]:
    """The state backend, the cloud and the progress display, for either way in; every
    argument is checked before the first line is written."""
    with state_backend(desired) as backend:
        check_target_instances(desired, targets, backend.read)
        with (
            cloud_session(
                desired.provider, endpoint=endpoint, instances=desired.instances
            ) as cloud,
            out.progress() as observer,
        ):
            cloud.check()
            if cloud.embedded:
                out.note(f"Using the {cloud.endpoint_label}.")
            yield backend, cloud, observer


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


# --- output -------------------------------------------------------------------------------------


class Output:
    """Everything apply writes. Text mode: the plan and report on stdout. JSON mode: only
    the final JSON document on stdout; plan notes, progress and prompts go to stderr."""

    def __init__(self, *, json_mode: bool, no_color: bool) -> None:
        self.json_mode = json_mode
        self.stream: IO[str] = sys.stderr if json_mode else sys.stdout
        self.color = use_color(no_color, self.stream)

    def echo(self, text: str) -> None:
        click.echo(text, file=self.stream, nl=False, color=self.color)

    def note(self, message: str) -> None:
        click.echo(message, err=True)

    def show_plan(self, plan: Plan) -> None:
        if not self.json_mode:
            self.echo(render_text(plan, color=self.color))

    def ask_approval(self) -> bool:
        if not _isatty(sys.stdin):
            raise ApplyError(
                "apply needs approval but standard input is not a terminal: apply a reviewed "
                "saved plan (reconciler plan FILE -o plan.json; reconciler apply plan.json) "
                "or pass --auto-approve"
            )
        answer = click.prompt(APPROVE_PROMPT, default="", show_default=False, err=self.json_mode)
        return str(answer).strip() == "yes"

    @contextmanager
    def progress(self) -> Iterator[ApplyObserver]:
        observer: _BarObserver | _LineObserver
        if _isatty(self.stream):
            observer = _BarObserver(self.stream, self.color)
        else:
            observer = _LineObserver(self.stream, self.color)
        try:
            yield observer
        finally:
            observer.close()

    def finish(self, run: ApplyRun, *, dry_run: bool) -> int:
        if self.json_mode:
            calls = run.calls if dry_run else None
            click.echo(render_apply_json(run.plan, result=run.result, calls=calls), nl=False)
        elif run.declined:
            self.echo("Apply cancelled; nothing was changed.\n")
        elif dry_run and run.plan.has_changes:
            self.echo(render_calls_text(run.calls))
        elif run.result is not None:
            self.echo(render_result_text(run.result, color=self.color))
        if not self.json_mode and not run.declined:
            self.echo(not_applied_text(run.plan))

        if run.declined:
            return EXIT_FAILED
        result = run.result
        if result is None or result.ok:
            return EXIT_OK
        if result.interrupted:
            click.echo("Interrupted: the state holds everything done so far.", err=True)
            return EXIT_INTERRUPTED
        click.echo(
            f"Error: apply did not finish: {len(result.failed)} failed, "
            f"{len(result.not_attempted)} not attempted, {len(result.done)} done"
            + (f"; state not saved: {result.state_error}" if result.state_error else ""),
            err=True,
        )
        return EXIT_FAILED


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class _LineObserver:
    """One line per finished action: readable in CI logs."""

    def __init__(self, stream: IO[str], color: bool) -> None:
        self._stream = stream
        self._color = color
        self._lock = threading.Lock()

    def started(self, total: int) -> None:
        click.echo(f"Applying {total} change(s)...", file=self._stream)

    def finished(self, outcome: ActionOutcome) -> None:
        click.echo(outcome_line(outcome, color=self._color), file=self._stream, color=self._color)

    def close(self) -> None:
        self._stream.flush()


class _BarObserver:
    """A rich progress bar on a terminal; failures are printed above it as they happen."""

    def __init__(self, stream: IO[str], color: bool) -> None:
        self._stream = stream
        self._color = color
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def started(self, total: int) -> None:
        from rich.console import Console  # noqa: PLC0415  (only on a terminal, only to apply)
        from rich.progress import (  # noqa: PLC0415
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        console = Console(file=self._stream, no_color=not self._color, highlight=False)
        self._progress = Progress(
            TextColumn("Applying"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self._progress.start()
        self._task = self._progress.add_task("apply", total=total)

    def finished(self, outcome: ActionOutcome) -> None:
        if self._progress is None or self._task is None:
            return
        self._progress.advance(self._task)
        if outcome.status == "failed":
            self._progress.console.print(outcome_line(outcome), markup=False)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
