"""Peak memory of a process tree, sampled from /proc while it runs (Linux).

`getrusage(RUSAGE_CHILDREN).ru_maxrss` is the largest single waited-for descendant - over the whole life
of the calling process, so an earlier child (skopeo) can be what it reports. A backup is kubekeeper
*and* restic running at once, so what matters is their sum: `TreeSampler` adds up VmRSS over the
process and all its descendants at each sample and keeps the largest sum, plus each process's own
high-water mark (VmHWM) by command name. Sampling every 50 ms can miss a shorter spike, so the tree
peak is a lower bound; the per-process VmHWM values are exact.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

PROC = Path("/proc")


def _status(pid: int) -> dict[str, str]:
    fields = {}
    for line in (PROC / str(pid) / "status").read_text().splitlines():
        name, _, value = line.partition(":")
        fields[name] = value.strip()
    return fields


def _kib(value: str | None) -> int:
    return int(value.split()[0]) * 1024 if value else 0


def descendants(root: int) -> list[int]:
    """root and every process below it (by parent pid), as /proc shows them now."""
    parents: dict[int, list[int]] = {}
    for entry in PROC.glob("[0-9]*"):
        try:
            ppid = int(_status(int(entry.name)).get("PPid", "0"))
        except (OSError, ValueError):
            continue
        parents.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(parents.get(pid, []))
    return tree


class TreeSampler:
    """Samples a process tree until stopped: `peak_tree_rss` (bytes), `peak_own_rss` {command: bytes}."""

    def __init__(self, root: int, interval: float = 0.05) -> None:
        self.root, self.interval = root, interval
        self.peak_tree_rss = 0
        self.peak_own_rss: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> None:
        total = 0
        for pid in descendants(self.root):
            try:
                status = _status(pid)
            except OSError:
                continue  # exited between the listing and the read
            total += _kib(status.get("VmRSS"))
            name = status.get("Name", "?")
            self.peak_own_rss[name] = max(self.peak_own_rss.get(name, 0), _kib(status.get("VmHWM")))
        self.peak_tree_rss = max(self.peak_tree_rss, total)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            time.sleep(self.interval)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
