"""Transfer progress on stderr: rich bars (bytes, bytes/s, ETA) when stderr is a terminal, else nothing.

Engines report progress through kubekeeper.progress (a callback protocol); this is its rendering.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TextColumn, TimeRemainingColumn, TransferSpeedColumn

from kubekeeper.progress import Transfer, silent
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


@contextmanager
def rich_transfers(description: str) -> Iterator[Transfer]:
    """A `kubekeeper.progress.Transfers`: a bar on a terminal's stderr; silent when stderr is not one."""
    if not stderr.is_terminal:
        with silent(description) as transfer:
            yield transfer
        return
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=stderr, transient=False) as progress:
        yield RichTransfer(progress, description)
