"""Registry backup benchmark: kubekeeper vs `skopeo sync --all` (dir destination), and vs a stronger
peer, a dedup script: `skopeo copy --all` of every tag into ONE shared OCI layout (blobs stored once),
then `restic backup` of that layout. Same registry, one run.

Measures (written to bench/results/registry.json + registry.png; BENCH_COMPRESSION=auto|max|off, default
auto, goes to every restic and names the file registry-compression-<mode>.json when not auto):
- backup wall time (kubekeeper: sync into the layout + restic backup; skopeo: sync every repository;
  dedup script: skopeo copy into one layout + restic backup), in rounds (--rounds, default 3) that
  rotate which goes first, each from scratch (fresh repositories, layouts, caches and dirs), with the
  load average recorded; ratios best and median as bench/rounds.py forms them, goals on the median
- bytes stored vs the registry's unique blob bytes (skopeo stores each image separately)
- restore into an empty registry (kubekeeper restore vs skopeo syncing the dirs back)
- peak memory while backing up a registry holding one 1 GB layer: kubekeeper and its restic together
  (the process tree, sampled; bench/memory.py), and each one's own high-water mark
Goals (each reported met or missed in "goals"): backup <= 1/3 of skopeo's time, bytes stored <= 1.05x
the registry's unique blob bytes, peak memory of kubekeeper with restic <= 200 MiB.

Usage: .venv/bin/python bench/bench_registry.py [--images 36] [--shared-mb 16] [--big-mb 1024] [--rounds 3]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.memory import TreeSampler  # noqa: E402
from bench.rounds import load1, order, ratios, spread  # noqa: E402
from tests.e2e.registry.sandbox import Filler, inventory, start_registry  # noqa: E402

PY = ROOT / ".venv" / "bin" / "python"
COMPRESSION = os.environ.get("BENCH_COMPRESSION", "auto")
SUFFIX = "" if COMPRESSION == "auto" else f"-compression-{COMPRESSION}"


def dedup_script_backup(src, inventory_: dict[str, dict[str, str]], layout: Path, repo: Path, env: dict[str, str]) -> float:
    """The stronger peer: every tag `skopeo copy --all` into one shared OCI layout, then restic backup."""
    os.sync()
    start = time.perf_counter()
    for name, tags in sorted(inventory_.items()):
        for tag in sorted(t for t in tags if not t.startswith("@")):
            subprocess.run(["skopeo", "copy", "--all", "--src-tls-verify=false", f"docker://{src.host}/{name}:{tag}",
                            f"oci:{layout}:{name}:{tag}"], check=True, capture_output=True)
    subprocess.run(["restic", "backup", "-q", "--compression", COMPRESSION, "--repo", str(repo), str(layout)], env=env, check=True,
                   capture_output=True)
    return time.perf_counter() - start


def skopeo_sync_backup(src, repos: list[str], target: Path) -> float:
    """The `skopeo sync --all` peer: every repository into a dir tree (no dedup across images)."""
    os.sync()
    start = time.perf_counter()
    for name in repos:
        subprocess.run(["skopeo", "sync", "--all", "--src", "docker", "--dest", "dir", "--src-tls-verify=false",
                        f"{src.host}/{name}", str(target / name.split("/")[0])], check=True, capture_output=True)
    return time.perf_counter() - start


def du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


#: (result section, figure, the most it may be, the goal in words)
GOALS = (
    ("backup_seconds", "ratio_kubekeeper_over_skopeo", 0.333, "backup takes at most 1/3 of skopeo sync's time"),
    ("backup_seconds", "ratio_kubekeeper_over_dedup_script", 0.3,
     "backup takes at most 0.3x the dedup script's time (skopeo copy into one OCI layout + restic backup)"),
    ("bytes_stored", "kubekeeper_over_unique", 1.05, "bytes stored at most 1.05x the registry's unique blob bytes"),
    ("memory_1gb_layer", "peak_rss_mb_kubekeeper_with_restic", 200, "kubekeeper with its restic at most 200 MiB (1 GB layer)"),
)


def judge(result: dict) -> list[dict[str, object]]:
    """Each goal met or missed: {"goal", "figure", "value", "max", "met"} (backup ratios: the median over rounds)."""
    return [{"goal": words, "figure": f"{section}.{figure}", "value": result[section][figure], "max": limit,
             "met": result[section][figure] <= limit} for section, figure, limit, words in GOALS]


def run_timed(argv: list[str], env: dict[str, str]) -> tuple[float, TreeSampler, dict | None]:
    """Wall seconds, the memory of the process and its children (sampled), parsed JSON stdout if any."""
    os.sync()
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    with TreeSampler(proc.pid) as memory:
        out, err = proc.communicate()
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{argv[:4]} failed: {err.decode()[-2000:]}")
    try:
        doc = json.loads(out) if out.strip().startswith(b"{") else None
    except ValueError:
        doc = None
    return elapsed, memory, doc


def fill(registry, images: int, shared_mb: int) -> int:
    """`images` images over 4 shared layers (shared_mb each) + one 2 MB unique layer; unique bytes back."""
    f = Filler(registry)
    shared = [os.urandom(shared_mb << 20) for _ in range(4)]
    for i in range(images):
        repo = f"proj{i % 3}/app{i}"
        f.image(repo, "v1", shared + [os.urandom(2 << 20)], oci=i % 2 == 0)
    return sum(len(s) for s in shared) + images * (2 << 20)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=36)  # sharing like a real registry: many tags, few bases
    parser.add_argument("--shared-mb", type=int, default=16)
    parser.add_argument("--big-mb", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="kk-bench-registry-"))
    env = {**os.environ, "RESTIC_PASSWORD": "bench", "RESTIC_CACHE_DIR": str(work / "restic-cache")}
    env.pop("RESTIC_PASSWORD_FILE", None)
    started = []
    try:
        src = start_registry(work / "src"); started.append(src)
        kk_dst = start_registry(work / "kk-dst"); started.append(kk_dst)
        sk_dst = start_registry(work / "sk-dst"); started.append(sk_dst)
        fill(src, args.images, args.shared_mb)
        unique = du(Path(src.workdir / "data" / "docker" / "registry" / "v2" / "blobs"))
        repos = sorted(inventory(src))

        kk = [str(PY), "-m", "kubekeeper"]

        def fresh_repo(path: Path) -> Path:
            shutil.rmtree(path, ignore_errors=True)
            subprocess.run(["restic", "init", "--repo", str(path)], env=env, check=True, capture_output=True)
            return path

        def kubekeeper() -> float:
            shutil.rmtree(work / "cache", ignore_errors=True)
            elapsed, _, doc = run_timed(kk + ["backup", "registry", "--registry", src.url, "--repo", str(fresh_repo(work / "restic")),
                                              "--cache", str(work / "cache"), "--no-progress", "--format", "json",
                                              "--compression", COMPRESSION], env)
            reports.append(doc)
            return elapsed

        def dedup_script() -> float:
            shutil.rmtree(work / "oci-layout", ignore_errors=True)
            return dedup_script_backup(src, inventory(src), work / "oci-layout", fresh_repo(work / "restic-dedup"), env)

        def skopeo_sync() -> float:
            shutil.rmtree(work / "skopeo", ignore_errors=True)
            return skopeo_sync_backup(src, repos, work / "skopeo")

        sides = {"kubekeeper": kubekeeper, "dedup_script": dedup_script, "skopeo_sync": skopeo_sync}
        reports: list[dict | None] = []
        times: dict[str, list[float]] = {name: [] for name in sides}
        loads: list[float] = []
        orders: list[list[str]] = []
        for n in range(args.rounds):
            loads.append(load1())
            orders.append(order(list(sides), n))
            for name in orders[-1]:
                times[name].append(sides[name]())
            print(f"round {n + 1}/{args.rounds} load {loads[-1]}:", {k: round(v[-1], 2) for k, v in times.items()}, flush=True)
        repo, dedup_repo = work / "restic", work / "restic-dedup"  # as the last round left them
        kk_doc = reports[-1]
        kk_stored, sk_stored, dedup_stored = du(repo), du(work / "skopeo"), du(dedup_repo)
        over_skopeo = ratios(times["kubekeeper"], times["skopeo_sync"])
        over_dedup = ratios(times["kubekeeper"], times["dedup_script"])

        kk_restore, _, _ = run_timed(kk + ["restore", "registry", "--registry", kk_dst.url, "--repo", str(repo),
                                           "--no-progress", "--format", "json"], env)
        sk_start = time.perf_counter()
        for project in sorted(p for p in (work / "skopeo").iterdir()):
            subprocess.run(["skopeo", "sync", "--all", "--src", "dir", "--dest", "docker", "--dest-tls-verify=false",
                            str(project), f"{sk_dst.host}/{project.name}"], check=True, capture_output=True)
        sk_restore = time.perf_counter() - sk_start
        assert inventory(kk_dst) == inventory(src), "kubekeeper restore is not digest-exact"

        # memory with one big layer (streamed; never held in memory)
        big = start_registry(work / "big"); started.append(big)
        layer = work / "big.layer"
        h = hashlib.sha256()
        with layer.open("wb") as out:
            for _ in range(args.big_mb):
                piece = os.urandom(1 << 20)
                h.update(piece)
                out.write(piece)
        f = Filler(big)
        ldesc = f.blob_file("huge/one", layer, "sha256:" + h.hexdigest())
        cdesc = f.blob("huge/one", b'{"architecture":"amd64","os":"linux"}')
        cdesc["mediaType"] = "application/vnd.oci.image.config.v1+json"
        f.manifest("huge/one", "v1", {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                                      "config": cdesc, "layers": [ldesc]})
        layer.unlink()
        big_repo = work / "restic-big"
        subprocess.run(["restic", "init", "--repo", str(big_repo)], env=env, check=True, capture_output=True)
        big_time, big_memory, _ = run_timed(kk + ["backup", "registry", "--registry", big.url, "--repo", str(big_repo),
                                                  "--cache", str(work / "cache-big"), "--no-progress", "--format", "json"], env)
        own = big_memory.peak_own_rss

        result = {
            "setup": {"images": args.images, "shared_layers": 4, "shared_layer_mb": args.shared_mb,
                      "unique_layer_mb": 2, "repositories": len(repos), "unique_blob_bytes": unique,
                      "machine": f"{os.cpu_count()} cores", "skopeo": subprocess.run(["skopeo", "--version"], capture_output=True, text=True).stdout.strip(),
                      "restic": subprocess.run(["restic", "version"], capture_output=True, text=True).stdout.strip()},
            "compression": COMPRESSION,
            "rounds": args.rounds,
            "load_1m": loads,
            "order": orders,
            "backup_seconds": {"kubekeeper": [round(t, 2) for t in times["kubekeeper"]],
                               "skopeo_sync": [round(t, 2) for t in times["skopeo_sync"]],
                               "dedup_script": [round(t, 2) for t in times["dedup_script"]],
                               "spread": {name: spread(values) for name, values in times.items()},
                               "ratio_kubekeeper_over_skopeo": over_skopeo["median"],
                               "ratio_kubekeeper_over_skopeo_best": over_skopeo["best"],
                               "ratio_kubekeeper_over_skopeo_per_round": over_skopeo["per_round"],
                               "ratio_kubekeeper_over_dedup_script": over_dedup["median"],
                               "ratio_kubekeeper_over_dedup_script_best": over_dedup["best"],
                               "ratio_kubekeeper_over_dedup_script_per_round": over_dedup["per_round"]},
            "bytes_stored": {"kubekeeper_restic_repo": kk_stored, "skopeo_dir": sk_stored, "dedup_script_restic_repo": dedup_stored,
                             "kubekeeper_over_unique": round(kk_stored / unique, 3), "skopeo_over_unique": round(sk_stored / unique, 3)},
            "restore_seconds": {"kubekeeper": round(kk_restore, 2), "skopeo_sync": round(sk_restore, 2),
                                "ratio_kubekeeper_over_skopeo": round(kk_restore / sk_restore, 3),
                                "note": "one run each (after the last backup round), into an empty registry"},
            "memory_1gb_layer": {"layer_mb": args.big_mb,
                                 "peak_rss_mb_kubekeeper_with_restic": round(big_memory.peak_tree_rss / 2**20, 1),
                                 "peak_rss_mb_own": {name: round(rss / 2**20, 1) for name, rss in sorted(own.items())},
                                 "how": "kubekeeper's process tree sampled every 50 ms, VmRSS summed (a lower bound); "
                                        "own = each process's VmHWM by command name",
                                 "backup_seconds": round(big_time, 2)},
            "kubekeeper_backup_report": kk_doc,
            "targets": {"backup_ratio_max": 0.333, "backup_ratio_over_dedup_script_max": 0.3, "stored_over_unique_max": 1.05,
                        "peak_rss_mb_max": 200},
        }
        result["goals"] = judge(result)
        result["met"] = all(goal["met"] for goal in result["goals"])
        out = ROOT / "bench" / "results" / f"registry{SUFFIX}.json"
        out.write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps({k: result[k] for k in ("backup_seconds", "bytes_stored", "restore_seconds", "memory_1gb_layer", "goals")}, indent=2))
        chart(result, out.with_suffix(".png"))
    finally:
        for r in started:
            r.stop()
        shutil.rmtree(work, ignore_errors=True)


def chart(result: dict, path: Path) -> None:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    labels = ["backup", "restore"]
    spread_ = result["backup_seconds"]["spread"]
    kk = [spread_["kubekeeper"]["median"], result["restore_seconds"]["kubekeeper"]]
    sk = [spread_["skopeo_sync"]["median"], result["restore_seconds"]["skopeo_sync"]]
    dd = [spread_["dedup_script"]["median"], 0]
    x = range(len(labels))
    a.bar([i - 0.27 for i in x], kk, 0.27, label="kubekeeper")
    a.bar([i for i in x], dd, 0.27, label="dedup script (backup only)")
    a.bar([i + 0.27 for i in x], sk, 0.27, label="skopeo sync --all")
    a.set_xticks(list(x), labels)
    a.set_ylabel("seconds")
    a.legend()
    a.set_title(f"wall time (backup: median of {result['rounds']} rounds)")
    unique = result["setup"]["unique_blob_bytes"] / 2**20
    b.bar(["unique blobs", "kubekeeper\n(restic)", "dedup script\n(restic)", "skopeo dir"],
          [unique, result["bytes_stored"]["kubekeeper_restic_repo"] / 2**20, result["bytes_stored"]["dedup_script_restic_repo"] / 2**20,
           result["bytes_stored"]["skopeo_dir"] / 2**20])
    b.set_ylabel("MiB stored")
    b.set_title("bytes stored")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


if __name__ == "__main__":
    main()
