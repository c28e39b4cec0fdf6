"""Compare `kubekeeper etcd check-disk` with fio's etcd disk test on the same directory.

fio: `fio --rw=write --ioengine=sync --fdatasync=1 --size=22m --bs=2300` (etcd's recommended check);
kubekeeper: the same I/O pattern in pure Python. Both report the fdatasync latency percentiles;
the p99 ratio says whether the Python test agrees. Writes bench/results/diskcheck.json.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from kubekeeper.etcd.diskcheck import check_disk

RESULTS = Path(__file__).parent / "results" / "diskcheck.json"


def run_fio(directory: Path) -> dict[str, float]:
    workdir = Path(tempfile.mkdtemp(prefix="fio-", dir=directory))
    try:
        started = time.perf_counter()
        out = subprocess.run(
            ["fio", "--name=etcd-disk-check", f"--directory={workdir}", "--rw=write", "--ioengine=sync",
             "--fdatasync=1", "--size=22m", "--bs=2300", "--output-format=json"],
            capture_output=True, text=True, check=True,
        ).stdout
        seconds = time.perf_counter() - started
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    job = json.loads(out[out.index("{"):])["jobs"][0]
    sync = job["sync"]["lat_ns"]
    pct = sync["percentile"]
    return {
        "p50_ms": pct["50.000000"] / 1e6,
        "p90_ms": pct["90.000000"] / 1e6,
        "p99_ms": pct["99.000000"] / 1e6,
        "syncs": sync["N"],
        "write_iops": job["write"]["iops"],
        "seconds": round(seconds, 3),
    }


def main() -> int:
    directory = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("/var/tmp")
    if shutil.which("fio") is None:
        print("fio is not installed (Debian package fio)", file=sys.stderr)
        return 3
    runs = []
    for _ in range(2):  # alternate, so neither tool always runs on a warmer disk
        started = time.perf_counter()
        ours = check_disk(directory).as_json()
        ours["wall_seconds"] = round(time.perf_counter() - started, 3)
        theirs = run_fio(directory)
        runs.append({"kubekeeper": ours, "fio": theirs, "p99_ratio": round(ours["p99_ms"] / theirs["p99_ms"], 3)})
    result = {
        "topic": "etcd disk check: fdatasync latency of 2,300-byte sequential writes, 22 MiB",
        "directory": str(directory),
        "machine": {"kernel": platform.release(), "cpus": os.cpu_count()},
        "fio_command": "fio --rw=write --ioengine=sync --fdatasync=1 --size=22m --bs=2300",
        "runs": runs,
        "p99_ratio_mean": round(sum(r["p99_ratio"] for r in runs) / len(runs), 3),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    for r in runs:
        print(f"p99 kubekeeper {r['kubekeeper']['p99_ms']:.3f} ms, fio {r['fio']['p99_ms']:.3f} ms, ratio {r['p99_ratio']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
