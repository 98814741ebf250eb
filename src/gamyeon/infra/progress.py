"""Progress display (rich) with fps and ETA; silent with --quiet or when stderr is not a terminal."""

from __future__ import annotations

import sys
from types import TracebackType
from typing import Self

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text


class FpsColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:5.1f} fps" if speed else "  ... fps", style="progress.data.speed")


def rich_progress(enabled: bool, unit: str | None = None) -> Progress:
    """The one progress layout of every command: description, bar, done/total[, unit], fps,
    elapsed, eta; on stderr so standard output stays for data."""
    columns: list[ProgressColumn | str] = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn()]
    if unit:
        columns.append(TextColumn(unit))
    columns += [FpsColumn(), TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn()]
    return Progress(*columns, console=Console(stderr=True), disable=not enabled, transient=False)


class ProgressDisplay:
    """A rich ``Progress`` shown while the object is entered; the base of ``Bar`` and
    ``batch.progress.BatchBar``. Enabled only without ``quiet`` and on a terminal."""

    def __init__(self, quiet: bool, unit: str | None = None) -> None:
        self.enabled = not quiet and sys.stderr.isatty()
        self._progress = rich_progress(self.enabled, unit)

    def __enter__(self) -> Self:
        self._progress.__enter__()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._progress.__exit__(exc_type, exc, tb)


class Bar(ProgressDisplay):
    """One bar per file; ``advance`` is cheap enough to call per frame."""

    def __init__(self, quiet: bool) -> None:
        super().__init__(quiet)
        self._task: TaskID | None = None

    def start(self, description: str, total: int | None) -> None:
        self._task = self._progress.add_task(description, total=total)

    def set_total(self, total: int | None) -> None:
        if self._task is not None:
            self._progress.update(self._task, total=total)

    def advance(self, n: int = 1) -> None:
        if self._task is not None:
            self._progress.advance(self._task, n)

    def finish(self) -> None:
        if self._task is not None:
            task = self._progress.tasks[self._task]
            self._progress.update(self._task, total=task.completed)
