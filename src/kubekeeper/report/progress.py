"""Progress on stderr: phase lines always, rich transfer bars (bytes, bytes/s, ETA) when stderr is a
terminal.

Engines report progress through kubekeeper.progress (a callback protocol); this is its rendering.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TextColumn, TimeRemainingColumn, TransferSpeedColumn

from kubekeeper.progress import SILENT, Transfer
from kubekeeper.progress import Progress as ProgressCallback
from kubekeeper.report.console import stderr


class RichTransfer:
    """One rich task; `add_total` and `advance` are safe to call from worker threads."""

    def __init__(self, progress: Progress, description: str) -> None:
        self._progress = progress
        self._lock = threading.Lock()
        self._task: TaskID = progress.add_task(description, total=0)
        self.total = 0

    def add_total(self, size: int) -> None:
        with self._lock:
            self.total += size
            self._progress.update(self._task, total=self.total)

    def advance(self, size: int) -> None:
        self._progress.advance(self._task, size)


class ConsoleProgress:
    """A `kubekeeper.progress.Progress` on stderr: a line per phase; a bar per transfer on a terminal
    (silent when stderr is not one, so logs of a CronJob get no bar debris)."""

    def phase(self, description: str) -> None:
        stderr.print(description, markup=False, highlight=False)

    @contextmanager
    def transfer(self, description: str) -> Iterator[Transfer]:
        if not stderr.is_terminal:
            with SILENT.transfer(description) as transfer:
                yield transfer
            return
        columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn())
        with Progress(*columns, console=stderr, transient=False) as progress:
            yield RichTransfer(progress, description)


def console_progress(shown: bool) -> ProgressCallback:
    """What a command hands its engines: the console rendering, or nothing (`--no-progress`, JSON)."""
    return ConsoleProgress() if shown else SILENT
