"""Benchmark: `kubekeeper backup etcd` vs `etcdctl snapshot save` + `restic backup` of the file.

Same run, same machine, same etcd 3.5 member (Debian's etcd on PATH, 3.5.16 from trixie) holding a db
of >= 300 MB of incompressible values, fresh local restic repositories for every run (no dedup head
start). Also: kubekeeper's snapshot alone (verified, to a file) vs `etcdctl snapshot save` alone.
BENCH_COMPRESSION=auto|max|off (default auto) is passed to both sides (`--compression`); results go to
bench/results/etcd.json (auto) or etcd-compression-<mode>.json (+ .png when matplotlib is there).
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

from pyetcd import etcdrpc

from kubekeeper.etcd.client import Endpoint, EtcdClient
from kubekeeper.etcd.snapshot import save_snapshot

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
TARGET_DB = int(os.environ.get("BENCH_ETCD_DB_MB", "320")) << 20
VALUE = 1 << 20
ROUNDS = int(os.environ.get("BENCH_ETCD_ROUNDS", "2"))
KUBEKEEPER = Path(sys.executable).with_name("kubekeeper")
COMPRESSION = os.environ.get("BENCH_COMPRESSION", "auto")
SUFFIX = "" if COMPRESSION == "auto" else f"-compression-{COMPRESSION}"
ETCD = shutil.which("etcd") or "/usr/bin/etcd"
ETCDCTL = shutil.which("etcdctl") or "/usr/bin/etcdctl"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def timed(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - start


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-etcd-"))
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
        etcdctl = ETCDCTL
        rows: dict[str, list[float]] = {"peer_snapshot": [], "peer_restic": [], "peer_total": [], "kubekeeper_backup": [],
                                        "etcdctl_snapshot_only": [], "kubekeeper_snapshot_only": []}
        for n in range(ROUNDS):
            for repo in (work / f"peer-{n}", work / f"kk-{n}"):
                subprocess.run(["restic", "init"], env=dict(base_env, RESTIC_REPOSITORY=str(repo)), check=True, capture_output=True)
            db = work / "peer.db"
            snap = timed([etcdctl, "--endpoints", url, "snapshot", "save", str(db)], base_env)
            store = timed(["restic", "backup", "--compression", COMPRESSION, "--tag", "kind:etcd", str(db)],
                          dict(base_env, RESTIC_REPOSITORY=str(work / f"peer-{n}")))
            db.unlink()
            rows["peer_snapshot"].append(snap)
            rows["peer_restic"].append(store)
            rows["peer_total"].append(snap + store)
            rows["kubekeeper_backup"].append(timed(
                [str(KUBEKEEPER), "backup", "etcd", "--endpoints", url, "--repo", str(work / f"kk-{n}"), "--cluster", "bench",
                 "--compression", COMPRESSION], base_env))
            rows["etcdctl_snapshot_only"].append(timed([etcdctl, "--endpoints", url, "snapshot", "save", str(work / "only.db")], base_env))
            (work / "only.db").unlink()
            start = time.perf_counter()
            save_snapshot(client, work / "kk-only.db")
            rows["kubekeeper_snapshot_only"].append(time.perf_counter() - start)
            (work / "kk-only.db").unlink()
            shutil.rmtree(work / f"peer-{n}")
            shutil.rmtree(work / f"kk-{n}")
            print({k: round(v[-1], 2) for k, v in rows.items()}, flush=True)
        client.close()
        best = {k: min(v) for k, v in rows.items()}
        result = {
            "topic": "etcd backup: kubekeeper (gRPC snapshot from leader, verified, streamed into restic) vs etcdctl snapshot save + restic backup",
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "note": "shared 2-core machine; best of rounds"},
            "compression": COMPRESSION,
            "versions": {"restic": subprocess.run(["restic", "version"], capture_output=True, text=True).stdout.strip(),
                         "etcd": status.version},
            "db_bytes": status.db_size,
            "keys": i,
            "rounds": ROUNDS,
            "seconds": {k: [round(x, 3) for x in v] for k, v in rows.items()},
            "best_seconds": {k: round(v, 3) for k, v in best.items()},
            "ratios": {
                "kubekeeper_backup / (etcdctl snapshot save + restic backup)": round(best["kubekeeper_backup"] / best["peer_total"], 3),
                "kubekeeper snapshot only / etcdctl snapshot save": round(best["kubekeeper_snapshot_only"] / best["etcdctl_snapshot_only"], 3),
            },
            "target": "kubekeeper_backup <= 1.1 x the pair",
        }
        result["pass"] = result["ratios"]["kubekeeper_backup / (etcdctl snapshot save + restic backup)"] <= 1.1
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / f"etcd{SUFFIX}.json").write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps(result["ratios"], indent=2))
        chart(best)
    finally:
        etcd.terminate()
        etcd.wait(timeout=30)
        log.close()
        shutil.rmtree(work, ignore_errors=True)


def chart(best: dict[str, float]) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, ax = plt.subplots(figsize=(7, 3.2))
    labels = ["backup: etcdctl+restic", "backup: kubekeeper", "snapshot: etcdctl", "snapshot: kubekeeper"]
    values = [best["peer_total"], best["kubekeeper_backup"], best["etcdctl_snapshot_only"], best["kubekeeper_snapshot_only"]]
    ax.barh(labels, values, color=["#999", "#2a7", "#999", "#2a7"])
    ax.set_xlabel("seconds (best of rounds, lower is better)")
    ax.set_title("etcd backup, db >= 300 MB")
    fig.tight_layout()
    fig.savefig(RESULTS / f"etcd{SUFFIX}.png", dpi=100)


if __name__ == "__main__":
    main()
