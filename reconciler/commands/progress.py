"""The progress bar of the commands that make many calls: apply's changes, inspect's paced
look-ups. Only on a terminal (the callers decide); rich loads when a bar is drawn."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

# Seconds still ahead once so many calls are done.
TimeLeft = Callable[[int], float]


class ProgressBar:
    """``LABEL ━━━━━━ 3/40 0:00:12``: a label, the bar, done of total, then the time elapsed
    or, given ``time_left``, a countdown (``about 20 s left``) from its estimate at the last
    finished step (a paced call may be seconds away; rich's own estimate knows nothing of
    pacing). Lines ``print``ed go above the bar and stay; a ``transient`` bar leaves nothing
    behind when it stops."""

    def __init__(
        self,
        label: str,
        total: int,
        *,
        stream: IO[str],
        color: bool,
        transient: bool,
        time_left: TimeLeft | None = None,
    ) -> None:
        self._label = label
        self._total = total
        self._stream = stream
        self._color = color
        self._transient = transient
        self._time_left = time_left
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def start(self) -> None:
        from rich.console import Console  # noqa: PLC0415  (only on a terminal)
        from rich.progress import (  # noqa: PLC0415
            BarColumn,
            MofNCompleteColumn,
            Progress,
            ProgressColumn,
            Task,
            TextColumn,
            TimeElapsedColumn,
        )
        from rich.text import Text  # noqa: PLC0415

        class Countdown(ProgressColumn):
            def render(self, task: Task) -> Text:
                left = max(0.0, float(task.fields["deadline"]) - time.monotonic())
                return Text(f"about {round(left)} s left")

        console = Console(file=self._stream, no_color=not self._color, highlight=False)
        clock = TimeElapsedColumn() if self._time_left is None else Countdown()
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            clock,
            console=console,
            transient=self._transient,
        )
        self._progress.start()
        self._task = self._progress.add_task(
            self._label, total=self._total, deadline=self._deadline(0)
        )

    def _deadline(self, done: int) -> float:
        return time.monotonic() + (0.0 if self._time_left is None else self._time_left(done))

    def update(self, done: int) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, completed=done, deadline=self._deadline(done))

    def advance(self) -> None:
        if self._progress is not None and self._task is not None:
            done = self._progress.tasks[0].completed + 1
            self.update(int(done))

    def print_above(self, painted: str) -> None:
        """A line (ANSI colours kept) above the bar."""
        if self._progress is None:
            return
        from rich.text import Text  # noqa: PLC0415

        self._progress.console.print(Text.from_ansi(painted))

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
