"""Benchmark: `kubekeeper lint` against checkov's Kubernetes checks on the same generated corpus.

Both tools run in the same invocation of this script on the same >= 2,000 workload manifests (mixed
kinds, 10 documents per file, see bench/lint_corpus.py), each as a fresh process writing JSON, as a
CI job would run them. checkov runs with --skip-download and BC_SKIP_MAPPING so it never waits on
the network. The machine is shared, so kubekeeper (cheap) runs 3 times and checkov (expensive) once;
the ratio uses kubekeeper's median wall time, and its slowest run is recorded too.
Writes bench/results/lint.json and lint.png. Requirement (issue 7): ratio >= 20.
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
BIN = Path(sys.executable).parent
#: checkov pins old packaging/dateutil, so `make bench` keeps it in its own venv beside ours
PEERS_BIN = Path(__file__).resolve().parent.parent / ".venv-peers" / "bin"
CHECKOV = PEERS_BIN / "checkov" if (PEERS_BIN / "checkov").exists() else BIN / "checkov"
RESULTS = HERE / "results"


def timed(argv: list[str], env: dict[str, str] | None = None) -> dict[str, float]:
    """Wall and CPU seconds of one child process (its stdout is kept to check it did the work)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, env={**os.environ, **(env or {})}, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_s": round(wall, 3), "cpu_s": round(cpu, 3), "returncode": proc.returncode, "stdout": proc.stdout}


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="kk-lint-bench-") as tmp:
        corpus = Path(tmp) / "corpus"
        files = generate(corpus, MANIFESTS)
        kk_argv = [str(BIN / "kubekeeper"), "lint", str(corpus), "--format", "json"]
        kk_runs = [timed(kk_argv) for _ in range(3)]
        ck_env = {"BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false", "LOG_LEVEL": "ERROR"}
        ck = timed([str(CHECKOV), "-d", str(corpus), "--framework", "kubernetes", "--quiet", "--compact",
                    "--skip-download", "-o", "json"], ck_env)
    kk_doc = json.loads(kk_runs[0]["stdout"])
    ck_doc = json.loads(ck["stdout"])
    ck_summary = ck_doc["summary"] if isinstance(ck_doc, dict) else ck_doc[0]["summary"]
    kk_wall = statistics.median(r["wall_s"] for r in kk_runs)
    kk_worst = max(r["wall_s"] for r in kk_runs)
    kk_cpu = statistics.median(r["cpu_s"] for r in kk_runs)
    figures = {
        "topic": "lint",
        "corpus": {"workload_manifests": MANIFESTS, "files": len(files), "documents_per_file": 10,
                   "kinds": ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job", "CronJob", "Pod"]},
        "kubekeeper": {"wall_s_runs": [r["wall_s"] for r in kk_runs], "wall_s_median": kk_wall, "cpu_s_median": kk_cpu,
                       "workloads": len(kk_doc["workloads"]), "findings": len(kk_doc["findings"]),
                       "exit_codes": [r["returncode"] for r in kk_runs]},
        "checkov": {"version": ck_summary.get("checkov_version"), "wall_s": ck["wall_s"], "cpu_s": ck["cpu_s"],
                    "resources": ck_summary.get("resource_count"), "passed": ck_summary.get("passed"),
                    "failed": ck_summary.get("failed"), "exit_code": ck["returncode"]},
        "ratio_wall": round(ck["wall_s"] / kk_wall, 1),
        "ratio_wall_vs_slowest_kubekeeper_run": round(ck["wall_s"] / kk_worst, 1),
        "ratio_cpu": round(ck["cpu_s"] / kk_cpu, 1),
        "required_ratio": 20,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
                    "note": "shared 2-core machine; other workers were running"},
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "lint.json").write_text(json.dumps(figures, indent=2) + "\n")
    chart(figures)
    print(json.dumps({k: figures[k] for k in ("ratio_wall", "ratio_wall_vs_slowest_kubekeeper_run", "ratio_cpu")}))
    return 0 if figures["ratio_wall"] >= 20 else 1


def chart(figures: dict) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    names = ["kubekeeper lint", f"checkov {figures['checkov']['version']}"]
    walls = [figures["kubekeeper"]["wall_s_median"], figures["checkov"]["wall_s"]]
    fig, ax = plt.subplots(figsize=(6, 2.6))
    bars = ax.barh(names, walls, color=["#2a9d8f", "#e76f51"])
    ax.bar_label(bars, labels=[f"{w:.1f} s" for w in walls], padding=3)
    ax.set_xlabel("wall time (s), lower is better")
    ax.set_title(f"{figures['corpus']['workload_manifests']} workload manifests: {figures['ratio_wall']}x faster")
    ax.set_xlim(0, max(walls) * 1.2)
    fig.tight_layout()
    fig.savefig(RESULTS / "lint.png", dpi=120)


if __name__ == "__main__":
    sys.exit(main())
