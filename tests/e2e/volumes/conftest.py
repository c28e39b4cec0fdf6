"""A kubeadm-like two-node cluster for the volume tests.

The HTTP server here STANDS IN FOR THE KUBERNETES API SERVER (no API server can run on this
machine): it serves realistic v1 PVC/PV/Pod JSON for CSI, NFS, hostPath, local, unmounted, remote and
Block-mode claims, and accepts PVC/PV creation (binding them at once, as the PV controller would).
Everything under it is real: a kubelet-like directory tree on disk, the real restic, a real repository.
"""

from __future__ import annotations

import json
import os
import re
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import pytest

NODE, OTHER_NODE = "node-1", "node-2"


def pvc(ns: str, name: str, pv: str | None, sc: str = "csi-rbd", mode: str = "Filesystem", phase: str = "Bound") -> dict:
    spec = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}, "storageClassName": sc, "volumeMode": mode}
    if pv:
        spec["volumeName"] = pv
    return {
        "apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": name, "namespace": ns, "uid": str(uuid.uuid4()), "resourceVersion": "1001",
                     "creationTimestamp": "2024-05-01T10:00:00Z",
                     "annotations": {"pv.kubernetes.io/bind-completed": "yes", "volume.kubernetes.io/storage-provisioner": "rbd.csi.ceph.com"}},
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


@dataclass
class FakeCluster:
    pvcs: dict[tuple[str, str], dict] = field(default_factory=dict)
    pvs: dict[str, dict] = field(default_factory=dict)
    pods: list[dict] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, claim: dict, volume: dict | None = None) -> None:
        self.pvcs[(claim["metadata"]["namespace"], claim["metadata"]["name"])] = claim
        if volume:
            self.pvs[volume["metadata"]["name"]] = volume


def kubeadm_like(kubelet_root: Path, host_root: Path) -> FakeCluster:
    c = FakeCluster()
    c.add(pvc("apps", "db-data", "pvc-0a1b"), pv("pvc-0a1b", {"csi": {"driver": "rbd.csi.ceph.com", "volumeHandle": "0001-rbd-0a1b", "fsType": "ext4"}}, ("apps", "db-data")))
    c.add(pvc("apps", "shared", "nfs-shared", sc="nfs"), pv("nfs-shared", {"nfs": {"server": "10.0.0.5", "path": "/exports/shared"}}, ("apps", "shared"), sc="nfs", provisioned=False))
    c.add(pvc("apps", "logs", "hostpath-logs", sc=""), pv("hostpath-logs", {"hostPath": {"path": "/srv/logs", "type": "Directory"}}, ("apps", "logs"), sc="", provisioned=False))
    c.add(pvc("apps", "cache", "local-ssd1", sc="local-storage"), pv("local-ssd1", {"local": {"path": "/mnt/disks/ssd1"}}, ("apps", "cache"), sc="local-storage", provisioned=False, affinity=NODE))
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
    for name, path in dirs.items():
        path.mkdir(parents=True)
    c.dirs = dirs  # type: ignore[attr-defined]
    return c


class _Handler(BaseHTTPRequestHandler):
    cluster: FakeCluster

    def log_message(self, *args: object) -> None:  # quiet
        pass

    def _send(self, code: int, doc: dict) -> None:
        body = json.dumps(doc).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _not_found(self, what: str) -> None:
        self._send(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": f"{what} not found", "reason": "NotFound", "code": 404})

    def _list(self, kind: str, items: list[dict]) -> None:
        self._send(200, {"kind": f"{kind}List", "apiVersion": "v1", "metadata": {"resourceVersion": "2000"}, "items": [{k: v for k, v in i.items() if k not in ("kind", "apiVersion")} for i in items]})

    def do_GET(self) -> None:  # noqa: N802
        c, path = self.cluster, self.path.split("?")[0]
        with c.lock:
            if m := re.fullmatch(r"/api/v1/namespaces/([^/]+)/persistentvolumeclaims/([^/]+)", path):
                found = c.pvcs.get((m[1], m[2]))
                return self._send(200, found) if found else self._not_found(f'persistentvolumeclaims "{m[2]}"')
            if m := re.fullmatch(r"/api/v1/namespaces/([^/]+)/persistentvolumeclaims", path):
                return self._list("PersistentVolumeClaim", [v for (ns, _), v in sorted(c.pvcs.items()) if ns == m[1]])
            if path == "/api/v1/persistentvolumeclaims":
                return self._list("PersistentVolumeClaim", [v for _, v in sorted(c.pvcs.items())])
            if m := re.fullmatch(r"/api/v1/persistentvolumes/([^/]+)", path):
                found = c.pvs.get(m[1])
                return self._send(200, found) if found else self._not_found(f'persistentvolumes "{m[1]}"')
            if m := re.fullmatch(r"/api/v1/namespaces/([^/]+)/pods", path):
                return self._list("Pod", [p for p in c.pods if p["metadata"]["namespace"] == m[1]])
        self._not_found(path)

    def do_POST(self) -> None:  # noqa: N802
        c, path = self.cluster, self.path.split("?")[0]
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        body["metadata"]["uid"] = str(uuid.uuid4())
        with c.lock:
            if path == "/api/v1/persistentvolumes":
                body["status"] = {"phase": "Available"}
                c.pvs[body["metadata"]["name"]] = body
                return self._send(201, body)
            if m := re.fullmatch(r"/api/v1/namespaces/([^/]+)/persistentvolumeclaims", path):
                # bind at once, as the PV controller does for a matching static PV
                if body["spec"].get("volumeName") in c.pvs:
                    body["status"] = {"phase": "Bound"}
                    c.pvs[body["spec"]["volumeName"]]["status"] = {"phase": "Bound"}
                else:
                    body["status"] = {"phase": "Pending"}
                c.pvcs[(m[1], body["metadata"]["name"])] = body
                return self._send(201, body)
        self._not_found(path)


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
    handler = type("Handler", (_Handler,), {"cluster": cluster})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "kubeadm",
        "clusters": [{"name": "kubeadm", "cluster": {"server": f"http://127.0.0.1:{server.server_address[1]}"}}],
        "users": [{"name": "admin", "user": {"token": "stand-in-token"}}],
        "contexts": [{"name": "kubeadm", "context": {"cluster": "kubeadm", "user": "admin"}}],
    }))
    os.environ.pop("KUBERNETES_SERVICE_HOST", None)
    try:
        yield ApiStandIn(cluster, kubeconfig, kubelet_root, host_root)
    finally:
        server.shutdown()
        server.server_close()
