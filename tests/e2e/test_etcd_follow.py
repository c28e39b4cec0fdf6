"""End to end: the etcd follower (`backup etcd --follow`) on a real 3-member etcd 3.5.16 with a writer
doing ~50 writes/s including deletes, real restic 0.18; point-in-time restores compared with range
reads of the source at the same revision, and the restored cluster's revision read from the running
restored etcd. The follower runs as its own process (`python -m kubekeeper`) so it can be sent
SIGTERM and SIGKILL like in production."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import grpc
import pytest
from pyetcd import etcdrpc

from kubekeeper.etcd.client import Endpoint, EtcdClient
from kubekeeper.repository import selection
from tests.e2e.conftest import EtcdCluster, EtcdMember, ResticRepo, free_port, start_logged

pytestmark = pytest.mark.e2e

DELTA = 0.5  # --delta-interval of these tests (seconds)
KILL_DELTA = 2.0  # the SIGKILL test's


@dataclass
class Writer:
    """~50 writes/s (puts over 150 keys, every 4th op a delete, every 10th a transaction changing three keys)
    on whichever member answers; records
    (time, revision) of every acknowledged write."""

    cluster: EtcdCluster
    rate: float = 50.0
    acked: list[tuple[float, int]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    errors: int = 0

    def run(self) -> None:
        rng = random.Random(7)
        clients = {url: EtcdClient([Endpoint.parse(url)], timeout=2) for url in self.cluster.endpoints}
        i = 0
        while not self.stop.is_set():
            started = time.monotonic()
            key = f"/registry/configmaps/ns{i % 5}/cm-{rng.randrange(150):03d}".encode()
            for url in self._order(i):
                try:
                    kv = clients[url]._client(url).kvstub
                    if i % 10 == 5:  # a transaction: three keys changed at one revision (one watch response)
                        ops = [etcdrpc.RequestOp(request_put=etcdrpc.PutRequest(key=key + f"-txn{n}".encode(), value=f"t{i}".encode()))
                               for n in range(2)] + [etcdrpc.RequestOp(request_delete_range=etcdrpc.DeleteRangeRequest(key=key))]
                        response = kv.Txn(etcdrpc.TxnRequest(success=ops), 2)
                    elif i % 4 == 3:
                        response = kv.DeleteRange(etcdrpc.DeleteRangeRequest(key=key), 2)
                    else:
                        response = kv.Put(etcdrpc.PutRequest(key=key, value=f"v{i}-{rng.random()}".encode() * 3), 2)
                    self.acked.append((time.time(), int(response.header.revision)))
                    break
                except grpc.RpcError:
                    self.errors += 1
                    clients[url].forget(url)
            i += 1
            self.stop.wait(max(0.0, 1 / self.rate - (time.monotonic() - started)))
        for client in clients.values():
            client.close()

    def _order(self, i: int) -> list[str]:
        urls = [m.client_url for m in self.cluster.members if m.proc is not None and m.proc.poll() is None]
        return urls[i % len(urls):] + urls[: i % len(urls)]

    def __enter__(self) -> Writer:
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(10)


def running_url(cluster: EtcdCluster) -> str:
    return next(m.client_url for m in cluster.members if m.proc is not None and m.proc.poll() is None)


def source_state(cluster: EtcdCluster, revision: int = 0) -> tuple[dict[bytes, bytes], int]:
    url = running_url(cluster)
    with EtcdClient([Endpoint.parse(url)], timeout=10) as client:
        return client.read_all(url, revision)


def start_follower(cluster: EtcdCluster, repo: ResticRepo, log: Path, *extra: str, stall: str = "120",
                   interval: float = DELTA) -> subprocess.Popen:
    argv = [sys.executable, "-m", "kubekeeper", "-v", "--stall-timeout", stall, "backup", "etcd", "--follow", "--endpoints", ",".join(cluster.endpoints),
            *repo.cli_args, "--cluster", "prod", "--delta-interval", f"{interval}s", *extra]
    return start_logged(argv, log)


def wait_for(predicate, timeout: float = 30.0, what: str = "", log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    tail = "\n".join(log.read_text().splitlines()[-25:]) if log is not None and log.exists() else ""
    raise AssertionError(f"timed out waiting for {what}" + (f"; the follower's log ends:\n{tail}" if tail else ""))


def make_leader(cluster: EtcdCluster, name: str) -> None:
    """Move the leadership to `name` (etcd's MoveLeader, asked of the current leader)."""
    leader = cluster.wait_leader()
    if leader == name:
        return
    with cluster.client() as client:
        view = client.discover()
        target = next(m.id for m in view.members if m.name == name)
        url = cluster.member(leader).client_url
        client._client(url).maintenancestub.MoveLeader(etcdrpc.MoveLeaderRequest(targetID=target), 10)
    wait_for(lambda: cluster.wait_leader() == name, what=f"{name} to lead")


def fulls(repo: ResticRepo) -> list:
    return repo.repository.snapshots(selection("etcd", "prod"))


def deltas(repo: ResticRepo) -> list:
    return repo.repository.snapshots(selection("etcd-delta", "prod"))


def restore_and_read(cli, repo: ResticRepo, tmp_path: Path, binary: Path, name: str, *target: str) -> tuple[dict[bytes, bytes], int, dict]:
    """`restore etcd` one member, start it, and read every key and the revision from the running etcd."""
    peer, client_port = free_port(), free_port()
    member = EtcdMember("r0", client_port, peer, tmp_path / name / "r0.etcd", tmp_path / f"{name}.log")
    restored = EtcdCluster(binary, tmp_path / name, [member], token=f"restored-{name}")
    (tmp_path / name).mkdir()
    result = cli("restore", "etcd", *repo.cli_args, "--cluster", "prod", "--name", "r0", "--initial-cluster", restored.initial_cluster,
                 "--initial-cluster-token", restored.token, "--data-dir", str(member.data_dir), "--format", "json", *target)
    assert result.code == 0, result.err
    report = json.loads(result.out)
    restored.start(state="existing")
    try:
        state, revision = source_state(restored)
    finally:
        restored.stop()
    return state, revision, report


def test_follow_restores_any_revision_and_the_final_state(etcd_cluster_factory, restic_repo, tmp_path, cli):
    """Middle revision == range read at that revision; newest after SIGTERM == final state; revision bumped past the source's."""
    cluster = etcd_cluster_factory(3)
    with Writer(cluster, rate=200) as seed:
        time.sleep(0.5)  # some keys before the full snapshot
    assert seed.acked
    follower = start_follower(cluster, restic_repo, tmp_path / "follower.log")
    try:
        wait_for(lambda: bool(fulls(restic_repo)), what="the full snapshot")
        with Writer(cluster) as writer:
            time.sleep(2.5)
            middle = writer.acked[-1][1]
            time.sleep(2.5)
        follower.send_signal(signal.SIGTERM)
        assert follower.wait(timeout=60) == 0, (tmp_path / "follower.log").read_text()
    finally:
        if follower.poll() is None:
            follower.kill()
    log = (tmp_path / "follower.log").read_text()
    assert "delta" in log and "lag" in log
    final, final_revision = source_state(cluster)
    at_middle, _ = source_state(cluster, middle)
    assert writer.errors == 0 and len(writer.acked) > 80  # ~50 writes/s for 5 s (fewer on a loaded machine)
    assert at_middle != final  # the middle revision is a different state, or the test proves nothing
    stored = deltas(restic_repo)
    assert len(stored) >= 4  # one per 0.5 s interval with writes
    chain = fulls(restic_repo)[0].id[:8]
    assert all(f"chain={chain}" in d.tags for d in stored)
    assert max(int(t.split("=")[1]) for d in stored for t in d.tags if t.startswith("to=")) == final_revision

    state, revision, report = restore_and_read(cli, restic_repo, tmp_path, cluster.binary, "middle", "--revision", str(middle))
    assert state == at_middle
    assert report["point_in_time"]["target_revision"] == middle
    assert revision > final_revision

    state, revision, report = restore_and_read(cli, restic_repo, tmp_path, cluster.binary, "newest")
    assert state == final
    assert revision > final_revision
    assert report["point_in_time"]["target_revision"] == final_revision

    checked = cli("verify", *restic_repo.cli_args, "--format", "json")  # latest: a delta is newest, its chain is checked
    assert checked.code == 0, checked.out + checked.err
    assert f"replayed to revision {final_revision}" in checked.out

    # --print-commands resolves a time to a revision and pins it (with the snapshot and the bump) for every member
    middle_time = next(t for t, rev in writer.acked if rev == middle)
    at = datetime.fromtimestamp(middle_time + 0.2, UTC).isoformat()
    printed = cli("restore", "etcd", *restic_repo.cli_args, "--cluster", "prod", "--print-commands", "--at", at,
                  "--initial-cluster", cluster.initial_cluster, "--format", "json")
    assert printed.code == 0, printed.err
    commands = [c["command"] for c in json.loads(printed.out)["commands"]]
    pinned = {int(c.split("--revision ")[1].split()[0]) for c in commands}
    assert len(commands) == 3 and len(pinned) == 1 and middle <= pinned.pop() < final_revision
    assert all(f"--snapshot {fulls(restic_repo)[0].id}" in c and "--bump-revision" in c for c in commands)


def test_sigkill_and_leader_loss_lose_nothing_older_than_two_intervals(etcd_cluster_factory, restic_repo, tmp_path, cli):
    """Kill the leader during follow (no event lost: the chain stays contiguous and verifies), then SIGKILL
    the follower while writes go on: every write older than 2 x the delta interval comes back."""
    cluster = etcd_cluster_factory(3)
    make_leader(cluster, "m0")  # the member the follower watches first: its death breaks the watch
    # 2 s: a delta's restic run (up to a second or two on a loaded 2-core machine) fits in an interval,
    # as the "older than 2 x the interval" promise assumes
    follower = start_follower(cluster, restic_repo, tmp_path / "follower.log", interval=KILL_DELTA)
    try:
        wait_for(lambda: bool(fulls(restic_repo)), what="the full snapshot")
        with Writer(cluster) as writer:
            time.sleep(1.5)
            leader = cluster.wait_leader()
            assert leader == "m0"
            cluster.kill(leader)
            time.sleep(6.0)
            killed_at = time.time()
            follower.send_signal(signal.SIGKILL)
            follower.wait(timeout=10)
            time.sleep(1.0)
    finally:
        if follower.poll() is None:
            follower.kill()
    log = (tmp_path / "follower.log").read_text()
    assert "resuming from revision" in log  # the watch was on the leader that died
    must_have = max(rev for t, rev in writer.acked if t < killed_at - 2 * KILL_DELTA)
    state, revision, report = restore_and_read(cli, restic_repo, tmp_path, cluster.binary, "after-kill")
    reached = report["point_in_time"]["target_revision"]
    assert reached >= must_have
    assert state == source_state(cluster, reached)[0]  # exactly the source at the revision it reached
    _, final_revision = source_state(cluster)
    assert revision > final_revision
    # the killed follower's restic left its (shared) lock; `verify` runs `restic check`, which needs the
    # exclusive one: what an operator does after a crash (restic removes only locks of dead processes)
    assert cli("repo", "unlock", *restic_repo.cli_args).code == 0
    checked = cli("verify", *restic_repo.cli_args, "--snapshot", fulls(restic_repo)[0].id)
    assert checked.code == 0, checked.out + checked.err


def test_compacted_revision_starts_a_new_chain(etcd_cluster_factory, restic_repo, tmp_path, cli):
    """The follower is paused, the member it watches dies, and the revisions it has not read are compacted:
    it says so, takes a new full snapshot, and the newest state still restores exactly."""
    cluster = etcd_cluster_factory(3)
    make_leader(cluster, "m1")  # m0, watched first, is a follower: its death costs no election
    follower = start_follower(cluster, restic_repo, tmp_path / "follower.log")
    try:
        wait_for(lambda: bool(fulls(restic_repo)), what="the full snapshot")
        with Writer(cluster) as writer:
            time.sleep(1.0)
            follower.send_signal(signal.SIGSTOP)
            cluster.kill("m0")
            time.sleep(1.0)
            head = writer.acked[-1][1]
            with EtcdClient([Endpoint.parse(cluster.member("m1").client_url)], timeout=5) as client:
                client._client(cluster.member("m1").client_url).kvstub.Compact(etcdrpc.CompactionRequest(revision=head), 10)
            follower.send_signal(signal.SIGCONT)
            wait_for(lambda: len(fulls(restic_repo)) == 2, what="the second full snapshot")
            time.sleep(1.5)
        follower.send_signal(signal.SIGTERM)
        assert follower.wait(timeout=60) == 0
    finally:
        if follower.poll() is None:
            follower.kill()
    log = (tmp_path / "follower.log").read_text()
    assert "compacted revision" in log and "new full snapshot" in log
    final, final_revision = source_state(cluster)
    state, revision, report = restore_and_read(cli, restic_repo, tmp_path, cluster.binary, "newest")
    assert state == final and revision > final_revision
    assert report["snapshot_id"] == fulls(restic_repo)[-1].id

    # retention keeps chains whole: keep-last 1 keeps the newest full snapshot and every delta of its chain
    old_chain, new_chain = (f.id[:8] for f in fulls(restic_repo))
    new_deltas = {d.id for d in deltas(restic_repo) if f"chain={new_chain}" in d.tags}
    assert new_deltas and any(f"chain={old_chain}" in d.tags for d in deltas(restic_repo))
    forgot = cli("repo", "forget", *restic_repo.cli_args, "--keep-last", "1", "--no-prune")
    assert forgot.code == 0, forgot.err
    assert [f.id[:8] for f in fulls(restic_repo)] == [new_chain]
    assert {d.id for d in deltas(restic_repo)} == new_deltas
    state, _, _ = restore_and_read(cli, restic_repo, tmp_path, cluster.binary, "after-forget")
    assert state == final


def test_repository_outage_is_buffered_then_bounded(etcd_cluster_factory, restic_repo, tmp_path, cli):
    """The repository disappears for a moment: the changes wait in memory and are stored when it is back
    (the chain verifies: no revision missing). Gone for longer than --max-buffer holds: exit 3, saying so.
    restic retries a failing backend on its own; `--stall-timeout 2` stops such a run, as an operator
    would set it for a follower whose repository must answer within seconds."""
    cluster = etcd_cluster_factory(3)
    repo_dir = Path(restic_repo.url)
    away = repo_dir.with_name("repo-away")

    def take_away() -> None:  # a file where the repository was: nothing can be written there meanwhile
        repo_dir.rename(away)
        repo_dir.write_text("unmounted\n")

    def bring_back() -> None:
        repo_dir.unlink()
        away.rename(repo_dir)

    follower = start_follower(cluster, restic_repo, tmp_path / "follower.log", "--max-buffer", "48KiB", stall="2")
    try:
        wait_for(lambda: bool(fulls(restic_repo)), what="the full snapshot")
        log = tmp_path / "follower.log"
        with Writer(cluster):
            time.sleep(1.0)
            take_away()
            wait_for(lambda: "not stored, kept in memory" in log.read_text(), what="a delta the repository did not take", log=log)
            bring_back()
            stored = log.read_text().count("stored:")
            wait_for(lambda: log.read_text().count("stored:") > stored, timeout=60, what="the buffered events stored", log=log)
        time.sleep(1.0)
        take_away()
        with Writer(cluster, rate=200):
            assert follower.wait(timeout=60) == 3
    finally:
        if follower.poll() is None:
            follower.kill()
        if away.exists():
            bring_back()
    # (after the follower: `restic check` needs the repository's exclusive lock, deltas take shared ones;
    # the restic runs stopped while the repository was away may have left theirs)
    assert cli("repo", "unlock", *restic_repo.cli_args).code == 0
    checked = cli("verify", *restic_repo.cli_args, "--snapshot", fulls(restic_repo)[0].id)
    assert checked.code == 0, checked.out + checked.err
    assert "replayed to revision" in checked.out
    log = (tmp_path / "follower.log").read_text()
    assert "exceed the buffer of 49,152 bytes and were NOT stored" in log


def test_backup_all_follow_runs_the_follower_from_cluster_yaml(etcd_cluster_factory, restic_repo, tmp_path, cli):
    """cluster.yaml's etcd.follow: `backup all --follow` stores the set, then follows until SIGTERM, with a
    new chain every full_interval (chains verify, the newest state restores exactly); the lag gauge lands
    in its own textfile."""
    cluster = etcd_cluster_factory(1)
    metrics = tmp_path / "follower.prom"
    config = tmp_path / "cluster.yaml"
    config.write_text(f"""\
cluster: prod
etcd:
  endpoints: {json.dumps(cluster.endpoints)}
  follow: {{enabled: true, delta_interval: 0.5s, full_interval: 2s, metrics_file: {metrics}}}
repositories:
  primary:
    url: {restic_repo.url}
    password: {{file: {restic_repo.password_file}}}
""")
    log = tmp_path / "all.log"
    proc = start_logged([sys.executable, "-m", "kubekeeper", "-v", "backup", "all", "--follow", "--config", str(config)], log)
    try:
        wait_for(lambda: len(fulls(restic_repo)) == 2, what="the set's and the follower's full snapshots")
        with Writer(cluster):
            wait_for(lambda: len(fulls(restic_repo)) >= 4, what="two scheduled full snapshots")
            time.sleep(1.0)
        wait_for(lambda: "kubekeeper_etcd_follower_last_delta_timestamp_seconds" in metrics.read_text(), what="the metrics")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert 'kubekeeper_etcd_follower_lag_seconds{cluster="prod"} 0.000' in metrics.read_text()  # everything seen was stored
    chains = {d_tag for d in deltas(restic_repo) for d_tag in d.tags if d_tag.startswith("chain=")}
    assert len(chains) >= 2  # deltas in more than one chain
    for full in fulls(restic_repo)[1:]:
        if f"chain={full.id[:8]}" in chains:
            checked = cli("verify", *restic_repo.cli_args, "--snapshot", full.id)
            assert checked.code == 0, checked.out + checked.err
    final, final_revision = source_state(cluster)
    state, revision, _ = restore_and_read(cli, restic_repo, tmp_path, cluster.binary, "newest")
    assert state == final and revision > final_revision
