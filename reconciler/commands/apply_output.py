"""What ``reconciler apply`` writes: the plan, the approval prompt, progress and the report.

Text mode: the plan and report on stdout. JSON mode: only the final JSON document on stdout;
plan notes, progress and prompts go to stderr. On a terminal progress is a rich bar with
failures printed above it; elsewhere one line per finished action, readable in CI logs.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

import click

from reconciler.apply import ActionOutcome, ApplyObserver, ApplyRun
from reconciler.commands.options import is_terminal, use_color
from reconciler.commands.progress import ProgressBar
from reconciler.errors import ApplyError
from reconciler.exit_codes import ExitCode
from reconciler.plan.model import Plan
from reconciler.render.apply_result import (
    outcome_line,
    render_apply_json,
    render_calls_text,
    render_result_text,
)
from reconciler.render.plan_view import not_applied_text
from reconciler.render.text import render_text

APPROVE_PROMPT = (
    "Do you want to perform these actions? Only 'yes' will be accepted to approve.\n  Enter a value"
)
# How long a progress line may wait in the buffer: short enough for a CI log to look live.
FLUSH_EVERY_S = 0.2


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
        if not is_terminal(sys.stdin):
            raise ApplyError(
                "apply needs approval but standard input is not a terminal: apply a reviewed "
                "saved plan (reconciler plan FILE -o plan.json; reconciler apply plan.json) "
                "or pass --auto-approve"
            )
        answer = click.prompt(APPROVE_PROMPT, default="", show_default=False, err=self.json_mode)
        return str(answer).strip() == "yes"

    @contextmanager
    def progress(self) -> Iterator[ApplyObserver]:
        kind = _BarObserver if is_terminal(self.stream) else _LineObserver
        observer = kind(self.stream, self.color)
        try:
            yield observer
        finally:
            observer.close()

    def finish(self, run: ApplyRun, *, dry_run: bool, rerun: str | None = None) -> ExitCode:
        """Write the report; the exit code. ``rerun``: the commands that finish a partly
        failed apply when running it again cannot (a saved plan: plan again)."""
        if self.json_mode:
            calls = run.calls if dry_run else None
            click.echo(render_apply_json(run.plan, result=run.result, calls=calls), nl=False)
        elif run.declined:
            self.echo("Apply cancelled; nothing was changed.\n")
        elif dry_run and run.plan.has_changes:
            self.echo(render_calls_text(run.calls))
        elif run.result is not None:
            self.echo(render_result_text(run.result, color=self.color, rerun=rerun))
        if not self.json_mode and not run.declined:
            self.echo(not_applied_text(run.plan))
        if run.metadata_recorded:
            self.note(
                "Recorded the file's API and known client ids of managed GIDs, and what the "
                "state describes, in the state."
            )

        if run.declined:
            return ExitCode.ERROR
        result = run.result
        if result is None or result.ok:
            return self._not_applied(run.plan) if not dry_run else ExitCode.OK
        counts = (
            f"{len(result.done)} done, {len(result.failed)} failed, "
            f"{len(result.not_attempted)} not attempted"
        )
        if result.lock_lost is not None:
            click.echo(f"Error: {result.lock_lost} and the apply stopped: {counts}", err=True)
            return ExitCode.ERROR
        if result.credentials_lost is not None:
            # The state holds every call that finished (the journal recorded each).
            click.echo(f"Error: {result.credentials_lost}; apply stopped: {counts}", err=True)
            return ExitCode.ERROR
        if result.interrupted:
            click.echo("Interrupted: the state holds everything done so far.", err=True)
            return ExitCode.INTERRUPTED
        click.echo(
            f"Error: apply did not finish: {len(result.failed)} failed, "
            f"{len(result.not_attempted)} not attempted, {len(result.done)} done"
            + (f"; state not saved: {result.state_error}" if result.state_error else ""),
            err=True,
        )
        return ExitCode.ERROR

    def _not_applied(self, plan: Plan) -> ExitCode:
        """OK, unless the plan holds differences no action can make: the cloud still differs
        from the file, so a CI job must not pass."""
        count = len(plan.not_in_place)
        if not count:
            return ExitCode.OK
        what = "difference was" if count == 1 else "differences were"
        click.echo(
            f"Error: {count} {what} not applied (a GID cannot be changed in place): the cloud "
            "does not match the desired state",
            err=True,
        )
        return ExitCode.NOT_APPLIED


class _LineObserver:
    """One line per finished action: readable in CI logs.

    Each line is written as it comes but flushed at most every ``FLUSH_EVERY_S`` (by a timer,
    so a line never waits for the next one) and at close: a flush per line, under the
    executor's observer lock, made a large apply's workers queue on one write call each.
    """

    def __init__(self, stream: IO[str], color: bool) -> None:
        self._stream = stream
        self._color = color
        self._writing = threading.Lock()
        self._flush_timer: threading.Timer | None = None

    def started(self, total: int) -> None:
        self._write(f"Applying {total} change(s)...")
        self._flush()

    def finished(self, outcome: ActionOutcome) -> None:
        self._write(outcome_line(outcome, color=self._color))
        with self._writing:
            if self._flush_timer is None:
                self._flush_timer = threading.Timer(FLUSH_EVERY_S, self._flush)
                self._flush_timer.daemon = True
                self._flush_timer.start()

    def close(self) -> None:
        with self._writing:
            if self._flush_timer is not None:
                self._flush_timer.cancel()
        self._flush()

    def _write(self, line: str) -> None:
        # What click.echo does with an explicit colour: strip the styles when colour is off.
        text = line if self._color else click.unstyle(line)
        with self._writing:
            self._stream.write(text + "\n")

    def _flush(self) -> None:
        with self._writing:
            self._flush_timer = None
            self._stream.flush()


class _BarObserver:
    """A progress bar on a terminal; failures are printed above it as they happen."""

    def __init__(self, stream: IO[str], color: bool) -> None:
        self._stream = stream
        self._color = color
        self._bar: ProgressBar | None = None

    def started(self, total: int) -> None:
        self._bar = ProgressBar(
            "Applying", total, stream=self._stream, color=self._color, transient=False
        )
        self._bar.start()

    def finished(self, outcome: ActionOutcome) -> None:
        if self._bar is None:
            return
        self._bar.advance()
        if outcome.status == "failed":
            # The same painted line the line observer writes, kept intact above the bar.
            self._bar.print_above(outcome_line(outcome, color=self._color))

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
