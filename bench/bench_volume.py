#!/usr/bin/env python3
"""Benchmark: `kubekeeper backup volume` vs the seed's method and vs plain restic, same run, same data.

Dataset (generated, >= 1 GB): many small files plus a few large ones, incompressible bytes.
Methods, each into its own fresh restic repository:
  - kubekeeper: `kubekeeper backup volume --pvc bench/data --source-dir DIR` (reads the volume in place)
  - plain restic: `restic backup .` run inside DIR
  - seed: `rsync -a --delete DIR/ STAGING/` then `restic backup STAGING`
Each method runs a full backup, then (after ~1% of the files change and some are added) an
incremental one. Wall time includes process start-up. Results: bench/results/volume.json (+ .png).
Targets: kubekeeper <= 1.0x plain restic in every run (issue 11; issue 5 asked <= 1.1x) and <= 0.75x the
seed method, each judged for the full and the incremental run; `met` is true only when all goals are.
BENCH_COMPRESSION=auto|max|off (default auto) is passed to every method; results go to
bench/results/volume.json (auto) or volume-compression-<mode>.json.
"""

from __future__ import annotations

import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
SMALL_FILES = int(os.environ.get("BENCH_SMALL_FILES", "24000"))
LARGE_FILES = int(os.environ.get("BENCH_LARGE_FILES", "6"))
LARGE_SIZE = int(os.environ.get("BENCH_LARGE_MB", "110")) << 20
REPEATS = int(os.environ.get("BENCH_REPEATS", "2"))
KUBEKEEPER = [sys.executable, "-m", "kubekeeper"]
PHASES = ("full", "incremental")
#: ratio name -> (the most it may be, the goal in words)
GOALS = {
    "kubekeeper_vs_restic": (1.0, "kubekeeper <= 1.0x plain restic"),
    "kubekeeper_vs_seed": (0.75, "kubekeeper <= 0.75x the seed method (rsync + restic)"),
}


def judge(ratios: dict[str, dict[str, float]]) -> list[dict[str, object]]:
    """Each goal in each phase, met or missed: {"phase", "goal", "ratio", "max", "met"}."""
    return [
        {"phase": phase, "goal": words, "ratio": ratios[phase][name], "max": limit, "met": ratios[phase][name] <= limit}
        for phase in PHASES
        for name, (limit, words) in GOALS.items()
    ]
COMPRESSION = os.environ.get("BENCH_COMPRESSION", "auto")
SUFFIX = "" if COMPRESSION == "auto" else f"-compression-{COMPRESSION}"


def generate(root: Path, seed: int = 5) -> int:
    """Small files 1-40 KiB in nested dirs, and a few large files; returns total bytes."""
    rng = random.Random(seed)
    total = 0
    for i in range(SMALL_FILES):
        directory = root / f"d{i % 40:02d}" / f"e{i % 7}"
        directory.mkdir(parents=True, exist_ok=True)
        size = rng.randint(1 << 10, 40 << 10)
        (directory / f"f{i:06d}.bin").write_bytes(os.urandom(size))
        total += size
    big = root / "large"
    big.mkdir(exist_ok=True)
    for i in range(LARGE_FILES):
        with open(big / f"blob{i}.bin", "wb") as handle:
            for _ in range(LARGE_SIZE >> 22):
                handle.write(os.urandom(4 << 20))
        total += LARGE_SIZE
    return total


def mutate(root: Path, seed: int = 7) -> None:
    """~1% of small files rewritten, 200 new ones, one large file appended to."""
    rng = random.Random(seed)
    files = sorted(root.glob("d*/e*/*.bin"))
    for path in rng.sample(files, max(1, len(files) // 100)):
        path.write_bytes(os.urandom(rng.randint(1 << 10, 40 << 10)))
    for i in range(200):
        (root / "d00" / "e0" / f"new{i:04d}.bin").write_bytes(os.urandom(8 << 10))
    with open(root / "large" / "blob0.bin", "ab") as handle:
        handle.write(os.urandom(8 << 20))


def timed(argv: list[str], env: dict[str, str], cwd: Path | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=env, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - start


def repo_env(work: Path, name: str, password_file: Path) -> dict[str, str]:
    repo = work / f"repo-{name}"
    env = {**os.environ, "RESTIC_REPOSITORY": str(repo), "RESTIC_PASSWORD_FILE": str(password_file), "RESTIC_CACHE_DIR": str(work / f"cache-{name}")}
    if repo.exists():
        shutil.rmtree(repo)
    subprocess.run(["restic", "init", "-q"], env=env, check=True, stdout=subprocess.DEVNULL)
    return env


def run_methods(data: Path, work: Path, envs: dict[str, dict[str, str]]) -> dict[str, float]:
    staging = work / "staging"
    times = {}
    times["kubekeeper"] = timed([*KUBEKEEPER, "backup", "volume", "--pvc", "bench/data", "--source-dir", str(data), "--node", "bench",
                                 "--compression", COMPRESSION], envs["kubekeeper"])
    times["restic"] = timed(["restic", "backup", "-q", "--compression", COMPRESSION, "--host", "bench", "."], envs["restic"], cwd=data)
    start = time.perf_counter()
    subprocess.run(["rsync", "-a", "--delete", f"{data}/", f"{staging}/"], check=True)
    subprocess.run(["restic", "backup", "-q", "--compression", COMPRESSION, "--host", "bench", str(staging)], env=envs["seed"], check=True,
                   stdout=subprocess.DEVNULL)
    times["seed"] = time.perf_counter() - start
    return times


def one_round(work: Path, password_file: Path) -> dict[str, dict[str, float]]:
    data = work / "volume"
    if data.exists():
        shutil.rmtree(data)
    shutil.rmtree(work / "staging", ignore_errors=True)
    data.mkdir()
    generate(data)
    envs = {name: repo_env(work, name, password_file) for name in ("kubekeeper", "restic", "seed")}
    full = run_methods(data, work, envs)
    mutate(data)
    incremental = run_methods(data, work, envs)
    return {"full": full, "incremental": incremental}


def chart(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    phases = ["full", "incremental"]
    methods = ["kubekeeper", "restic", "seed"]
    fig, axes = plt.subplots(1, 2, figsize=(9, 4))
    for ax, phase in zip(axes, phases, strict=True):
        values = [result["seconds"][phase][m] for m in methods]
        ax.bar(["kubekeeper\nbackup volume", "plain restic", "seed: rsync\n+ restic"], values, color=["#2b7bba", "#999999", "#d95f02"])
        ax.set_title(f"{phase} backup, {result['dataset']['bytes'] / 1e9:.2f} GB")
        ax.set_ylabel("wall time (s, median)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main() -> int:
    if not shutil.which("restic") or not shutil.which("rsync"):
        print("needs restic and rsync on PATH", file=sys.stderr)
        return 2
    base = Path(os.environ.get("BENCH_DIR", tempfile.gettempdir()))
    with tempfile.TemporaryDirectory(prefix="kk-bench-volume-", dir=base) as tmp:
        work = Path(tmp)
        password_file = work / "password"
        password_file.write_text("bench-password\n")
        rounds = [one_round(work, password_file) for _ in range(REPEATS)]
        data = work / "volume"
        files = sum(1 for p in data.rglob("*") if p.is_file())
        size = sum(p.stat().st_size for p in data.rglob("*") if p.is_file())
        restic_version = subprocess.run(["restic", "version"], capture_output=True, text=True).stdout.strip()
    seconds = {
        phase: {m: round(statistics.median(r[phase][m] for r in rounds), 2) for m in ("kubekeeper", "restic", "seed")}
        for phase in PHASES
    }
    ratios = {
        phase: {
            "kubekeeper_vs_restic": round(seconds[phase]["kubekeeper"] / seconds[phase]["restic"], 3),
            "kubekeeper_vs_seed": round(seconds[phase]["kubekeeper"] / seconds[phase]["seed"], 3),
        }
        for phase in seconds
    }
    goals = judge(ratios)
    result = {
        "benchmark": "volume backup",
        "compression": COMPRESSION,
        "dataset": {"bytes": size, "files": files, "small_files": SMALL_FILES, "large_files": LARGE_FILES, "large_file_bytes": LARGE_SIZE},
        "repeats": REPEATS,
        "seconds": seconds,
        "ratios": ratios,
        "targets": {f"{name}_max": limit for name, (limit, _) in GOALS.items()},
        "goals": goals,
        "met": all(goal["met"] for goal in goals),
        "rounds": rounds,
        "environment": {"restic": restic_version, "cpus": os.cpu_count(), "python": platform.python_version(), "note": "shared 2-core machine; page cache warm for every method"},
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"volume{SUFFIX}.json").write_text(json.dumps(result, indent=2) + "\n")
    chart(result, RESULTS / f"volume{SUFFIX}.png")
    print(json.dumps({"seconds": seconds, "ratios": ratios, "goals": goals, "met": result["met"]}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
