"""A kubeadm-like two-node cluster for the volume tests.

The HTTP server (apiserver.py) STANDS IN FOR THE KUBERNETES API SERVER (no API server can run on this
machine): it serves realistic v1 PVC/PV/Pod JSON, paginated and field-selected like the real one, for CSI, NFS, hostPath, local, unmounted, remote and
Block-mode claims, and accepts PVC/PV creation (binding them at once, as the PV controller would).
Everything under it is real: a kubelet-like directory tree on disk, the real restic, a real repository.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.volumes.apiserver import FakeCluster, serve

NODE, OTHER_NODE = "node-1", "node-2"


def pvc(ns: str, name: str, pv: str | None, sc: str = "csi-rbd", mode: str = "Filesystem", phase: str = "Bound", dynamic: bool = True) -> dict:
    """A claim as the API returns it; `dynamic`: provisioned by a StorageClass (the PV controller's
    bind-completed and storage-provisioner annotations), else bound to an administrator's PV."""
    spec = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}, "storageClassName": sc, "volumeMode": mode}
    if pv:
        spec["volumeName"] = pv
    return {
        "apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": name, "namespace": ns, "uid": str(uuid.uuid4()), "resourceVersion": "1001",
                     "creationTimestamp": "2024-05-01T10:00:00Z",
                     "annotations": {"pv.kubernetes.io/bind-completed": "yes", **({"volume.kubernetes.io/storage-provisioner": "rbd.csi.ceph.com"} if dynamic else {})}},
        "spec": spec,
        "status": {"phase": phase, "accessModes": ["ReadWriteOnce"], "capacity": {"storage": "1Gi"}} if phase == "Bound" else {"phase": phase},
    }


def pv(name: str, source: dict, claim: tuple[str, str], sc: str = "csi-rbd", provisioned: bool = True, affinity: str | None = None, mode: str = "Filesystem") -> dict:
    spec = {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "persistentVolumeReclaimPolicy": "Delete",
            "storageClassName": sc, "volumeMode": mode, **source,
            "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "namespace": claim[0], "name": claim[1], "uid": str(uuid.uuid4()), "resourceVersion": "1000"}}
    if affinity:
        spec["nodeAffinity"] = {"required": {"nodeSelectorTerms": [{"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": [affinity]}]}]}}
    meta = {"name": name, "uid": str(uuid.uuid4()), "resourceVersion": "1000", "creationTimestamp": "2024-05-01T10:00:00Z"}
    if provisioned:
        meta["annotations"] = {"pv.kubernetes.io/provisioned-by": "rbd.csi.ceph.com"}
    return {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": meta, "spec": spec, "status": {"phase": "Bound"}}


def pod(ns: str, name: str, node: str, claims: list[str], phase: str = "Running") -> dict:
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "uid": str(uuid.uuid4()), "labels": {"app": name.rsplit("-", 1)[0]}},
        "spec": {"nodeName": node, "containers": [{"name": "main", "image": "registry.k8s.io/pause:3.9"}],
                 "volumes": [{"name": f"v{i}", "persistentVolumeClaim": {"claimName": c}} for i, c in enumerate(claims)]
                 + [{"name": "kube-api-access-x", "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]}}]},
        "status": {"phase": phase, "hostIP": "10.0.0.11" if node == NODE else "10.0.0.12"},
    }


def kubeadm_like(kubelet_root: Path, host_root: Path) -> FakeCluster:
    c = FakeCluster()
    c.add(pvc("apps", "db-data", "pvc-0a1b"), pv("pvc-0a1b", {"csi": {"driver": "rbd.csi.ceph.com", "volumeHandle": "0001-rbd-0a1b", "fsType": "ext4"}}, ("apps", "db-data")))
    c.add(pvc("apps", "shared", "nfs-shared", sc="nfs", dynamic=False), pv("nfs-shared", {"nfs": {"server": "10.0.0.5", "path": "/exports/shared"}}, ("apps", "shared"), sc="nfs", provisioned=False))
    c.add(pvc("apps", "logs", "hostpath-logs", sc="", dynamic=False), pv("hostpath-logs", {"hostPath": {"path": "/srv/logs", "type": "Directory"}}, ("apps", "logs"), sc="", provisioned=False))
    c.add(pvc("apps", "cache", "local-ssd1", sc="local-storage", dynamic=False), pv("local-ssd1", {"local": {"path": "/mnt/disks/ssd1"}}, ("apps", "cache"), sc="local-storage", provisioned=False, affinity=NODE))
    c.add(pvc("apps", "idle", "pvc-1d1e"), pv("pvc-1d1e", {"csi": {"driver": "rbd.csi.ceph.com", "volumeHandle": "0001-rbd-1d1e"}}, ("apps", "idle")))
    c.add(pvc("apps", "remote", "pvc-2e2f"), pv("pvc-2e2f", {"csi": {"driver": "rbd.csi.ceph.com", "volumeHandle": "0001-rbd-2e2f"}}, ("apps", "remote")))
    c.add(pvc("apps", "raw", "pvc-3a3b", mode="Block"), pv("pvc-3a3b", {"csi": {"driver": "rbd.csi.ceph.com", "volumeHandle": "0001-rbd-3a3b"}}, ("apps", "raw"), mode="Block"))
    c.add(pvc("apps", "pending", None, phase="Pending"))
    c.pods = [
        pod("apps", "db-0", NODE, ["db-data"]),
        pod("apps", "web-7d9f-abcde", NODE, ["shared", "logs", "cache"]),
        pod("apps", "worker-0", OTHER_NODE, ["remote"]),
        pod("apps", "raw-0", NODE, ["raw"]),
        pod("apps", "job-done", NODE, ["idle"], phase="Succeeded"),
    ]
    uid = {p["metadata"]["name"]: p["metadata"]["uid"] for p in c.pods}
    volumes = kubelet_root / "pods"
    dirs = {
        "db-data": volumes / uid["db-0"] / "volumes/kubernetes.io~csi/pvc-0a1b/mount",
        "shared": volumes / uid["web-7d9f-abcde"] / "volumes/kubernetes.io~nfs/nfs-shared",
        "logs": host_root / "srv/logs",
        "cache": host_root / "mnt/disks/ssd1",
        "remote-elsewhere": volumes / uid["worker-0"] / "volumes/kubernetes.io~csi/pvc-2e2f/mount",  # node-2's, not used here
    }
    for path in dirs.values():
        path.mkdir(parents=True)
    c.dirs = dirs  # type: ignore[attr-defined]
    return c


@dataclass
class ApiStandIn:
    cluster: FakeCluster
    kubeconfig: Path
    kubelet_root: Path
    host_root: Path

    def args(self) -> list[str]:
        return ["--kubeconfig", str(self.kubeconfig), "--kubelet-root", str(self.kubelet_root), "--host-root", str(self.host_root), "--node", NODE]


@pytest.fixture
def api(tmp_path: Path) -> Iterator[ApiStandIn]:
    """Stand-in for the Kubernetes API server on 127.0.0.1 (free port), plus the node's directories."""
    kubelet_root, host_root = tmp_path / "node1/var/lib/kubelet", tmp_path / "node1/host"
    cluster = kubeadm_like(kubelet_root, host_root)
    os.environ.pop("KUBERNETES_SERVICE_HOST", None)
    with serve(cluster, tmp_path / "kubeconfig") as kubeconfig:
        yield ApiStandIn(cluster, kubeconfig, kubelet_root, host_root)
