"""Faults found by trying each one for real (issue 11): unreadable source files, damaged packs, an empty
etcd, kill -9 in the middle of an etcd backup and of a volume restore. Real restic 0.18, real etcd
3.5.16, real rclone; every fault is produced for real (file permissions, flipped bytes, SIGKILL)."""

from __future__ import annotations

import fcntl
import json
import os
import random
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from pyetcd import etcdrpc

from kubekeeper.etcd.snapshot import verify_file
from kubekeeper.repository import Repository, RepoSpec
from tests.e2e.conftest import plain_init, write_password
from tests.e2e.test_repository_safety import KUBEKEEPER, _assert_gone, _children, _comm, _wait_for_children, kk, volume_dir
from tests.e2e.volumes.test_volume_backup_restore import populate, tree

pytestmark = pytest.mark.e2e
#: run kubekeeper as root without the capabilities that let root read any file: a 0000 file is unreadable
NO_DAC = ["setpriv", "--inh-caps", "-dac_override,-dac_read_search", "--bounding-set", "-dac_override,-dac_read_search"]


def snapshots(repo_args: list[str], *extra: str) -> list[dict]:
    result = kk("snapshots", "--format", "json", *repo_args, *extra)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def raw_snapshots(url: str, password_file: Path) -> list[dict]:
    result = subprocess.run(["restic", "-r", url, "--password-file", str(password_file), "snapshots", "--json", "--no-lock"],
                            capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


# ------------------------------------------------------------------------------ fault 4
@pytest.mark.parametrize("backend", ["local", "append-only"])
def test_unreadable_file_never_yields_a_restorable_snapshot(tmp_path: Path, backend: str, restic_repo, rclone_factory) -> None:
    if backend == "local":
        url, pw = restic_repo.url, restic_repo.password_file
    else:
        server = rclone_factory(tmp_path / "root", "--append-only")
        url, pw = f"rest:http://127.0.0.1:{server.port}/repo/", write_password(tmp_path / "pw")
        plain_init(Repository(RepoSpec(url, pw)))
    repo_args = ["--repo", url, "--password-file", str(pw)]
    volume = volume_dir(tmp_path / "vol")
    good = subprocess.run([*NO_DAC, *KUBEKEEPER, "backup", "volume", "--pvc", "db/data", "--source-dir", str(volume), *repo_args],
                          capture_output=True, text=True, timeout=120)
    assert good.returncode == 0, good.stderr
    [first] = snapshots(repo_args)
    secret = volume / "f007.bin"
    secret.chmod(0)  # root without CAP_DAC_* cannot read it
    (volume / "new.txt").write_text("only in the incomplete snapshot\n")

    bad = subprocess.run([*NO_DAC, *KUBEKEEPER, "backup", "volume", "--pvc", "db/data", "--source-dir", str(volume), *repo_args],
                         capture_output=True, text=True, timeout=120)

    assert bad.returncode == 3, bad.stderr
    assert str(secret) in bad.stdout + bad.stderr  # the report names the unreadable file
    assert ("was removed" if backend == "local" else "marked incomplete") in bad.stdout + bad.stderr
    assert [s["id"] for s in snapshots(repo_args)] == [first["id"]]  # `snapshots` does not list it
    raw = raw_snapshots(url, pw)
    assert len(raw) == (1 if backend == "local" else 3)  # removed; or kept (append-only) with its record
    restored = tmp_path / "restored"
    done = kk("restore", "volume", "--pvc", "db/data", "--snapshot", "latest", "--target", str(restored), *repo_args)
    assert done.returncode == 0, done.stderr
    assert not (restored / "new.txt").exists() and (restored / "f007.bin").read_bytes() == secret.read_bytes()
    drill = kk("verify", *repo_args, "--format", "json")
    assert drill.returncode == 0 and json.loads(drill.stdout)["snapshots"] == [first["id"]]
    if backend == "append-only":  # retention (with deleting credentials) removes the incomplete one and its record
        assert kk("repo", "forget", "--keep-last", "5", "--repo", url.replace(f":{server.port}/", f":{rclone_factory(tmp_path / 'root').port}/"),
                  "--password-file", str(pw)).returncode == 0
        assert len(raw_snapshots(url, pw)) == 1


# ------------------------------------------------------------------------------ fault 5
def test_default_verify_finds_a_damaged_pack_every_time(tmp_path: Path, restic_repo) -> None:
    """No sampling by default: whichever pack of the set is damaged, `verify` reads it and exits 1."""
    volume = volume_dir(tmp_path / "vol", files=4)
    for i in range(4):
        (volume / f"large{i}.bin").write_bytes(os.urandom(6 << 20))  # several data packs
    assert kk("backup", "volume", "--pvc", "db/data", "--source-dir", str(volume), *restic_repo.cli_args).returncode == 0
    packs = sorted(p for p in (Path(restic_repo.url) / "data").rglob("*") if p.is_file())
    assert len(packs) >= 3, packs  # data packs and the tree pack
    clean = kk("verify", *restic_repo.cli_args, "--format", "json")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "every snapshot of the set read in full" in json.loads(clean.stdout)["coverage"]
    for victim in packs:
        original = victim.read_bytes()
        damaged = bytearray(original)
        damaged[len(damaged) // 2] ^= 0xFF
        victim.chmod(0o644)
        victim.write_bytes(bytes(damaged))
        try:
            drill = kk("verify", *restic_repo.cli_args, "--format", "json")  # defaults only
            assert drill.returncode == 1, f"{victim.name}: {drill.stdout[-500:]}"
            assert any(not c["ok"] for c in json.loads(drill.stdout)["checks"])
        finally:
            victim.write_bytes(original)
    quick = kk("verify", *restic_repo.cli_args, "--quick", "--sample", "2")
    assert quick.returncode == 0 and "sample only: 2 of 8 files" in quick.stdout and "bytes (" in quick.stdout


# ------------------------------------------------------------------------------ fault 8
def test_verify_of_an_empty_etcd(etcd_cluster_factory, restic_repo) -> None:
    cluster = etcd_cluster_factory(1)
    stored = kk("backup", "etcd", "--endpoints", ",".join(cluster.endpoints), *restic_repo.cli_args, "--format", "json")
    assert stored.returncode == 0, stored.stderr
    assert json.loads(stored.stdout)["details"]["revision"] == 1  # nothing was ever written
    drill = kk("verify", *restic_repo.cli_args, "--format", "json")
    assert drill.returncode == 0, drill.stdout + drill.stderr
    etcd = next(c for c in json.loads(drill.stdout)["checks"] if c["part"] == "etcd")
    assert "revision 0 (recorded 1)" in etcd["message"] and "1,000,000,000 after a bump" in etcd["message"]


# ------------------------------------------------------------------------------ fault 10
def fill_etcd(cluster, megabytes: int) -> None:
    with cluster.client() as client:
        view = client.discover()
        kv = client._client(view.statuses[0].endpoint).kvstub
        for i in range(megabytes):
            kv.Put(etcdrpc.PutRequest(key=f"/big/{i:04d}".encode(), value=os.urandom(1 << 20)), 30)


def test_kill_9_during_etcd_backup_never_stores_a_truncated_snapshot(tmp_path: Path, etcd_cluster_factory, restic_repo) -> None:
    """kill -9 of kubekeeper at random points of the stream: restic and its relay die with it, and
    restic commits only what the relay verified. Whatever is in the repository afterwards is whole."""
    cluster = etcd_cluster_factory(1)
    fill_etcd(cluster, 120)
    rng = random.Random(11)
    argv = [*KUBEKEEPER, "backup", "etcd", "--endpoints", cluster.endpoints[0], *restic_repo.cli_args]
    kills = 0
    for _ in range(6):
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        restic = _wait_for_children(proc.pid, "restic")
        time.sleep(rng.uniform(0.05, 1.5))  # somewhere in the stream (a whole backup takes ~3 s here)
        helpers = restic + [c for r in restic for c in _children(r)]
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            kills += 1
        proc.wait()
        _assert_gone(helpers)  # no restic, no relay left writing
    assert kills >= 4
    for snap in raw_snapshots(restic_repo.url, restic_repo.password_file):  # every stored snapshot is complete
        out = tmp_path / f"{snap['short_id']}.db"
        with open(out, "wb") as handle:
            Repository(RepoSpec(restic_repo.url, restic_repo.password_file)).dump(snap["id"], "/etcd-snapshot.db", handle)
        verify_file(out)
        out.unlink()
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300)  # and a re-run completes
    assert done.returncode == 0, done.stderr


# ------------------------------------------------------------------------------ fault 11
def test_kill_9_during_volume_restore_then_rerun_recovers(tmp_path: Path, restic_repo) -> None:
    volume = tmp_path / "volume"
    volume.mkdir()
    for i in range(4):
        (volume / f"big{i}.bin").write_bytes(os.urandom(48 << 20))
    populate(volume, 9, files=10)
    env = {**os.environ, "RESTIC_REPOSITORY": restic_repo.url, "RESTIC_PASSWORD_FILE": str(restic_repo.password_file)}
    assert kk("backup", "volume", "--pvc", "apps/big", "--source-dir", str(volume), env=env).returncode == 0
    backed_up = tree(volume)
    for i in range(4):
        (volume / f"big{i}.bin").unlink()
    (volume / "changed.txt").write_text("after the backup\n")
    before = tree(volume)
    argv = [*KUBEKEEPER, "restore", "volume", "--pvc", "apps/big", "--target", str(volume)]

    held = os.open(volume, os.O_RDONLY | os.O_DIRECTORY)  # a restore in progress holds this lock
    try:
        fcntl.flock(held, fcntl.LOCK_EX)
        second = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    finally:
        os.close(held)
    assert second.returncode == 3 and "another restore" in second.stderr and "Traceback" not in second.stderr
    assert tree(volume) == before

    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    staging = tmp_path / ".volume.kubekeeper-restore" / "new"
    deadline = time.monotonic() + 60
    while not (staging.is_dir() and any(p.is_file() and p.stat().st_size for p in staging.rglob("*"))):
        assert proc.poll() is None and time.monotonic() < deadline, "restore finished before it could be interrupted"
        time.sleep(0.005)
    restic = [c for c in _children(proc.pid) if _comm(c) == "restic"]
    os.kill(proc.pid, signal.SIGKILL)  # kubekeeper only: its restic must die with it
    proc.wait()
    _assert_gone(restic)
    assert tree(volume) == before  # the target was never touched
    left = sum(p.stat().st_size for p in staging.rglob("*") if p.is_file())

    again = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert "resuming an interrupted restore" in again.stderr and left > 0
    assert tree(volume) == backed_up
    assert not (tmp_path / ".volume.kubekeeper-restore").exists()
    assert not [c for c in _children(os.getpid()) if _comm(c) == "restic"]
    shutil.rmtree(volume)


# ------------------------------------------------------------------------------ an empty PVC
@pytest.mark.parametrize("case", ["empty", "everything-excluded"])
def test_an_empty_volume_is_a_backup_and_restores_empty(tmp_path: Path, restic_repo, cli, case: str) -> None:
    """A freshly created PVC holds nothing, and restic 0.17+ refuses a snapshot with nothing in it
    ("snapshot is empty"); it must still be stored, verified, and restored as an empty volume with the
    root's owner, mode and times - and the next backup, with data in it, must work as usual."""
    version = subprocess.run(["restic", "version"], capture_output=True, text=True, check=True).stdout
    assert version.startswith("restic 0.18"), version  # the restic that refuses empty snapshots
    volume = tmp_path / "fresh"
    volume.mkdir()
    excludes: list[str] = []
    if case == "everything-excluded":
        for i in range(3):
            (volume / f"trace-{i}.log").write_text("noise\n")
        excludes = ["--exclude", "*.log"]
    os.chown(volume, 1234, 2345)
    volume.chmod(0o2770)
    os.utime(volume, ns=(1_600_000_000_000_000_000, 1_600_000_000_000_000_000))
    root = volume.stat()
    args = ["--pvc", "apps/fresh", *restic_repo.cli_args, "--cluster", "lab"]

    stored = cli("backup", "volume", "--source-dir", str(volume), *excludes, *args, "--format", "json")
    assert stored.code == 0, stored.err
    [report] = json.loads(stored.out)["volumes"]
    assert report["status"] == "ok" and report["snapshot"] and report["files"] == 0

    target = tmp_path / "target"
    target.mkdir()
    (target / "stale.txt").write_text("was here before the restore\n")
    restored = cli("restore", "volume", "--target", str(target), *args)
    assert restored.code == 0, restored.err
    after = target.stat()
    assert list(target.iterdir()) == []
    assert (after.st_uid, after.st_gid, after.st_mode, after.st_mtime_ns) == (1234, 2345, root.st_mode, root.st_mtime_ns)
    if case == "empty":
        drill = cli("verify", *restic_repo.cli_args, "--format", "json")
        assert drill.code == 0 and json.loads(drill.out)["ok"], drill.out + drill.err

    (volume / "now-with-data.txt").write_text("the PVC got its first file\n")
    again = cli("backup", "volume", "--source-dir", str(volume), *excludes, *args, "--format", "json")
    assert again.code == 0 and json.loads(again.out)["volumes"][0]["files"] == 1, again.err
    assert cli("restore", "volume", "--target", str(target), *args).code == 0
    assert [p.name for p in target.iterdir()] == ["now-with-data.txt"]
