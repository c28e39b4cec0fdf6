"""Volume backup and restore end to end: the API stand-in (see conftest), a kubelet-like tree on
disk, the real restic and a real repository; trees compared byte for byte with modes, owners,
symlinks and timestamps."""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e


def populate(root: Path, seed: int, files: int = 30) -> None:
    rng = random.Random(seed)
    for i in range(files):
        sub = root / f"dir{i % 4}" / ("deep" if i % 3 == 0 else "")
        sub.mkdir(parents=True, exist_ok=True)
        path = sub / f"file{i}.dat"
        path.write_bytes(rng.randbytes(rng.randint(0, 20000)))
        os.chmod(path, rng.choice([0o644, 0o600, 0o755, 0o640]))
        if i % 5 == 0:
            os.chown(path, 1000 + i, 2000 + i)
    (root / "link-to-file").symlink_to("dir0/file0.dat")
    (root / "dangling").symlink_to("../nowhere")
    (root / "empty-dir").mkdir()
    os.chmod(root / "empty-dir", 0o2750)
    os.utime(root / "dir1" / "file1.dat", ns=(1_500_000_000_123_456_789, 1_500_000_000_123_456_789))
    os.chmod(root, 0o2775)
    os.chown(root, 999, 999)


def tree(root: Path) -> dict[str, tuple]:
    """Every entry with type, mode, owner, mtime and content (or link target); the root included."""
    out: dict[str, tuple] = {}
    for path in [root, *sorted(root.rglob("*"))]:
        st = path.lstat()
        rel = str(path.relative_to(root))
        if path.is_symlink():
            body = ("link", os.readlink(path))
        elif path.is_dir():
            body = ("dir",)
        else:
            body = ("file", hashlib.sha256(path.read_bytes()).hexdigest())
        mtime = None if path.is_symlink() else st.st_mtime_ns  # restic 0.14 cannot set a symlink's own mtime (nor can rsync -a)
        out[rel] = (*body, st.st_mode, st.st_uid, st.st_gid, mtime)
    return out


def change(root: Path) -> None:
    """Files added, deleted, modified; permissions, owners and a link changed."""
    (root / "dir0" / "added.txt").write_text("new file\n")
    (root / "new-dir").mkdir()
    (root / "new-dir" / "x").write_bytes(b"x" * 100)
    (root / "dir1" / "file1.dat").unlink()
    (root / "dir2" / "file2.dat").write_bytes(b"modified")
    os.chmod(root / "dir3" / "file7.dat", 0o777)
    os.chown(root / "dir0" / "deep" / "file0.dat", 4321, 4321)
    (root / "link-to-file").unlink()
    (root / "link-to-file").symlink_to("dir2/file2.dat")
    os.chmod(root, 0o700)


def kk(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kubekeeper", *args], capture_output=True, text=True, env=env, timeout=300)


def test_backup_all_pvcs_then_restore_changed_trees(api, restic_repo, cli) -> None:
    dirs = api.cluster.dirs
    volumes = ["db-data", "shared", "logs", "cache"]
    for seed, name in enumerate(volumes):
        populate(dirs[name], seed)
    before = {name: tree(dirs[name]) for name in volumes}

    result = cli("backup", "volume", "--all-pvcs", *api.args(), *restic_repo.cli_args, "--cluster", "lab", "--format", "json", "--exclude", "*.tmp")
    assert result.code == 0, result.err
    report = {v["pvc"]: v for v in json.loads(result.out)["volumes"]}
    assert {k for k, v in report.items() if v["status"] == "ok"} == {f"apps/{n}" for n in volumes}
    # only what running pods on this node mount is this node's business: not node-2's PVC, not the one
    # a finished pod named, not the pending one; a Block-mode volume is reported, not read
    assert set(report) == {f"apps/{n}" for n in volumes} | {"apps/raw"}
    assert report["apps/raw"]["status"] == "skipped" and "Block" in report["apps/raw"]["message"]
    assert report["apps/db-data"]["path"].endswith("volumes/kubernetes.io~csi/pvc-0a1b/mount")
    # one field-selected pod list, one GET per PVC it mounts, and a GET of the PV only where the PV is
    # needed: the static NFS, hostPath and local PVs and the Block one, not the dynamic CSI one found on disk
    lists = [r for r in api.cluster.requests if r.path == "/api/v1/pods"]
    assert [r.query.get("fieldSelector") for r in lists] == ["spec.nodeName=node-1,status.phase=Running"]
    assert not [r for r in api.cluster.requests if r.path.endswith("/persistentvolumeclaims") or r.path.endswith("/persistentvolumes")]
    pv_reads = {r.path.rsplit("/", 1)[1] for r in api.cluster.requests if r.path.startswith("/api/v1/persistentvolumes/")}
    assert pv_reads == {"nfs-shared", "hostpath-logs", "local-ssd1", "pvc-3a3b"}
    assert len(api.cluster.requests) == 1 + 5 + 4

    snaps = restic_repo.repository.snapshots(["kubekeeper", "kind:volume", "cluster:lab", "part=data"])
    tags = {s.tags for s in snaps}
    assert any({"namespace=apps", "pvc=db-data", "pv=pvc-0a1b", "node=node-1", "storageclass=csi-rbd"} <= set(t) for t in tags)
    assert len(snaps) == 4

    for name in volumes:
        change(dirs[name])
        assert tree(dirs[name]) != before[name]
        result = cli("restore", "volume", "--pvc", f"apps/{name}", *api.args(), *restic_repo.cli_args, "--cluster", "lab")
        assert result.code == 0, result.err
        assert tree(dirs[name]) == before[name], name
    assert not list(dirs["db-data"].parent.glob(".*kubekeeper-restore"))


def test_hostpath_volume_not_under_host_root_fails_the_run(api, restic_repo, cli, tmp_path) -> None:
    """A hostPath PV mounted here whose directory is not visible (host root not mounted) is a failure,
    never a `skipped` with exit 0."""
    empty = tmp_path / "empty-host"
    empty.mkdir()
    (api.cluster.dirs["db-data"] / "table.dat").write_bytes(b"rows")
    args = [a if a != str(api.host_root) else str(empty) for a in api.args()]
    result = cli("backup", "volume", "--all-pvcs", *args, *restic_repo.cli_args, "--format", "json")
    assert result.code == 3
    report = {v["pvc"]: v for v in json.loads(result.out)["volumes"]}
    assert report["apps/logs"]["status"] == "failed" and "/srv/logs" in report["apps/logs"]["message"]
    assert report["apps/cache"]["status"] == "failed", report
    assert report["apps/db-data"]["status"] == "ok", report["apps/db-data"]["message"]


def test_hooks_refused_outside_allowed_namespaces(api, restic_repo, cli) -> None:
    api.cluster.pvcs[("apps", "db-data")]["metadata"]["annotations"]["kubekeeper.io/pre-backup"] = "sync"
    for name in ("shared", "logs", "cache"):
        (api.cluster.dirs[name] / "file").write_bytes(b"data")
    result = cli("backup", "volume", "--all-pvcs", "--no-hooks", *api.args(), *restic_repo.cli_args, "--format", "json")
    assert result.code == 3
    report = {v["pvc"]: v for v in json.loads(result.out)["volumes"]}
    assert report["apps/db-data"]["status"] == "failed" and "--hook-namespace apps" in report["apps/db-data"]["message"]
    assert report["apps/shared"]["status"] == "ok"
    assert not [r for r in api.cluster.requests if "exec" in r.path]


def test_named_unmounted_pvc_fails_with_advice(api, restic_repo, cli) -> None:
    result = cli("backup", "volume", "--pvc", "apps/idle", "--pvc", "apps/remote", *api.args(), *restic_repo.cli_args)
    assert result.code == 3
    assert "not mounted by any running pod" in result.out and "run kubekeeper on that node" in result.out
    assert "Traceback" not in result.err


def test_interrupted_restore_leaves_volume_intact(tmp_path: Path, restic_repo) -> None:
    volume = tmp_path / "volume"
    volume.mkdir()
    for i in range(4):
        (volume / f"big{i}.bin").write_bytes(os.urandom(32 << 20))
    populate(volume, 9, files=10)
    env = {**os.environ, "RESTIC_REPOSITORY": restic_repo.url, "RESTIC_PASSWORD_FILE": str(restic_repo.password_file)}
    done = kk("backup", "volume", "--pvc", "apps/big", "--source-dir", str(volume), env=env)
    assert done.returncode == 0, done.stderr
    backed_up = tree(volume)
    change(volume)
    for i in range(4):
        (volume / f"big{i}.bin").unlink()
    previous = tree(volume)

    proc = subprocess.Popen([sys.executable, "-m", "kubekeeper", "restore", "volume", "--pvc", "apps/big", "--target", str(volume)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    staging = tmp_path / ".volume.kubekeeper-restore" / "new"
    deadline = time.monotonic() + 60
    while not (staging.is_dir() and any(staging.iterdir())):
        assert proc.poll() is None, "restore finished before it could be interrupted"
        assert time.monotonic() < deadline
        time.sleep(0.005)
    os.killpg(proc.pid, signal.SIGKILL)  # kubekeeper and its restic child, mid-restore
    proc.wait()
    assert tree(volume) == previous

    again = kk("restore", "volume", "--pvc", "apps/big", "--target", str(volume), env=env)
    assert again.returncode == 0, again.stderr
    assert tree(volume) == backed_up
    assert not (tmp_path / ".volume.kubekeeper-restore").exists()


def test_recreate_static_local_pv(api, restic_repo, cli) -> None:
    cache = api.cluster.dirs["cache"]
    populate(cache, 3, files=8)
    before = tree(cache)
    assert cli("backup", "volume", "--pvc", "apps/cache", *api.args(), *restic_repo.cli_args).code == 0
    # the namespace was lost: PVC and PV gone, the disk wiped
    del api.cluster.pvcs[("apps", "cache")]
    del api.cluster.pvs["local-ssd1"]
    for entry in cache.iterdir():
        subprocess.run(["rm", "-rf", str(entry)], check=True)

    result = cli("restore", "volume", "--pvc", "apps/cache", "--recreate", "--wait-timeout", "10", *api.args(), *restic_repo.cli_args, "--format", "json")
    assert result.code == 0, result.err
    assert json.loads(result.out)["recreated"] == ["pv/local-ssd1", "pvc/apps/cache"]
    created_pv = api.cluster.pvs["local-ssd1"]
    assert "uid" not in created_pv["spec"]["claimRef"] and created_pv["spec"]["local"]["path"] == "/mnt/disks/ssd1"
    assert "pv.kubernetes.io/bind-completed" not in (api.cluster.pvcs[("apps", "cache")]["metadata"].get("annotations") or {})
    assert tree(cache) == before
