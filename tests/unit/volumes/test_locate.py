"""A node's run reads only its own objects: which API calls `locate` makes, and when it reads a PV."""

from __future__ import annotations

from pathlib import Path

from kubekeeper.volumes.locate import kubelet_view, locate
from kubekeeper.volumes.model import LocatedVolume, PvcRef

DYNAMIC = {"volume.kubernetes.io/storage-provisioner": "rbd.csi.ceph.com"}


def claim(name: str, pv: str, notes: dict | None = None, mode: str = "Filesystem") -> dict:
    return {"metadata": {"namespace": "apps", "name": name, "annotations": notes or {}},
            "spec": {"volumeName": pv, "volumeMode": mode, "storageClassName": "fast"}, "status": {"phase": "Bound"}}


def pod(name: str, node: str, claims: list[str], ns: str = "apps") -> dict:
    return {"metadata": {"namespace": ns, "name": name, "uid": f"uid-{name}"}, "status": {"phase": "Running"},
            "spec": {"nodeName": node, "containers": [{"name": "c"}], "volumes": [{"name": c, "persistentVolumeClaim": {"claimName": c}} for c in claims]}}


class Recorder:
    """Duck-typed kube.Cluster that records each call (one call = one API request)."""

    def __init__(self, pvcs: dict, pvs: dict, pods: list[dict]) -> None:
        self.pvcs, self.pvs, self._pods, self.calls = pvcs, pvs, pods, []

    def pods_on_node(self, node, namespace=None, refresh=False):
        self.calls.append(("pods_on_node", node))
        return [p for p in self._pods if p["spec"]["nodeName"] == node and (namespace is None or p["metadata"]["namespace"] == namespace)]

    def pods(self, namespace, refresh=False):
        self.calls.append(("pods", namespace))
        return [p for p in self._pods if p["metadata"]["namespace"] == namespace]

    def get_pvc(self, ref):
        self.calls.append(("get_pvc", str(ref)))
        return self.pvcs.get(ref.name)

    def get_pv(self, name):
        self.calls.append(("get_pv", name))
        return self.pvs.get(name)


def test_dynamic_csi_volume_is_found_on_disk_without_reading_its_pv(tmp_path: Path) -> None:
    (tmp_path / "pods/uid-db/volumes/kubernetes.io~csi/pv-db/mount").mkdir(parents=True)
    pvcs = {"db": claim("db", "pv-db", DYNAMIC), "static": claim("static", "pv-nfs")}
    pvs = {"pv-nfs": {"metadata": {"name": "pv-nfs"}, "spec": {"nfs": {"server": "s", "path": "/e"}}}}
    (tmp_path / "pods/uid-web/volumes/kubernetes.io~nfs/pv-nfs").mkdir(parents=True)
    api = Recorder(pvcs, pvs, [pod("db", "n1", ["db"]), pod("web", "n1", ["static"]), pod("other", "n2", ["x"])])
    sources, problems = locate(api, all_pvcs=True, node="n1", kubelet_root=tmp_path)
    assert not problems and {s.ref.name: s.plugin for s in sources} == {"db": "csi", "static": "nfs"}
    assert api.calls == [("pods_on_node", "n1"), ("get_pvc", "apps/db"), ("get_pvc", "apps/static"), ("get_pv", "pv-nfs")]
    stored = {s.ref.name: s.pv_object for s in sources}
    assert stored["db"] == {} and stored["static"]["spec"]["nfs"]  # only a static PV is kept for --recreate


def test_pv_is_read_when_the_disk_does_not_say(tmp_path: Path) -> None:
    pods = [pod("db", "n1", ["db"])]
    assert kubelet_view(PvcRef("apps", "db"), claim("db", "pv-db", DYNAMIC), pods, node="n1", kubelet_root=tmp_path) is None  # not mounted
    (tmp_path / "pods/uid-db/volumes/kubernetes.io~csi/pv-db/mount").mkdir(parents=True)
    assert kubelet_view(PvcRef("apps", "db"), claim("db", "pv-db", DYNAMIC, mode="Block"), pods, node="n1", kubelet_root=tmp_path) is None
    assert kubelet_view(PvcRef("apps", "db"), claim("db", "pv-db"), pods, node="n1", kubelet_root=tmp_path) is None  # static
    assert kubelet_view(PvcRef("apps", "db"), claim("db", "pv-db", DYNAMIC), pods, node="n2", kubelet_root=tmp_path) is None  # not this node
    view = kubelet_view(PvcRef("apps", "db"), claim("db", "pv-db", DYNAMIC), pods, node="n1", kubelet_root=tmp_path)
    assert view["spec"]["csi"] == {} and view["metadata"]["name"] == "pv-db"


def test_same_claim_name_in_another_namespace_is_not_mine(tmp_path: Path) -> None:
    (tmp_path / "pods/uid-db/volumes/kubernetes.io~csi/pv-db/mount").mkdir(parents=True)
    api = Recorder({"db": claim("db", "pv-db", DYNAMIC)}, {}, [pod("db", "n1", ["db"]), pod("db2", "n2", ["db"], ns="other")])
    sources, _ = locate(api, all_pvcs=True, node="n1", kubelet_root=tmp_path)
    assert [s.ref for s in sources] == [PvcRef("apps", "db")] and isinstance(sources[0], LocatedVolume)


def test_named_pvc_elsewhere_lists_its_namespace_only_then(tmp_path: Path) -> None:
    pvs = {"pv-db": {"metadata": {"name": "pv-db"}, "spec": {"csi": {"driver": "d"}}}}
    api = Recorder({"db": claim("db", "pv-db", DYNAMIC)}, pvs, [pod("db", "n2", ["db"])])
    sources, problems = locate(api, [PvcRef("apps", "db")], node="n1", kubelet_root=tmp_path)
    assert not sources and problems[0].reason == "elsewhere" and problems[0].node == "n2"
    assert ("pods", "apps") in api.calls
