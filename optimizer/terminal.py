"""The command line's progress display: one line per stage, with its elapsed time (rich).

On a terminal the running stage shows a spinner and a clock that ticks, so a long solve is
never silent; each finished stage stays as one line with a tick and its time. When stderr is
not a terminal (a pipe, a log file) each finished stage is printed once, with no animation.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from rich.console import Console
from rich.progress import Progress as RichProgress
from rich.progress import SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Column

from optimizer.progress import Progress, Stage

__all__ = ["TerminalProgress"]


class TerminalProgress(Progress):
    """Show each stage on stderr as it runs; use as a context manager around the command.

    Parameters
    ----------
    console
        Where to draw; default: stderr.
    """

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True, highlight=False)
        self._live = self.console.is_terminal
        self._bar: RichProgress | None = None
        self._tasks: dict[str, TaskID] = {}
        self._t0: dict[str, float] = {}

    def __enter__(self) -> TerminalProgress:
        if self._live:
            self._bar = RichProgress(
                SpinnerColumn(
                    finished_text="[green]✓", table_column=Column(min_width=2, no_wrap=True)
                ),
                TimeElapsedColumn(table_column=Column(min_width=7, no_wrap=True)),
                TextColumn("{task.description}"),
                TextColumn("[dim]{task.fields[detail]}"),
                console=self.console,
                refresh_per_second=4,
            )
            self._bar.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def started(self, stage: Stage) -> None:
        """Add a running line for ``stage``."""
        self._t0[stage.key] = time.perf_counter()
        if self._bar is not None:
            self._tasks[stage.key] = self._bar.add_task(stage.label, total=1, detail="")

    def finished(self, stage: Stage, *, failed: bool = False) -> None:
        """Turn the stage's line into its final form (a tick, or a cross when it failed)."""
        seconds = time.perf_counter() - self._t0.pop(stage.key, time.perf_counter())
        if self._bar is not None and stage.key in self._tasks:
            task = self._tasks.pop(stage.key)
            label = f"[red]✗ {stage.label}" if failed else stage.label
            self._bar.update(task, description=label, detail=stage.detail, completed=1)
            self._bar.stop_task(task)
            return
        mark = "✗" if failed else "✓"
        detail = f"  {stage.detail}" if stage.detail else ""
        print(f"{mark} {stage.label}{detail}  {_clock(seconds)}", file=sys.stderr, flush=True)


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"
