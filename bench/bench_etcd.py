"""Benchmark: `kubekeeper backup etcd` vs `etcdctl snapshot save` + `restic backup` of the file.

Same run, same machine, same etcd 3.5 member (Debian's etcd on PATH, 3.5.16 from trixie) holding a db
of >= 300 MB of incompressible values (BENCH_ETCD_DB_MB), fresh local restic repositories and caches
for every run (no dedup head start). Rounds (BENCH_ETCD_ROUNDS, default 4) alternate which side goes
first and record the load average; see bench/rounds.py for how ratios are formed. Also: kubekeeper's
snapshot alone (verified, to a file) vs `etcdctl snapshot save` alone.
BENCH_COMPRESSION=auto|max|off (default auto) is passed to both sides (`--compression`); results go to
bench/results/etcd.json (auto) or etcd-compression-<mode>.json (+ .png when matplotlib is there).
Goal (issue 11): kubekeeper <= 1.1x the pair, judged on the median ratio; aim <= 0.8x.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.rounds import Timing, load1, order, ratios, spread, timed  # noqa: E402
from kubekeeper.etcd.client import Endpoint, EtcdClient  # noqa: E402
from kubekeeper.etcd.snapshot import save_snapshot  # noqa: E402

RESULTS = ROOT / "bench" / "results"
TARGET_DB = int(os.environ.get("BENCH_ETCD_DB_MB", "320")) << 20
VALUE = 1 << 20
ROUNDS = int(os.environ.get("BENCH_ETCD_ROUNDS", "4"))
KUBEKEEPER = Path(sys.executable).with_name("kubekeeper")
COMPRESSION = os.environ.get("BENCH_COMPRESSION", "auto")
SUFFIX = "" if COMPRESSION == "auto" else f"-compression-{COMPRESSION}"
ETCD = shutil.which("etcd") or "/usr/bin/etcd"
ETCDCTL = shutil.which("etcdctl") or "/usr/bin/etcdctl"
BACKUP = "kubekeeper_backup / (etcdctl snapshot save + restic backup)"
SNAPSHOT = "kubekeeper snapshot only / etcdctl snapshot save"
#: (ratio, the most it may be, words, a goal (counts for `met`) or an aim (reported only))
GOALS = (
    (BACKUP, 1.1, "kubekeeper backup etcd <= 1.1x etcdctl snapshot save + restic backup", "goal"),
    (BACKUP, 0.8, "kubekeeper backup etcd <= 0.8x the pair (snapshot stream and restic ingest overlapping)", "aim"),
)


def judge(ratio_table: dict[str, dict]) -> list[dict[str, object]]:
    """Each goal and aim on the median ratio: {"goal", "kind", "median", "best", "max", "met"}."""
    return [{"goal": words, "kind": kind, "median": ratio_table[name]["median"], "best": ratio_table[name]["best"],
             "max": limit, "met": ratio_table[name]["median"] <= limit} for name, limit, words, kind in GOALS]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_etcd(work: Path) -> tuple[subprocess.Popen[bytes], str]:
    client_port, peer_port = free_port(), free_port()
    url = f"http://127.0.0.1:{client_port}"
    log = open(work / "etcd.log", "wb")
    etcd = subprocess.Popen(
        [ETCD, "--name", "b0", "--data-dir", str(work / "data"),
         "--listen-client-urls", url, "--advertise-client-urls", url,
         "--listen-peer-urls", f"http://127.0.0.1:{peer_port}", "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer_port}",
         "--initial-cluster", f"b0=http://127.0.0.1:{peer_port}", "--quota-backend-bytes", str(8 << 30),
         "--max-request-bytes", str(2 << 20), "--logger", "zap", "--log-level", "warn"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    log.close()
    return etcd, url


def process_cpu(pid: int) -> float:
    """user + system seconds a running process used so far (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    from pyetcd import etcdrpc


    work = Path(tempfile.mkdtemp(prefix="bench-etcd-"))
    etcd, url = start_etcd(work)
    try:
        client = EtcdClient([Endpoint.parse(url)], timeout=30)
        deadline = time.monotonic() + 30
        while True:
            try:
                client.status(url)
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        kv = client._client(url).kvstub
        i = 0
        while client.status(url).db_size < TARGET_DB:
            kv.Put(etcdrpc.PutRequest(key=f"/bench/{i:06d}".encode(), value=os.urandom(VALUE)), 60)
            i += 1
        status = client.status(url)
        print(f"etcd db {status.db_size / 2**20:.0f} MiB, {i} keys, revision {status.revision}", flush=True)

        password = work / "pw"
        password.write_text("bench-password\n")
        base_env = dict(os.environ, RESTIC_PASSWORD_FILE=str(password), ETCDCTL_API="3")
        base_env.pop("RESTIC_PASSWORD", None)

        def repo_env(name: str) -> dict[str, str]:
            env = dict(base_env, RESTIC_REPOSITORY=str(work / f"repo-{name}"), RESTIC_CACHE_DIR=str(work / f"cache-{name}"))
            shutil.rmtree(work / f"repo-{name}", ignore_errors=True)
            shutil.rmtree(work / f"cache-{name}", ignore_errors=True)
            subprocess.run(["restic", "init"], env=env, check=True, capture_output=True)
            return env

        def peer() -> dict[str, Timing]:
            env = repo_env("peer")
            db = work / "peer.db"
            etcd_before = process_cpu(etcd.pid)
            snap = timed([ETCDCTL, "--endpoints", url, "snapshot", "save", str(db)], base_env)
            store = timed(["restic", "backup", "--compression", COMPRESSION, "--tag", "kind:etcd", str(db)], env)
            etcd_cpu = process_cpu(etcd.pid) - etcd_before
            db.unlink()
            return {"peer_snapshot": snap, "peer_restic": store,
                    "peer_total": Timing(snap.wall + store.wall, snap.cpu + store.cpu + etcd_cpu)}

        def kubekeeper() -> dict[str, Timing]:
            env = repo_env("kk")
            etcd_before = process_cpu(etcd.pid)
            run = timed([str(KUBEKEEPER), "backup", "etcd", "--endpoints", url, "--cluster", "bench", "--compression", COMPRESSION], env)
            return {"kubekeeper_backup": Timing(run.wall, run.cpu + process_cpu(etcd.pid) - etcd_before)}

        def etcdctl_only() -> dict[str, Timing]:
            run = timed([ETCDCTL, "--endpoints", url, "snapshot", "save", str(work / "only.db")], base_env)
            (work / "only.db").unlink()
            return {"etcdctl_snapshot_only": run}

        def kubekeeper_only() -> dict[str, Timing]:
            os.sync()
            start = time.perf_counter()
            save_snapshot(client, work / "kk-only.db")
            wall = time.perf_counter() - start
            (work / "kk-only.db").unlink()
            return {"kubekeeper_snapshot_only": Timing(wall, 0.0)}

        rows: dict[str, list[float]] = {}
        cpu: dict[str, list[float]] = {}
        loads: list[float] = []
        orders: list[list[str]] = []
        for n in range(ROUNDS):
            loads.append(load1())
            first = order(["peer", "kubekeeper"], n)
            orders.append(first)
            sides = {"peer": peer, "kubekeeper": kubekeeper}
            snapshot_sides = {"peer": etcdctl_only, "kubekeeper": kubekeeper_only}
            for name in first:
                for key, timing in sides[name]().items():
                    rows.setdefault(key, []).append(timing.wall)
                    cpu.setdefault(key, []).append(timing.cpu)
            for name in first:
                for key, timing in snapshot_sides[name]().items():
                    rows.setdefault(key, []).append(timing.wall)
            print(f"round {n + 1}/{ROUNDS} load {loads[-1]} first {first[0]}:",
                  {k: round(v[-1], 2) for k, v in rows.items()}, flush=True)
        client.close()
        ratio_table = {
            BACKUP: ratios(rows["kubekeeper_backup"], rows["peer_total"]),
            SNAPSHOT: ratios(rows["kubekeeper_snapshot_only"], rows["etcdctl_snapshot_only"]),
        }
        goals = judge(ratio_table)
        result = {
            "topic": "etcd backup: kubekeeper (gRPC snapshot from leader, verified by the relay restic runs, streamed into restic) "
                     "vs etcdctl snapshot save + restic backup",
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                        "note": "shared 2-core machine (other test suites running); rounds alternate which side goes first"},
            "compression": COMPRESSION,
            "versions": {"restic": subprocess.run(["restic", "version"], capture_output=True, text=True).stdout.strip(),
                         "etcd": status.version},
            "db_bytes": status.db_size,
            "keys": i,
            "rounds": ROUNDS,
            "load_1m": loads,
            "first_in_round": [o[0] for o in orders],
            "seconds": {k: [round(x, 3) for x in v] for k, v in rows.items()},
            "spread": {k: spread(v) for k, v in rows.items()},
            "cpu_seconds": {k: [round(x, 3) for x in v] for k, v in cpu.items() if any(v)},
            "cpu_note": "user+system of the side's processes (kubekeeper, its restic and relay; etcdctl and restic) plus the "
                        "etcd server's own CPU during the run",
            "ratios": ratio_table,
            "goals": goals,
            "met": all(g["met"] for g in goals if g["kind"] == "goal"),
        }
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / f"etcd{SUFFIX}.json").write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps({"ratios": ratio_table, "goals": goals, "load_1m": loads}, indent=2))
        chart(rows)
    finally:
        etcd.terminate()
        etcd.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


def chart(rows: dict[str, list[float]]) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, ax = plt.subplots(figsize=(7.5, 3.4))
    labels = ["backup: etcdctl+restic", "backup: kubekeeper", "snapshot: etcdctl", "snapshot: kubekeeper"]
    keys = ["peer_total", "kubekeeper_backup", "etcdctl_snapshot_only", "kubekeeper_snapshot_only"]
    medians = [sorted(rows[k])[len(rows[k]) // 2] for k in keys]
    ax.barh(labels, medians, color=["#999", "#2a7", "#999", "#2a7"])
    for y, key in enumerate(keys):
        ax.plot(rows[key], [y] * len(rows[key]), "k.", markersize=4)
    ax.set_xlabel("seconds (bar: median, dots: each round; lower is better)")
    ax.set_title(f"etcd backup, db >= 300 MB, compression {COMPRESSION}")
    fig.tight_layout()
    fig.savefig(RESULTS / f"etcd{SUFFIX}.png", dpi=100)


if __name__ == "__main__":
    main()
