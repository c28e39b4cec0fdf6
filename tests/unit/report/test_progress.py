"""The rich rendering of engine progress: counts from worker threads add up; silent without a terminal."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor

from rich.console import Console
from rich.progress import Progress

from kubekeeper import progress
from kubekeeper.report import progress as rendering


def test_rich_transfer_adds_up_counts_from_threads() -> None:
    with Progress(console=Console(file=io.StringIO(), force_terminal=True)) as bars:
        transfer = rendering.RichTransfer(bars, "fetching blobs")
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(transfer.add_total, [1000] * 40))
            list(pool.map(transfer.advance, [250] * 80))
        task = bars.tasks[0]
        assert (task.description, task.total, task.completed) == ("fetching blobs", 40_000, 20_000)


def test_no_terminal_no_bars_but_phase_lines(monkeypatch) -> None:
    """A CronJob's log gets the phase lines, never bar debris."""
    stream = io.StringIO()
    monkeypatch.setattr(rendering, "stderr", Console(file=stream, width=200))
    shown = rendering.console_progress(True)
    shown.phase("backing up 2 volume(s) on node n1")
    with shown.transfer("pushing blobs") as transfer:
        transfer.add_total(10)
        transfer.advance(10)
    assert not isinstance(transfer, rendering.RichTransfer)
    assert stream.getvalue() == "backing up 2 volume(s) on node n1\n"


def test_not_shown_is_silent(monkeypatch) -> None:
    stream = io.StringIO()
    monkeypatch.setattr(rendering, "stderr", Console(file=stream, force_terminal=True))
    quiet = rendering.console_progress(False)
    assert quiet is progress.SILENT
    quiet.phase("backing up")
    with quiet.transfer("fetching blobs") as transfer:
        transfer.add_total(10)
        transfer.advance(10)
    assert stream.getvalue() == ""


def test_a_terminal_gets_a_bar(monkeypatch) -> None:
    stream = io.StringIO()
    monkeypatch.setattr(rendering, "stderr", Console(file=stream, force_terminal=True, width=120))
    with rendering.console_progress(True).transfer("fetching blobs") as transfer:
        transfer.add_total(2048)
        transfer.advance(2048)
    assert isinstance(transfer, rendering.RichTransfer) and "fetching blobs" in stream.getvalue()


def test_without_a_terminal_a_line_every_interval_with_rate_and_eta() -> None:
    """The CronJob-log rendering: lines while the transfer runs (not only at its end), each with what is
    done of the total, the rate and the ETA."""
    import threading
    import time

    lines: list[str] = []
    written = threading.Event()

    def write(text: str) -> None:
        lines.append(text)
        written.set()

    with rendering.LineTransfer("storing volume db/data", progress.BYTES, 0.05, write) as transfer:
        transfer.add_total(100 << 20)
        transfer.advance(25 << 20)
        assert written.wait(5), "no line while the transfer runs"
        running = lines[0]
        time.sleep(0.01)
    assert running.startswith("storing volume db/data: 25.0 MiB of 100.0 MiB (25%), ")
    assert "MiB/s, ETA 0:" in running and "elapsed 0:00:00" in running


def test_items_are_counted_as_items() -> None:
    transfer = rendering.LineTransfer("listing repositories", progress.ITEMS, 10, lambda _: None)
    transfer.add_total(40)
    transfer.advance(10)
    assert transfer.line().startswith("listing repositories: 10 items of 40 items (25%), ")


def test_the_default_interval_is_at_most_ten_seconds(monkeypatch) -> None:
    monkeypatch.delenv(rendering.INTERVAL_ENV, raising=False)
    assert 0 < rendering.progress_interval() <= 10
    monkeypatch.setenv(rendering.INTERVAL_ENV, "2.5")
    assert rendering.progress_interval() == 2.5
    monkeypatch.setenv(rendering.INTERVAL_ENV, "soon")
    assert rendering.progress_interval() == rendering.DEFAULT_INTERVAL


def test_restic_status_lines_become_increments() -> None:
    """restic's absolute bytes_done/total_bytes (backup), bytes_restored (restore) and the summary."""
    from kubekeeper.repository.restic import StatusFeed

    class Count:
        total = done = 0

        def add_total(self, size: int) -> None:
            self.total += size

        def advance(self, size: int) -> None:
            self.done += size

    count = Count()
    feed = StatusFeed(count)
    feed(b'{"message_type":"status","percent_done":0.1,"total_bytes":1000,"bytes_done":100}\n')
    feed(b'{"message_type":"status","percent_done":0.5,"total_bytes":1000,"bytes_done":500}\n')
    feed(b'{"message_type":"verbose_status","action":"new","item":"/x"}\n')
    feed(b'not json')
    assert (count.total, count.done) == (1000, 500)
    feed(b'{"message_type":"summary","total_bytes_processed":1200,"snapshot_id":"ab"}\n')
    assert (count.total, count.done) == (1200, 1200)
    restore = Count()
    StatusFeed(restore)(b'{"message_type":"status","total_bytes":90,"bytes_restored":30}\n')
    assert (restore.total, restore.done) == (90, 30)
