"""Benchmark: `kubekeeper lint` against checkov's Kubernetes checks on the same manifests.

Main measurement (the goal): both tools in the same invocation of this script on the same 2,000
generated workload manifests (mixed kinds, 10 documents per file, see bench/lint_corpus.py), each as a
fresh process writing JSON, as a CI job would run them. Second measurement: the real published
manifests of tests/data/lint-corpus (535 files, 12 projects), to show the ratio holds on real input.
checkov runs with --skip-download and BC_SKIP_MAPPING so it never waits on the network.

The machine is shared (2 cores, other jobs running), so both tools run several times, interleaved,
and the JSON keeps every run, the load average around them, and the spread of the ratio (slowest
checkov run against fastest kubekeeper run and the other way round). The ratio is median against
median. Writes bench/results/lint.json and lint.png. Goal (issue 13): wall-time ratio >= 30.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from lint_corpus import generate  # noqa: E402

MANIFESTS = 2000
GOAL = 30
KK_RUNS = int(os.environ.get("KK_BENCH_KK_RUNS", "9"))
CK_RUNS = int(os.environ.get("KK_BENCH_CK_RUNS", "3"))
BIN = Path(sys.executable).parent
#: checkov pins old packaging/dateutil, so `make bench` keeps it in its own venv beside ours
PEERS_BIN = HERE.parent / ".venv-peers" / "bin"
CHECKOV = PEERS_BIN / "checkov" if (PEERS_BIN / "checkov").exists() else BIN / "checkov"
REAL_CORPUS = HERE.parent / "tests" / "data" / "lint-corpus"
RESULTS = HERE / "results"
CHECKOV_ENV = {"BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false", "LOG_LEVEL": "ERROR"}


def timed(argv: list[str], env: dict[str, str] | None = None) -> dict:
    """Wall and CPU seconds of one child process (its stdout is kept to check it did the work)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load = os.getloadavg()[0]
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, env={**os.environ, **(env or {})}, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_s": round(wall, 3), "cpu_s": round(cpu, 3), "returncode": proc.returncode,
            "load_1m": round(load, 2), "stdout": proc.stdout}


def kubekeeper(path: Path) -> list[str]:
    return [str(BIN / "kubekeeper"), "lint", str(path), "--format", "json"]


def checkov(path: Path) -> list[str]:
    return [str(CHECKOV), "-d", str(path), "--framework", "kubernetes", "--quiet", "--compact", "--skip-download", "-o", "json"]


def checkov_summary(stdout: bytes) -> dict:
    document = json.loads(stdout)
    return document["summary"] if isinstance(document, dict) else document[0]["summary"]


def compare(path: Path, kk_runs: int, ck_runs: int) -> dict:
    """Run both tools on `path`, interleaved: kubekeeper's runs spread evenly between checkov's, so a
    burst of load from other jobs hits both tools alike."""
    kk, ck = [], []
    per_gap = max(1, kk_runs // (ck_runs + 1))
    for _ in range(ck_runs):
        kk.extend(timed(kubekeeper(path)) for _ in range(per_gap))
        ck.append(timed(checkov(path), CHECKOV_ENV))
    kk.extend(timed(kubekeeper(path)) for _ in range(max(0, kk_runs - len(kk))))
    kk_doc = json.loads(kk[0]["stdout"])
    summary = checkov_summary(ck[0]["stdout"])
    kk_walls, ck_walls = [r["wall_s"] for r in kk], [r["wall_s"] for r in ck]
    kk_wall, ck_wall = statistics.median(kk_walls), statistics.median(ck_walls)
    kk_cpu, ck_cpu = statistics.median(r["cpu_s"] for r in kk), statistics.median(r["cpu_s"] for r in ck)
    return {
        "kubekeeper": {"wall_s_runs": kk_walls, "cpu_s_runs": [r["cpu_s"] for r in kk], "load_1m_runs": [r["load_1m"] for r in kk],
                       "wall_s_median": kk_wall, "cpu_s_median": kk_cpu, "workloads": len(kk_doc["workloads"]),
                       "findings": len(kk_doc["findings"]), "problems": len(kk_doc.get("problems", [])),
                       "exit_codes": sorted({r["returncode"] for r in kk})},
        "checkov": {"version": summary.get("checkov_version"), "wall_s_runs": ck_walls, "cpu_s_runs": [r["cpu_s"] for r in ck],
                    "load_1m_runs": [r["load_1m"] for r in ck], "wall_s_median": ck_wall, "cpu_s_median": ck_cpu,
                    "resources": summary.get("resource_count"), "passed": summary.get("passed"), "failed": summary.get("failed"),
                    "exit_codes": sorted({r["returncode"] for r in ck})},
        "ratio_wall": round(ck_wall / kk_wall, 1),
        "ratio_wall_range": [round(min(ck_walls) / max(kk_walls), 1), round(max(ck_walls) / min(kk_walls), 1)],
        "ratio_cpu": round(ck_cpu / kk_cpu, 1),
    }


def _commit() -> str | None:
    """The code measured: HEAD of this checkout, marked `+dirty` when lint's sources differ from it."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "src/kubekeeper/lint"], cwd=HERE.parent,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("+dirty" if dirty else "")


def _history(figures: dict) -> list[dict]:
    """Earlier runs (kept from the previous lint.json) and this one: on a shared machine one run is
    not enough to judge a ratio, so the spread across runs is kept next to the latest figures."""
    previous = []
    try:
        previous = json.loads((RESULTS / "lint.json").read_text()).get("history", [])
    except (OSError, ValueError):
        pass
    run = {"measured_at": figures["measured_at"], "commit": figures["commit"], "ratio_wall": figures["generated"]["ratio_wall"],
           "ratio_cpu": figures["generated"]["ratio_cpu"], "kubekeeper_wall_s": figures["generated"]["kubekeeper"]["wall_s_median"],
           "checkov_wall_s": figures["generated"]["checkov"]["wall_s_median"],
           "load_1m": [figures["machine"]["load_1m_before"], figures["machine"]["load_1m_after"]]}
    return (previous + [run])[-12:]


def main() -> int:
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="kk-lint-bench-") as tmp:
        corpus = Path(tmp) / "corpus"
        files = generate(corpus, MANIFESTS)
        generated = compare(corpus, KK_RUNS, CK_RUNS)
    real = compare(REAL_CORPUS, 3, 1) if REAL_CORPUS.is_dir() else None
    figures = {
        "topic": "lint",
        "goal": {"ratio_wall_at_least": GOAL, "met": generated["ratio_wall"] >= GOAL},
        "corpus": {"workload_manifests": MANIFESTS, "files": len(files), "documents_per_file": 10,
                   "kinds": ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job", "CronJob", "Pod"]},
        "generated": generated,
        "real_corpus": {"path": "tests/data/lint-corpus", **real} if real else None,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
                    "load_1m_before": round(load_before[0], 2), "load_1m_after": round(os.getloadavg()[0], 2),
                    "note": "shared 2-core machine; other workers were running"},
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "commit": _commit(),
    }
    figures["history"] = _history(figures)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "lint.json").write_text(json.dumps(figures, indent=2) + "\n")
    chart(figures)
    print(json.dumps({"ratio_wall": generated["ratio_wall"], "ratio_wall_range": generated["ratio_wall_range"],
                      "ratio_cpu": generated["ratio_cpu"], "real_corpus_ratio_wall": real["ratio_wall"] if real else None,
                      "goal_met": figures["goal"]["met"]}))
    return 0 if figures["goal"]["met"] else 1


def chart(figures: dict) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    sets = [("2,000 generated workloads", figures["generated"])]
    if figures.get("real_corpus"):
        sets.append(("real corpus (535 files)", figures["real_corpus"]))
    fig, axes = plt.subplots(len(sets), 1, figsize=(6.4, 1.9 * len(sets) + 0.6), squeeze=False)
    for ax, (title, data) in zip(axes[:, 0], sets, strict=True):
        names = ["kubekeeper lint", f"checkov {data['checkov']['version']}"]
        walls = [data["kubekeeper"]["wall_s_median"], data["checkov"]["wall_s_median"]]
        bars = ax.barh(names, walls, color=["#2a9d8f", "#e76f51"])
        ax.bar_label(bars, labels=[f"{w:.2f} s" for w in walls], padding=3)
        ax.set_xlim(0, max(walls) * 1.25)
        ax.set_title(f"{title}: {data['ratio_wall']}x faster (median wall time)", fontsize=10)
    axes[-1, 0].set_xlabel("wall time (s), lower is better")
    fig.tight_layout()
    fig.savefig(RESULTS / "lint.png", dpi=120)


if __name__ == "__main__":
    sys.exit(main())
