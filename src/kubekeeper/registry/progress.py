"""Transfer progress on stderr (rich: bytes, bytes/s, ETA); a no-op with --no-progress or no TTY."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from collections.abc import Iterator

from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn,
                           TransferSpeedColumn)

from kubekeeper.report.console import stderr


class Transfer:
    """One byte counter; `advance` is safe to call from worker threads."""

    def __init__(self, progress: Progress | None, description: str) -> None:
        self._progress = progress
        self._lock = threading.Lock()
        self._task = progress.add_task(description, total=0) if progress else None
        self.total = 0

    def add_total(self, size: int) -> None:
        with self._lock:
            self.total += size
            if self._progress is not None and self._task is not None:
                self._progress.update(self._task, total=self.total)

    def advance(self, size: int) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task, size)


@contextmanager
def transfer(description: str, *, enabled: bool = True) -> Iterator[Transfer]:
    if not enabled or not stderr.is_terminal:
        yield Transfer(None, description)
        return
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=stderr, transient=False) as progress:
        yield Transfer(progress, description)
