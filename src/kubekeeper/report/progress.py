"""Progress on stderr: phase lines always; per transfer rich bars (bytes or items, rate, ETA) on a
terminal, and where stderr is not one (a CronJob's log) a plain line every KUBEKEEPER_PROGRESS_INTERVAL
seconds (default 10) with what is done, the rate and the ETA where the total is known.

Engines report progress through kubekeeper.progress (a callback protocol); this is its rendering.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import RenderableType
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from kubekeeper.progress import BYTES, ITEMS, SILENT, Transfer
from kubekeeper.progress import Progress as ProgressCallback
from kubekeeper.report.console import stderr

#: seconds between two progress lines when stderr is not a terminal
INTERVAL_ENV = "KUBEKEEPER_PROGRESS_INTERVAL"
DEFAULT_INTERVAL = 10.0
#: a transfer shorter than this gets no closing line in a log (it was not long work)
CLOSING_LINE_AFTER = 2.0
#: -q turns every rendering off for the whole invocation
_silenced = False


def silence() -> None:
    """-q: no progress at all in this process."""
    global _silenced
    _silenced = True


def progress_interval() -> float:
    """KUBEKEEPER_PROGRESS_INTERVAL seconds (a positive number), else the default."""
    raw = os.environ.get(INTERVAL_ENV, "").strip()
    try:
        value = float(raw) if raw else DEFAULT_INTERVAL
    except ValueError:
        return DEFAULT_INTERVAL
    return value if value > 0 else DEFAULT_INTERVAL


def human_bytes(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"  # pragma: no cover - the loop returns


def human_duration(seconds: float) -> str:
    whole = int(seconds + 0.5)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


class RichTransfer:
    """One rich task; `add_total` and `advance` are safe to call from worker threads. The total is
    unknown (an indeterminate bar) until the first `add_total`."""

    def __init__(self, progress: Progress, description: str) -> None:
        self._progress = progress
        self._lock = threading.Lock()
        self._task: TaskID = progress.add_task(description, total=None)
        self.total = 0

    def add_total(self, size: int) -> None:
        with self._lock:
            self.total += size
            self._progress.update(self._task, total=self.total)

    def advance(self, size: int) -> None:
        self._progress.advance(self._task, size)

    def close(self) -> None:
        self._progress.remove_task(self._task)


class LineTransfer:
    """A counter that, while the transfer runs, writes a line every `interval` seconds:
    `kubekeeper: progress: storing /data: 120.0 MiB of 300.0 MiB (40%), 12.0 MiB/s, ETA 0:00:15, elapsed 0:00:10`."""

    def __init__(self, description: str, unit: str, interval: float, write: Callable[[str], None]) -> None:
        self.description = description
        self.unit = unit
        self.interval = interval
        self.write = write
        self.done = 0
        self.total = 0
        self.started = time.monotonic()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._tick, daemon=True, name="progress-lines")

    def add_total(self, size: int) -> None:
        with self._lock:
            self.total += size

    def advance(self, size: int) -> None:
        with self._lock:
            self.done += size

    def _amount(self, value: float) -> str:
        return human_bytes(value) if self.unit == BYTES else f"{value:,.0f} {self.unit}"

    def line(self, now: float | None = None) -> str:
        """What is done, of how much, the average rate, the ETA where the total is known."""
        elapsed = max((now or time.monotonic()) - self.started, 1e-6)
        with self._lock:
            done, total = self.done, self.total
        text = f"{self.description}: {self._amount(done)}"
        if total:
            text += f" of {self._amount(total)} ({min(100.0, 100.0 * done / total):.0f}%)"
        rate = done / elapsed
        text += f", {self._amount(rate)}/s"
        if total and rate > 0 and done < total:
            text += f", ETA {human_duration((total - done) / rate)}"
        return f"{text}, elapsed {human_duration(elapsed)}"

    def _tick(self) -> None:
        while not self._stop.wait(self.interval):
            self.write(self.line())

    def __enter__(self) -> LineTransfer:
        self._ticker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._ticker.join()
        if time.monotonic() - self.started >= CLOSING_LINE_AFTER:
            self.write(self.line() + (" (done)" if exc[0] is None else " (stopped)"))


def _print_line(text: str) -> None:
    stderr.print(f"kubekeeper: progress: {text}", markup=False, highlight=False, soft_wrap=True)


class ConsoleProgress:
    """A `kubekeeper.progress.Progress` on stderr: a line per phase; on a terminal a bar per transfer
    (one live display shared by concurrent transfers, e.g. two volumes at once); elsewhere a plain
    line every `interval` seconds per running transfer, so a CronJob's log shows that work moves."""

    def __init__(self, interval: float | None = None) -> None:
        self.interval = interval if interval is not None else progress_interval()
        self._lock = threading.Lock()
        self._bars: Progress | None = None
        self._active = 0

    def phase(self, description: str) -> None:
        stderr.print(description, markup=False, highlight=False)

    @contextmanager
    def transfer(self, description: str, unit: str = BYTES) -> Iterator[Transfer]:
        if not stderr.is_terminal:
            with LineTransfer(description, unit, self.interval, _print_line) as lines:
                yield lines
            return
        bars = self._open()
        transfer = RichTransfer(bars, description if unit == BYTES else f"{description} ({unit})")
        started = time.monotonic()
        try:
            yield transfer
        finally:
            if time.monotonic() - started < CLOSING_LINE_AFTER:
                transfer.close()  # short work leaves no bar behind
            self._close()

    def _open(self) -> Progress:
        with self._lock:
            if self._bars is None:
                self._bars = Progress(*_columns(), console=stderr, transient=False)
                self._bars.start()
            self._active += 1
            return self._bars

    def _close(self) -> None:
        with self._lock:
            self._active -= 1
            if self._active == 0 and self._bars is not None:
                self._bars.stop()
                self._bars = None


def _columns() -> tuple[ProgressColumn, ...]:
    """Bytes transfers show size and speed; item counts (listings) show N/M: a column for each, the
    one that does not apply to a task prints nothing for it."""
    return (TextColumn("{task.description}"), BarColumn(), _ForUnit(DownloadColumn(), BYTES), _ForUnit(MofNCompleteColumn(), ITEMS),
            _ForUnit(TransferSpeedColumn(), BYTES), TimeRemainingColumn(), TimeElapsedColumn())


class _ForUnit(ProgressColumn):
    """A column shown only for tasks of one unit (item tasks carry "(items)" in their description)."""

    def __init__(self, column: ProgressColumn, unit: str) -> None:
        super().__init__()
        self.column = column
        self.unit = unit

    def render(self, task: Task) -> RenderableType:
        is_items = str(task.description).endswith(f"({ITEMS})")
        return self.column.render(task) if is_items == (self.unit == ITEMS) else ""


def console_progress(shown: bool) -> ProgressCallback:
    """What a command hands its engines: the console rendering, or nothing (`--no-progress`, `-q`, JSON)."""
    return ConsoleProgress() if shown and not _silenced else SILENT
