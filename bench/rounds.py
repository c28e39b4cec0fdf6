"""Rounds of kubekeeper-vs-peer runs on a shared, noisy machine, and the figures they give.

The machine has 2 cores that other work uses at the same time, so a single run says little. Each bench
runs several rounds, alternates which side goes first (ABAB... so neither always meets the busier
moment, the warmer cache or the other's writeback), flushes dirty pages before every timed run (one
side's repository writes never land on the other's clock), records the 1-minute load average with
each round, and reports two ratios per pair:

- best: kubekeeper's best time over the peer's best time (each side at its least disturbed);
- median: the median of the per-round ratios (each round's pair ran seconds apart, under one load).

Goals are judged on the median; best and every round's ratio are kept next to it.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


def load1() -> float:
    return round(os.getloadavg()[0], 2)


def order(names: Sequence[str], round_index: int) -> list[str]:
    """`names` rotated by the round number: each side goes first in turn."""
    shift = round_index % len(names)
    return [*names[shift:], *names[:shift]]


@dataclass(frozen=True)
class Timing:
    wall: float
    cpu: float  # user + system seconds of the process and every child it waited for


def timed(argv: Sequence[str], env: dict[str, str], cwd: Path | None = None) -> Timing:
    """Run to completion (stdout discarded, stderr shown on failure); dirty pages are flushed first."""
    os.sync()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(list(argv), env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, argv[:4]))} exited {proc.returncode}: {proc.stderr.decode()[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Timing(wall, cpu)


def ratios(ours: Sequence[float], theirs: Sequence[float]) -> dict[str, object]:
    """best (min over min), median of the per-round ratios, and each round's ratio."""
    per_round = [a / b for a, b in zip(ours, theirs, strict=True)]
    return {
        "best": round(min(ours) / min(theirs), 3),
        "median": round(statistics.median(per_round), 3),
        "per_round": [round(r, 3) for r in per_round],
    }


def spread(values: Sequence[float]) -> dict[str, float]:
    """min, median, max and the max/min spread of a series of times: how noisy it was."""
    return {
        "min": round(min(values), 3),
        "median": round(statistics.median(values), 3),
        "max": round(max(values), 3),
        "max_over_min": round(max(values) / min(values), 3),
    }
