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


def test_no_terminal_no_bars(monkeypatch) -> None:
    stream = io.StringIO()
    monkeypatch.setattr(rendering, "stderr", Console(file=stream))
    with rendering.rich_transfers("pushing blobs") as transfer:
        transfer.add_total(10)
        transfer.advance(10)
    assert not isinstance(transfer, rendering.RichTransfer) and stream.getvalue() == ""


def test_resolve() -> None:
    assert progress.resolve(False) is progress.silent
    assert progress.resolve(rendering.rich_transfers) is rendering.rich_transfers
    progress.show_with(rendering.rich_transfers)
    try:
        assert progress.resolve(True) is rendering.rich_transfers
    finally:
        progress.show_with(progress.silent)
    assert progress.resolve(True) is progress.silent
