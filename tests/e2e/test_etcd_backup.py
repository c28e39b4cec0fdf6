"""End to end: back up real etcd clusters (3.5.16 x3 from Debian trixie, 3.4 x1 from Debian bookworm)
into a real restic 0.18 repository, throw the cluster away, restore every member and compare every
key; the restored revision is read from the running restored cluster."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from pyetcd import etcdrpc

from kubekeeper.etcd.client import EtcdClient
from kubekeeper.etcd.restore import DEFAULT_BUMP
from kubekeeper.etcd.snapshot import verify_file
from tests.e2e.conftest import ETCD34_BIN, EtcdCluster, EtcdMember, free_port

pytestmark = pytest.mark.e2e

SMALL_KEYS = 3000
LARGE_KEYS = 12
LARGE_VALUE = 200 * 1024


def write_keys(cluster: EtcdCluster, small: int = SMALL_KEYS, large: int = LARGE_KEYS) -> None:
    """Thousands of small keys in transactions (fast), some large values, some overwrites and deletes."""
    with cluster.client() as client:
        view = client.discover()
        kv = client._client(view.statuses[0].endpoint).kvstub
        batch: list = []
        for i in range(small):
            batch.append(etcdrpc.RequestOp(request_put=etcdrpc.PutRequest(key=f"/registry/pods/ns{i % 7}/pod-{i:05d}".encode(), value=f"spec-{i}-".encode() * 8)))
            if len(batch) == 100:
                kv.Txn(etcdrpc.TxnRequest(success=batch), 30)
                batch = []
        if batch:
            kv.Txn(etcdrpc.TxnRequest(success=batch), 30)
        for i in range(large):
            kv.Put(etcdrpc.PutRequest(key=f"/large/{i:03d}".encode(), value=bytes([i % 251]) * LARGE_VALUE), 30)
        for i in range(0, 50):
            kv.Put(etcdrpc.PutRequest(key=f"/registry/pods/ns{i % 7}/pod-{i:05d}".encode(), value=b"overwritten"), 30)
        kv.DeleteRange(etcdrpc.DeleteRangeRequest(key=b"/registry/pods/ns6/pod-00006"), 30)


def read_all(cluster: EtcdCluster) -> tuple[dict[bytes, tuple], int]:
    """Every key with value and revisions, and the store's revision."""
    with cluster.client() as client:
        view = client.discover()
        kv = client._client(view.statuses[0].endpoint).kvstub
        response = kv.Range(etcdrpc.RangeRequest(key=b"\0", range_end=b"\0"), 30)
        keys = {k.key: (k.value, k.create_revision, k.mod_revision, k.version) for k in response.kvs}
        return keys, response.header.revision


def follower_first(cluster: EtcdCluster) -> list[str]:
    leader = cluster.wait_leader()
    return sorted(cluster.endpoints, key=lambda url: url == cluster.member(leader).client_url)


def fresh_cluster_like(cluster: EtcdCluster, root: Path) -> EtcdCluster:
    """Same member names, new ports and empty data dirs: where the restore goes."""
    root.mkdir()
    new = EtcdCluster(cluster.binary, root, token="restored-token")
    for m in cluster.members:
        new.members.append(EtcdMember(m.name, free_port(), free_port(), root / f"{m.name}.etcd", root / f"{m.name}.log"))
    return new


def backup_restore_cycle(cli, cluster: EtcdCluster, restic_repo, tmp_path: Path, request, caplog, bump: int = DEFAULT_BUMP) -> None:
    write_keys(cluster, small=SMALL_KEYS if len(cluster.members) > 1 else 2000)
    before, revision = read_all(cluster)
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there: skipped with a warning
    endpoints = [dead, *follower_first(cluster)]
    leader = cluster.wait_leader()

    result = cli("backup", "etcd", "--endpoints", ",".join(endpoints), *restic_repo.cli_args, "--cluster", "e2e", "--format", "json")
    assert result.code == 0, result.err
    stored = json.loads(result.out)
    assert stored["details"]["leader"] == leader
    assert stored["details"]["revision"] == revision
    assert stored["details"]["member_count"] == len(cluster.members)
    assert f"etcd endpoint {dead} skipped" in caplog.text  # a warning on stderr, not fatal

    listed = cli("snapshots", "--kind", "etcd", "--format", "json", *restic_repo.cli_args)
    assert listed.code == 0, listed.err
    [snapshot] = json.loads(listed.out)
    assert snapshot["id"] == stored["id"] and snapshot["short_id"] == stored["short_id"] and snapshot["kind"] == "etcd" and snapshot["cluster"] == "e2e"
    assert snapshot["details"]["revision"] == revision
    assert set(snapshot["details"]["members"].split(";")) == {m.name for m in cluster.members}

    cluster.stop()
    for member in cluster.members:
        shutil.rmtree(member.data_dir)

    restored = fresh_cluster_like(cluster, tmp_path / f"restored-{request.node.name}")
    printed = cli("restore", "etcd", "--print-commands", "--initial-cluster", restored.initial_cluster,
                  "--initial-cluster-token", restored.token, *restic_repo.cli_args, "--cluster", "e2e")
    assert printed.code == 0, printed.err
    assert printed.out.count("kubekeeper restore etcd") == len(restored.members)
    assert printed.out.count(f"--snapshot {snapshot['id']}") == len(restored.members)
    assert printed.out.count(f"--bump-revision {DEFAULT_BUMP}") == len(restored.members)

    for member in restored.members:
        done = cli("restore", "etcd", "--snapshot", "latest", "--name", member.name,
                   "--initial-cluster", restored.initial_cluster, "--initial-advertise-peer-urls", member.peer_url,
                   "--initial-cluster-token", restored.token, "--data-dir", str(member.data_dir),
                   *restic_repo.cli_args, "--cluster", "e2e")
        assert done.code == 0, done.err
        assert (f"revision bumped by {bump:,}" in done.out) == bool(bump)
    restored.start()
    try:
        after, revision_after = read_all(restored)
        # read from the running restored cluster: moved ahead by the bump, so watches never go back in time
        assert revision_after == revision + bump
        assert after == before
        assert len(after) == (SMALL_KEYS if len(cluster.members) > 1 else 2000) - 1 + LARGE_KEYS
    finally:
        restored.stop()

    # a non-empty data dir is refused without --force, moved aside (not deleted) with it
    member = restored.members[0]
    args = ["restore", "etcd", "--name", member.name, "--initial-cluster", restored.initial_cluster,
            "--data-dir", str(member.data_dir), *restic_repo.cli_args, "--cluster", "e2e"]
    refused = cli(*args)
    assert refused.code == 2 and "not empty" in refused.err and "Traceback" not in refused.err
    forced = cli(*args, "--force")
    assert forced.code == 0, forced.err
    moved = list(member.data_dir.parent.glob(f"{member.data_dir.name}.kubekeeper-moved-*"))
    assert len(moved) == 1 and (moved[0] / "member" / "snap" / "db").is_file()


def test_three_member_etcd35_backup_and_restore(cli, etcd_cluster_factory, restic_repo, tmp_path, request, caplog):
    backup_restore_cycle(cli, etcd_cluster_factory(3, "3.5"), restic_repo, tmp_path, request, caplog)


def test_single_member_etcd34_backup_and_restore(cli, etcd_cluster_factory, restic_repo, tmp_path, request, caplog, monkeypatch):
    """etcd 3.4 (bookworm) restores with its own etcdctl (3.4 has no etcdutl), found on PATH; 3.4's
    etcdctl has no --bump-revision, so the restore is not bumped and says so."""
    cluster = etcd_cluster_factory(1, "3.4")
    monkeypatch.setenv("PATH", f"{ETCD34_BIN}:{os.environ['PATH']}")
    backup_restore_cycle(cli, cluster, restic_repo, tmp_path, request, caplog, bump=0)
    assert "NOT moved ahead" in caplog.text


def test_leader_killed_during_backup_completes_from_new_leader(cli, etcd_cluster_factory, restic_repo, monkeypatch, caplog):
    cluster = etcd_cluster_factory(3, "3.5")
    write_keys(cluster, small=500, large=40)  # ~8 MB: the stream is still running when the leader dies
    old_leader = cluster.wait_leader()
    original = EtcdClient.snapshot
    killed: list[str] = []

    def snapshot_then_kill_leader(self, url):
        stream = original(self, url)
        yield next(stream)
        if not killed:
            name = next(m.name for m in cluster.members if m.client_url == url)
            cluster.kill(name)  # SIGKILL by pid, mid-stream
            killed.append(name)
        yield from stream

    monkeypatch.setattr(EtcdClient, "snapshot", snapshot_then_kill_leader)
    result = cli("backup", "etcd", "--endpoints", ",".join(cluster.endpoints), *restic_repo.cli_args,
                 "--cluster", "e2e", "--format", "json", "--leader-wait", "20")
    assert killed == [old_leader]
    assert result.code == 0, result.err  # the two members left elect a leader within --leader-wait
    stored = json.loads(result.out)
    assert stored["details"]["leader"] != old_leader
    assert stored["warnings"] and "attempt 2" in stored["warnings"][0]
    assert "broke" in caplog.text
    [snapshot] = restic_repo.repository.snapshots()  # exactly one: the broken stream stored nothing
    assert snapshot.id == stored["snapshot_id"]
    out = restic_repo.url + "-dump.db"
    with open(out, "wb") as handle:
        restic_repo.repository.dump(snapshot.id, "/etcd-snapshot.db", handle)
    assert verify_file(Path(out)).db_size == stored["details"]["db_size"]
