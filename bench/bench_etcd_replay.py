"""Benchmark: the etcd follower and point-in-time replay (issue 16).

Same run, same machine, real etcd 3.5.16 (one member on 127.0.0.1, Debian's etcd on PATH), real
restic 0.18 (a fresh local repository), the follower as its own process (`python -m kubekeeper backup
etcd --follow`), as in production:

1. **Replay speed on 100k events** (BENCH_REPLAY_EVENTS): the follower stores a chain while a writer
   makes 100,000 changes (one key per revision, as kube-apiserver writes: puts of ~600-byte values over
   20,000 keys, a quarter of them deletes of keys that exist, 4 writers at once); then the chain is replayed to its end the way `restore etcd` does it (deltas fetched
   from restic, folded, written into a scratch etcd, a verified snapshot taken out) - and, as the peer
   in the same run, the straightforward replay: every revision as its own transaction, in order, into
   the same kind of scratch etcd (exact revisions, no folding). Both results are compared key by key
   with a range read of the source. Goal: >= 10,000 events/s for kubekeeper's replay (ROUNDS rounds,
   alternating which goes first; judged on the median).
2. **The follower under 200 writes/s** (BENCH_FOLLOW_SECONDS, default 30 s, --delta-interval 5s): its
   CPU (its own, and with the restic runs it waited for), and peak RSS (its own VmHWM, and of its
   process tree with restic sampled every 50 ms).
3. **Stored bytes per event**: growth of the repository directory during (2), after the full snapshot,
   divided by the events stored (restic's compression on, its metadata included).

BENCH_REPLAY_INTERVAL sets the follower's --delta-interval while the 100k events are written (default
5s, the default of `backup etcd --follow`; shorter means more deltas, each one more `restic dump`).
Results: bench/results/etcd-replay.json (+ etcd-replay.png with matplotlib), or
etcd-replay-interval-<interval>.json for another interval.
"""

from __future__ import annotations

import json
import os
import platform
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.bench_etcd import free_port, process_cpu  # noqa: E402
from bench.memory import TreeSampler  # noqa: E402
from bench.rounds import spread  # noqa: E402
from kubekeeper.backup import etcd_chain  # noqa: E402
from kubekeeper.etcd.client import Endpoint, EtcdClient  # noqa: E402
from kubekeeper.etcd.restore import find_tool  # noqa: E402
from kubekeeper.etcd.scratch import ScratchEtcd  # noqa: E402
from kubekeeper.repository import Repository, RepoSpec  # noqa: E402

RESULTS = ROOT / "bench" / "results"
EVENTS = int(os.environ.get("BENCH_REPLAY_EVENTS", "100000"))
ROUNDS = int(os.environ.get("BENCH_REPLAY_ROUNDS", "3"))
FOLLOW_SECONDS = float(os.environ.get("BENCH_FOLLOW_SECONDS", "30"))
#: the follower's --delta-interval while the 100k events are written (more deltas: more restic dumps to replay)
INTERVAL = os.environ.get("BENCH_REPLAY_INTERVAL", "5s")
SUFFIX = "" if INTERVAL == "5s" else f"-interval-{INTERVAL}"
RATE = 200
KEYS = 20_000
ETCD = shutil.which("etcd") or "/usr/bin/etcd"
GOALS = (("replay_events_per_second.kubekeeper.median", 10_000, "replay >= 10,000 events/s on 100k events"),)


def judge(result: dict[str, Any]) -> list[dict[str, object]]:
    goals = []
    for path, minimum, words in GOALS:
        value: Any = result
        for part in path.split("."):
            value = value[part]
        goals.append({"goal": words, "figure": path, "value": value, "min": minimum, "met": value >= minimum})
    return goals


def start_etcd(work: Path) -> tuple[subprocess.Popen[bytes], str]:
    client_port, peer_port = free_port(), free_port()
    url, peer = f"http://127.0.0.1:{client_port}", f"http://127.0.0.1:{peer_port}"
    with open(work / "etcd.log", "wb") as log:
        proc = subprocess.Popen(
            [ETCD, "--name", "b0", "--data-dir", str(work / "data"), "--listen-client-urls", url, "--advertise-client-urls", url,
             "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer, "--initial-cluster", f"b0={peer}",
             "--quota-backend-bytes", str(8 << 30), "--logger", "zap", "--log-level", "warn"],
            stdout=log, stderr=subprocess.STDOUT,
        )
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
    client.close()
    return proc, url


def new_repo(work: Path, name: str) -> tuple[Repository, list[str], dict[str, str]]:
    password = work / f"{name}.pw"
    password.write_text("bench-password\n")
    spec = RepoSpec(url=str(work / name), password_file=password)
    subprocess.run(["restic", "init", "--repo", spec.url, "--password-file", str(password)], check=True, capture_output=True)
    env = dict(os.environ, RESTIC_CACHE_DIR=str(work / f"{name}-cache"))
    return Repository(spec), ["--repo", spec.url, "--password-file", str(password)], env


def start_follower(url: str, repo_args: list[str], env: dict[str, str], log: Path, interval: str) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "kubekeeper", "-v", "backup", "etcd", "--follow", "--endpoints", url, *repo_args,
            "--cluster", "bench", "--delta-interval", interval]
    with open(log, "wb") as out:
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)


def wait_full(repository: Repository) -> None:
    deadline = time.monotonic() + 120
    while not repository.snapshots(["kubekeeper", "kind:etcd"]):
        if time.monotonic() > deadline:
            raise RuntimeError("no full snapshot")
        time.sleep(0.2)


def write_events(url: str, total: int, seed: int = 1, threads: int = 4) -> int:
    """`total` changes, one key per revision as kube-apiserver writes (a quarter of them deletes of keys
    that exist, so every write is one event), from `threads` writers at once; returns the revision reached."""
    from pyetcd import etcdrpc

    reached = [0]
    lock = threading.Lock()

    def writer(index: int) -> None:
        rng = random.Random(seed * 100 + index)
        live: list[bytes] = []
        with EtcdClient([Endpoint.parse(url)], timeout=30) as client:
            kv = client._client(url).kvstub
            for n in range(total // threads + (1 if index < total % threads else 0)):
                if n % 4 == 3 and live:
                    key = live.pop(rng.randrange(len(live)))
                    revision = int(kv.DeleteRange(etcdrpc.DeleteRangeRequest(key=key), 30).header.revision)
                else:
                    k = rng.randrange(KEYS // threads) * threads + index  # each writer its own keys
                    key = f"/registry/pods/ns{k % 50}/pod-{k:06d}".encode()
                    revision = int(kv.Put(etcdrpc.PutRequest(key=key, value=rng.randbytes(300).hex().encode()), 30).header.revision)
                    if key not in live:
                        live.append(key)
                with lock:
                    reached[0] = max(reached[0], revision)

    workers = [threading.Thread(target=writer, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return reached[0]


def events_in_chain(repository: Repository, chain: etcd_chain.Chain) -> int:
    return sum(int(dict(t.split("=", 1) for t in d.tags if "=" in t)["events"]) for d in chain.deltas)


def replay_ours(repository: Repository, work: Path) -> tuple[float, dict[bytes, bytes], dict[str, Any]]:
    """What `restore etcd` does before `etcdutl snapshot restore`: fetch, fold, scratch etcd, snapshot out."""
    found = etcd_chain.chains(repository, "bench")
    tool = find_tool("3.5")
    out = Path(tempfile.mkdtemp(dir=work))
    started = time.perf_counter()
    replayed = etcd_chain.replay(repository, etcd_chain.Target(found[-1]), tool, out, found)
    etcd_chain.check_replayed(replayed)
    seconds = time.perf_counter() - started
    with ScratchEtcd(tool, replayed.snapshot_file, Path(tempfile.mkdtemp(dir=work))) as check:
        state, _ = check.read_all()
    shutil.rmtree(out, ignore_errors=True)
    return seconds, state, {"events": replayed.events, "deltas": replayed.deltas, "keys": replayed.keys,
                            "store_revision": replayed.store_revision}


def replay_per_revision(repository: Repository, work: Path) -> tuple[float, dict[bytes, bytes]]:
    """The peer: the same deltas, every source revision as one transaction of its events, in order."""
    from pyetcd import etcdrpc

    found = etcd_chain.chains(repository, "bench")
    chain = found[-1]
    tool = find_tool("3.5")
    out = Path(tempfile.mkdtemp(dir=work))
    started = time.perf_counter()
    full_file, _ = etcd_chain.fetch_snapshot(repository, chain.full, out)
    deltas = etcd_chain.fetch_deltas(repository, chain.deltas)
    with ScratchEtcd(tool, full_file, out) as scratch, scratch.client() as client:
        kv = client._client(scratch.url).kvstub
        ops: list[Any] = []
        current = 0
        for delta in deltas:
            for event in delta.events:
                if event.revision != current and ops:
                    kv.Txn(etcdrpc.TxnRequest(success=ops), 60)
                    ops = []
                current = event.revision
                if event.op == "put":
                    ops.append(etcdrpc.RequestOp(request_put=etcdrpc.PutRequest(key=event.key, value=event.value)))
                else:
                    ops.append(etcdrpc.RequestOp(request_delete_range=etcdrpc.DeleteRangeRequest(key=event.key)))
        if ops:
            kv.Txn(etcdrpc.TxnRequest(success=ops), 60)
        scratch.save(out / "peer.db")
        seconds = time.perf_counter() - started
        state, _ = scratch.read_all()
    shutil.rmtree(out, ignore_errors=True)
    return seconds, state


def phase_replay(work: Path) -> dict[str, Any]:
    etcd, url = start_etcd(work / "replay-etcd")
    try:
        write_events(url, 5_000, seed=99)  # a keyspace before the full snapshot
        repository, repo_args, env = new_repo(work, "replay-repo")
        follower = start_follower(url, repo_args, env, work / "replay-follower.log", INTERVAL)
        wait_full(repository)
        write_started = time.perf_counter()
        final_revision = write_events(url, EVENTS)
        write_seconds = time.perf_counter() - write_started
        time.sleep(3)
        follower.send_signal(signal.SIGTERM)
        if follower.wait(timeout=120) != 0:
            raise RuntimeError((work / "replay-follower.log").read_text()[-2000:])
        with EtcdClient([Endpoint.parse(url)], timeout=30) as client:
            source, revision = client.read_all(url)
        chain = etcd_chain.chains(repository, "bench")[-1]
        stored = events_in_chain(repository, chain)
        ours: list[float] = []
        peer: list[float] = []
        first: list[str] = []
        details: dict[str, Any] = {}
        for index in range(ROUNDS):
            sides = ["kubekeeper", "peer"] if index % 2 == 0 else ["peer", "kubekeeper"]
            first.append(sides[0])
            for side in sides:
                if side == "kubekeeper":
                    seconds, state, details = replay_ours(repository, work)
                    ours.append(seconds)
                else:
                    seconds, state = replay_per_revision(repository, work)
                    peer.append(seconds)
                if state != source:
                    raise RuntimeError(f"{side}'s replay differs from the source ({len(state)} vs {len(source)} keys)")
        return {
            "delta_interval": INTERVAL,
            "events_written": EVENTS, "events_in_chain": stored, "deltas": len(chain.deltas), "source_revision": revision,
            "final_revision_written": final_revision, "write_seconds": round(write_seconds, 2),
            "keys_after": len(source), "replay": details, "first_in_round": first,
            "replay_seconds": {"kubekeeper": spread(ours), "peer_per_revision": spread(peer)},
            "replay_events_per_second": {"kubekeeper": rates(stored, ours), "peer_per_revision": rates(stored, peer)},
            "ratio_kubekeeper_over_peer_median": round(spread(ours)["median"] / spread(peer)["median"], 3),
            "both_equal_to_source": True,
        }
    finally:
        etcd.terminate()
        etcd.wait(timeout=30)


def rates(events: int, seconds: list[float]) -> dict[str, int]:
    """events/s at the fastest and the median round."""
    figures = spread(seconds)
    return {"best": round(events / figures["min"]), "median": round(events / figures["median"])}


def directory_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def phase_follow(work: Path) -> dict[str, Any]:
    etcd, url = start_etcd(work / "follow-etcd")
    try:
        write_events(url, 5_000, seed=98)
        repository, repo_args, env = new_repo(work, "follow-repo")
        follower = start_follower(url, repo_args, env, work / "follow-follower.log", "5s")
        wait_full(repository)
        time.sleep(1)
        size_before = directory_bytes(work / "follow-repo")
        cpu_before = process_cpu(follower.pid)
        stop = threading.Event()
        written = [0]

        def writer() -> None:
            from pyetcd import etcdrpc

            rng = random.Random(5)
            with EtcdClient([Endpoint.parse(url)], timeout=30) as client:
                kv = client._client(url).kvstub
                started = time.monotonic()
                while not stop.is_set():
                    key = f"/registry/pods/ns{rng.randrange(50)}/pod-{rng.randrange(KEYS):06d}".encode()
                    if written[0] % 4 == 3:
                        kv.DeleteRange(etcdrpc.DeleteRangeRequest(key=key), 30)
                    else:
                        kv.Put(etcdrpc.PutRequest(key=key, value=rng.randbytes(300).hex().encode()), 30)
                    written[0] += 1
                    stop.wait(max(0.0, started + written[0] / RATE - time.monotonic()))

        thread = threading.Thread(target=writer, daemon=True)
        with TreeSampler(follower.pid) as sampler:
            wall = time.perf_counter()
            thread.start()
            time.sleep(FOLLOW_SECONDS)
            stop.set()
            thread.join()
            wall = time.perf_counter() - wall
            cpu_own = process_cpu(follower.pid) - cpu_before
            fields = Path(f"/proc/{follower.pid}/stat").read_text().rsplit(")", 1)[1].split()
            children_cpu = (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")
            time.sleep(6)  # the last interval is stored
        follower.send_signal(signal.SIGTERM)
        if follower.wait(timeout=120) != 0:
            raise RuntimeError((work / "follow-follower.log").read_text()[-2000:])
        chain = etcd_chain.chains(repository, "bench")[-1]
        stored = events_in_chain(repository, chain)
        growth = directory_bytes(work / "follow-repo") - size_before
        lags = [float(dict(t.split("=", 1) for t in d.tags if "=" in t)["lag"]) for d in chain.deltas]
        fetch = time.perf_counter()
        etcd_chain.fetch_deltas(repository, chain.deltas)  # what a restore pays per delta of a chain
        fetch = time.perf_counter() - fetch
        return {
            "writes_per_second_target": RATE, "writes_done": written[0], "seconds": round(wall, 1),
            "writes_per_second_achieved": round(written[0] / wall, 1), "events_stored": stored, "deltas": len(chain.deltas),
            "cpu_follower_own_percent": round(100 * cpu_own / wall, 1),
            "cpu_restic_children_seconds_total": round(children_cpu, 2),
            "cpu_follower_with_restic_percent": round(100 * (cpu_own + children_cpu) / wall, 1),
            "peak_rss_mb_follower_own": round(sampler.peak_own_rss.get("python3", sampler.peak_own_rss.get("python", 0)) / (1 << 20), 1),
            "peak_rss_mb_follower_with_restic": round(sampler.peak_tree_rss / (1 << 20), 1),
            "peak_rss_by_process_mb": {k: round(v / (1 << 20), 1) for k, v in sampler.peak_own_rss.items()},
            "repository_growth_bytes": growth,
            "stored_bytes_per_event": round(growth / stored, 1) if stored else None,
            "lag_seconds": spread(lags) if lags else None,
            "restore_fetch_seconds_per_delta": round(fetch / len(chain.deltas), 3) if chain.deltas else None,
        }
    finally:
        etcd.terminate()
        etcd.wait(timeout=30)


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-etcd-replay-"))
    (work / "replay-etcd").mkdir()
    (work / "follow-etcd").mkdir()
    try:
        result: dict[str, Any] = {
            "topic": "etcd follower (continuous backup) and point-in-time replay",
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                        "note": "shared 2-core machine (other test suites running)"},
            "versions": {"restic": subprocess.run(["restic", "version"], capture_output=True, text=True).stdout.strip(),
                         "etcd": subprocess.run([ETCD, "--version"], capture_output=True, text=True).stdout.split("\n")[0]},
            "replay": phase_replay(work),
            "follow_200_writes_per_second": phase_follow(work),
        }
        result["replay_events_per_second"] = result["replay"]["replay_events_per_second"]
        result["goals"] = judge(result)
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / f"etcd-replay{SUFFIX}.json").write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps(result, indent=2))
        chart(result)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def chart(result: dict[str, Any]) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    rates = result["replay_events_per_second"]
    fig, ax = plt.subplots(figsize=(7.5, 2.8))
    labels = ["kubekeeper (folded, batched)", "peer: one txn per revision"]
    values = [rates["kubekeeper"]["median"], rates["peer_per_revision"]["median"]]
    ax.barh(labels, values, color=["#2a7", "#999"])
    ax.axvline(10_000, color="r", linestyle="--", linewidth=1, label="goal 10,000/s")
    ax.set_xlabel(f"events replayed per second, median of {ROUNDS} (higher is better)")
    ax.set_title(f"etcd point-in-time replay, {result['replay']['events_in_chain']:,} events")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(RESULTS / f"etcd-replay{SUFFIX}.png", dpi=100)


if __name__ == "__main__":
    main()
