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
