"""etcd's disk test without fio: small sequential writes, each followed by fdatasync.

etcd's WAL is bound by fdatasync latency, not throughput; its maintainers' check is
`fio --rw=write --ioengine=sync --fdatasync=1 --size=22m --bs=2300` with p99 < 10 ms. This does the
same I/O pattern in Python (2,300-byte writes, fdatasync after each, 22 MiB) in a temporary
directory under the target directory, and always removes it.
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from kubekeeper.errors import BadInput

BLOCK_SIZE = 2300
TOTAL_BYTES = 22 * 1024 * 1024
P99_LIMIT_MS = 10.0


@dataclass(frozen=True)
class DiskCheck:
    directory: str
    writes: int
    block_size: int
    total_bytes: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    iops: float
    seconds: float
    limit_ms: float = P99_LIMIT_MS

    @property
    def passed(self) -> bool:
        return self.p99_ms < self.limit_ms

    def as_json(self) -> dict[str, object]:
        out: dict[str, object] = asdict(self)
        out["passed"] = self.passed
        return out


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (what fio reports), on an ascending list."""
    if not sorted_values:
        return 0.0
    rank = max(1, int(-(-fraction * len(sorted_values) // 1)))  # ceil
    return sorted_values[min(rank, len(sorted_values)) - 1]


def measure(path: Path, block_size: int, total_bytes: int) -> tuple[list[float], float]:
    """fdatasync latencies in seconds for sequential writes, and the wall time of the whole run."""
    block = os.urandom(block_size)
    latencies: list[float] = []
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    started = time.perf_counter()
    try:
        written = 0
        while written < total_bytes:
            size = min(block_size, total_bytes - written)
            os.write(fd, block[:size])
            before = time.perf_counter()
            os.fdatasync(fd)
            latencies.append(time.perf_counter() - before)
            written += size
    finally:
        os.close(fd)
    return latencies, time.perf_counter() - started


def check_disk(directory: Path, block_size: int = BLOCK_SIZE, total_bytes: int = TOTAL_BYTES) -> DiskCheck:
    """Run the test in a temp dir under `directory` (etcd's data-dir parent, ideally) and clean up."""
    if not directory.is_dir():
        raise BadInput(f"--dir {directory} is not a directory")
    if block_size < 1 or total_bytes < block_size:
        raise BadInput("block size must be >= 1 and total size >= block size")
    workdir = Path(tempfile.mkdtemp(prefix=".kubekeeper-diskcheck-", dir=directory))
    try:
        latencies, seconds = measure(workdir / "wal.test", block_size, total_bytes)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    ordered = sorted(latencies)
    ms = [v * 1000 for v in ordered]
    return DiskCheck(
        directory=str(directory),
        writes=len(ms),
        block_size=block_size,
        total_bytes=total_bytes,
        p50_ms=round(statistics.median(ms), 4),
        p90_ms=round(percentile(ms, 0.90), 4),
        p99_ms=round(percentile(ms, 0.99), 4),
        max_ms=round(ms[-1], 4),
        iops=round(len(ms) / seconds, 1) if seconds > 0 else 0.0,
        seconds=round(seconds, 3),
    )
