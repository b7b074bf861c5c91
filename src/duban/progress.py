"""Progress bars for long commands: shown on a terminal (rich, on stderr), silent in pipes, files and CI.

A command asks for one with `bar(label, total)` and calls `advance()` as it works; the bar is redrawn at most
`REFRESH` times a second however often it is advanced, so a tight loop pays a clock read, not a redraw. Off a
terminal every call is a no-op, and nothing (no escape code, no carriage return) reaches the stream."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO

REFRESH = 10  # redraws a second, at most
OFF = {"0", "false", "no", "off"}


def wanted(stream: TextIO | None = None) -> bool:
    """Whether to draw: the stream is a terminal, not in CI, not TERM=dumb, not DUBAN_PROGRESS=0."""
    stream = stream or sys.stderr
    if os.environ.get("DUBAN_PROGRESS", "").lower() in OFF or os.environ.get("CI") or os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class Tracker:
    """What a command tells its bar; every method does nothing when no bar is drawn."""

    def __init__(self, bar: Any = None, task: Any = None, echo: Callable[[str], None] | None = None) -> None:
        self._bar, self._task, self._echo = bar, task, echo
        self._pending, self._next, self._steps = 0, 0.0, 0

    @property
    def shown(self) -> bool:
        """Whether a bar is on the terminal."""
        return self._bar is not None

    def advance(self, steps: int = 1) -> None:
        """Count work done; pushed to the bar at most REFRESH times a second."""
        if self._bar is None:
            return
        self._pending += steps
        clock = time.monotonic()
        if clock >= self._next:
            self._bar.update(self._task, advance=self._pending)
            self._pending, self._next = 0, clock + 1 / REFRESH

    def reach(self, done: int, label: str | None = None) -> None:
        """Say how far the work is (steps done of the total), and optionally what it is at."""
        if self._bar is None:
            return
        clock = time.monotonic()
        if clock >= self._next:
            self._bar.update(self._task, completed=done, **({"description": label} if label else {}))
            self._pending, self._next = 0, clock + 1 / REFRESH

    def step(self, label: str) -> None:
        """Start a named phase: the one before it (if any) counts as one step done."""
        if self._bar is not None:
            self._bar.update(self._task, advance=self._pending + (1 if self._steps else 0), description=label)
            self._pending, self._steps = 0, self._steps + 1

    def say(self, line: str) -> None:
        """Print a line of the command's output above the bar (or as the command prints it, without one)."""
        if self._bar is not None and _same_terminal():
            self._bar.console.print(line, markup=False, highlight=False, soft_wrap=True)
        elif self._echo is not None:
            self._echo(line)

    def _flush(self) -> None:
        if self._bar is not None and self._pending:
            self._bar.update(self._task, advance=self._pending)
            self._pending = 0


def _same_terminal() -> bool:
    """Whether stdout is a terminal too: then output lines go above the bar, not through it."""
    return sys.stdout.isatty()


@contextmanager
def bar(label: str, total: int | None = None, *, stream: TextIO | None = None,
        echo: Callable[[str], None] | None = None) -> Iterator[Tracker]:
    """A bar for `total` steps (None: a spinner and the time taken) while the block runs; gone when it ends.
    `echo` prints the command's own lines when no bar is drawn (`Tracker.say`)."""
    stream = stream or sys.stderr
    if not wanted(stream):
        yield Tracker(echo=echo)
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    columns: list[Any] = [SpinnerColumn(), TextColumn("{task.description}")]
    if total is not None:
        columns += [BarColumn(), MofNCompleteColumn()]
    columns.append(TimeElapsedColumn())
    console = Console(file=stream, stderr=stream is sys.stderr)
    with Progress(*columns, console=console, transient=True, refresh_per_second=REFRESH,
                  redirect_stdout=False, redirect_stderr=False) as drawn:
        tracker = Tracker(drawn, drawn.add_task(label, total=total), echo)
        try:
            yield tracker
        finally:
            tracker._flush()
