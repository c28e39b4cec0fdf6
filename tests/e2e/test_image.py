"""The container image, built by `image/build.sh` (what `make image` runs) and smoke-tested inside.

Built from nothing but Debian's packages and PyPI: a debootstrap'd trixie base, buildah
(`--isolation chroot`), the wheel of this tree. Inside the image (`buildah run`, which shares the
host's network) the real kubekeeper, restic and etcdutl back up an etcd 3.5.16 running on 127.0.0.1
and restore it; the restored member is then started and read on the host. The images and containers
made here are removed at the end. Needs root and buildah/debootstrap; in CI (`CI=true`) their absence
fails the run instead of skipping it.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import pytest

from tests.e2e.conftest import EtcdCluster, EtcdMember, free_port, require

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
ETCD = Path("/usr/bin/etcd")
ETCDCTL = Path("/usr/bin/etcdctl")
NONROOT = 65532


def _missing() -> str:
    if os.geteuid() != 0:
        return "building the image needs root (buildah --isolation chroot)"
    for tool in ("buildah", "debootstrap"):
        if not shutil.which(tool):
            return f"{tool} is not installed (Debian package {tool})"
    if not ETCD.exists() or not ETCDCTL.exists():
        return "etcd-server/etcd-client 3.5 are not installed"
    return ""


def buildah(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(["buildah", *args], capture_output=True, text=True, check=check, timeout=timeout)


@dataclass
class Image:
    name: str
    container: str
    mount: Path  # the container's root, mounted on the host (to look at what the image holds)
    build_seconds: float
    size: str

    def run(self, *argv: str, volumes: tuple[str, ...] = (), env: dict[str, str] | None = None,
            user: str | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
        """Run argv in the container (as the image's USER unless `user`), host network, bind mounts."""
        options = ["--isolation", "chroot"]
        for volume in volumes:
            options += ["--volume", volume]
        for key, value in (env or {}).items():
            options += ["--env", f"{key}={value}"]
        if user:
            options += ["--user", user]
        return buildah("run", *options, self.container, "--", *argv, check=False, timeout=timeout)


@pytest.fixture(scope="module")
def image() -> Iterator[Image]:
    reason = _missing()
    require(not reason, f"what the image build needs: {reason}")
    tag = secrets.token_hex(4)
    name, base = f"localhost/kubekeeper-test-{tag}:{version('kubekeeper')}", f"localhost/kubekeeper-test-base-{tag}:trixie"
    env = {**os.environ, "IMAGE": name, "BASE_IMAGE": base, "PY": sys.executable}
    env.pop("BASE", None)
    started = time.monotonic()
    built = subprocess.run([str(ROOT / "image/build.sh")], cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200)
    seconds = time.monotonic() - started
    container = ""
    try:
        assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
        size = buildah("images", "--format", "{{.Size}}", name).stdout.strip()
        print(f"\nimage {name}: {size}, built in {seconds:.0f} s (base included)", file=sys.stderr)
        container = buildah("from", "--pull-never", name).stdout.strip()
        mount = Path(buildah("mount", container).stdout.strip())
        yield Image(name, container, mount, seconds, size)
    finally:
        if container:
            buildah("umount", container, check=False)
            buildah("rm", container, check=False)
        for image_name in (name, base):
            buildah("rmi", "--force", image_name, check=False)


def test_tools_and_versions(image: Image) -> None:
    """kubekeeper of this tree, restic 0.18, etcdutl and etcdctl 3.5.16; non-root by default."""
    kubekeeper = image.run("kubekeeper", "--version")
    assert kubekeeper.returncode == 0 and kubekeeper.stdout.strip() == f"kubekeeper {version('kubekeeper')}", kubekeeper
    restic = image.run("restic", "version")
    assert restic.returncode == 0 and restic.stdout.startswith("restic 0.18."), restic
    for tool in ("etcdutl", "etcdctl"):
        found = image.run(tool, "version")
        assert found.returncode == 0 and f"{tool} version: 3.5.16" in found.stdout, found
    whoami = image.run("id", "-u")
    assert whoami.stdout.strip() == str(NONROOT)
    config = json.loads(buildah("inspect", "--type", "image", image.name).stdout)["OCIv1"]["config"]
    assert config["Entrypoint"] == ["kubekeeper"] and config["User"] == f"{NONROOT}:{NONROOT}"


def test_nothing_it_does_not_need(image: Image) -> None:
    """No etcd server, no pip, no compiler, no docs; the wheel of this tree, not a PyPI copy."""
    for absent in ("usr/bin/etcd", "opt/kubekeeper/bin/pip", "usr/bin/gcc", "usr/bin/python3-config"):
        assert not (image.mount / absent).exists(), absent
    assert not list((image.mount / "usr/share/man").glob("*"))
    site = next((image.mount / "opt/kubekeeper/lib").glob("python3*/site-packages"))
    record = (next(site.glob("kubekeeper-*.dist-info")) / "RECORD").read_text()
    # every module of this tree is in the image, byte for byte
    for source in (ROOT / "src/kubekeeper").rglob("*.py"):
        relative = source.relative_to(ROOT / "src")
        assert str(relative) in record, relative
        assert (site / relative).read_bytes() == source.read_bytes(), relative


def test_etcd_backup_and_restore_inside_the_image(image: Image, tmp_path: Path) -> None:
    """A real etcd 3.5.16 on 127.0.0.1; kubekeeper in the image backs it up into a restic repository
    and restores a member data dir from it; that member then starts and serves the keys."""
    work = tmp_path / "work"
    work.mkdir()
    os.chown(work, NONROOT, NONROOT)  # the image's user writes the repository and the restored member
    password = work / "password"
    password.write_text(secrets.token_urlsafe(18) + "\n")
    os.chown(password, NONROOT, NONROOT)
    password.chmod(0o400)

    source = EtcdCluster(ETCD, tmp_path / "source")
    source.root.mkdir()
    source.members.append(EtcdMember("m0", free_port(), free_port(), source.root / "m0.etcd", source.root / "m0.log"))
    source.start()
    try:
        endpoint = source.members[0].client_url
        for i in range(50):
            subprocess.run([str(ETCDCTL), "--endpoints", endpoint, "put", f"/registry/smoke/k{i}", f"value-{i}"],
                           check=True, capture_output=True, timeout=30)
        env = {"RESTIC_REPOSITORY": "/work/repo", "RESTIC_PASSWORD_FILE": "/work/password"}
        mounts = (f"{work}:/work",)
        init = image.run("kubekeeper", "repo", "init", volumes=mounts, env=env)
        assert init.returncode == 0, init.stderr
        backup = image.run("kubekeeper", "backup", "etcd", "--endpoints", endpoint, "--cluster", "smoke", "--format", "json",
                           volumes=mounts, env=env)
        assert backup.returncode == 0, backup.stderr
        stored = json.loads(backup.stdout)
    finally:
        source.stop()

    peer = free_port()
    restore = image.run("kubekeeper", "restore", "etcd", "--snapshot", "latest", "--cluster", "smoke", "--name", "r0",
                        "--initial-cluster", f"r0=http://127.0.0.1:{peer}", "--data-dir", "/work/restored/r0.etcd",
                        "--format", "json", volumes=mounts, env=env)
    assert restore.returncode == 0, f"restore inside the image failed: {restore.stderr}"
    assert "etcdutl" in json.loads(restore.stdout)["tool"]

    restored = EtcdCluster(ETCD, tmp_path / "restored", token="kubekeeper-restored")
    restored.root.mkdir()
    restored.members.append(EtcdMember("r0", free_port(), peer, work / "restored/r0.etcd", restored.root / "r0.log"))
    restored.start()
    try:
        got = subprocess.run([str(ETCDCTL), "--endpoints", restored.members[0].client_url, "get", "--prefix", "/registry/smoke/",
                              "--print-value-only"], check=True, capture_output=True, text=True, timeout=30)
        assert sorted(got.stdout.split()) == sorted(f"value-{i}" for i in range(50))
        assert stored["snapshot_id"]
    finally:
        restored.stop()


def test_volume_backup_inside_the_image(image: Image, tmp_path: Path) -> None:
    """The per-node volume Job's command in the image, as uid 0 like its manifest, against the API
    stand-in (tests/e2e/volumes/apiserver.py; no API server can run here) on 127.0.0.1: the node's
    dynamic CSI volume is found on disk, read (a file owned by another user) and stored."""
    from tests.e2e.volumes.apiserver import FakeCluster, serve
    from tests.e2e.volumes.conftest import pod, pv, pvc

    cluster = FakeCluster()
    cluster.add(pvc("shop", "orders", "pvc-orders"), pv("pvc-orders", {"csi": {"driver": "rbd.csi.ceph.com", "volumeHandle": "h"}}, ("shop", "orders")))
    cluster.pods.append(pod("shop", "orders-db-0", "worker-1", ["orders"]))
    work = tmp_path / "work"
    data = work / "kubelet/pods" / cluster.pods[0]["metadata"]["uid"] / "volumes/kubernetes.io~csi/pvc-orders/mount"
    data.mkdir(parents=True)
    (data / "orders.db").write_bytes(os.urandom(1 << 16))
    (data / "orders.db").chmod(0o600)
    os.chown(data / "orders.db", 999, 999)  # owned by the database's user, not the backup's
    (work / "password").write_text(secrets.token_urlsafe(18) + "\n")
    env = {"RESTIC_REPOSITORY": "/work/repo", "RESTIC_PASSWORD_FILE": "/work/password", "NODE_NAME": "worker-1"}
    with serve(cluster, work / "kubeconfig"):
        assert image.run("kubekeeper", "repo", "init", volumes=(f"{work}:/work",), env=env, user="0:0").returncode == 0
        cluster.requests.clear()
        result = image.run("kubekeeper", "backup", "volume", "--all-pvcs", "--kubeconfig", "/work/kubeconfig", "--kubelet-root", "/work/kubelet",
                           "--no-hooks", "--format", "json", volumes=(f"{work}:/work",), env=env, user="0:0")
        requests = list(cluster.requests)
    assert result.returncode == 0, result.stderr
    (volume,) = json.loads(result.stdout)["volumes"]
    assert volume["pvc"] == "shop/orders" and volume["status"] == "ok" and volume["bytes_processed"] == 1 << 16
    assert [r.path for r in requests] == ["/api/v1/pods", "/api/v1/namespaces/shop/persistentvolumeclaims/orders"]
