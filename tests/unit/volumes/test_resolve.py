"""PVC -> PV -> pod -> node -> kubelet path, and every reason a PVC cannot be read here."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubekeeper.errors import BadInput
from kubekeeper.volumes import paths
from kubekeeper.volumes.model import (
    ELSEWHERE,
    MISSING,
    NO_PATH,
    NOT_MOUNTED,
    UNBOUND,
    UNSUPPORTED,
    LocatedVolume,
    Problem,
    PvcRef,
)
from kubekeeper.volumes.resolve import resolve

ROOT = Path("/var/lib/kubelet")
REF = PvcRef("apps", "data")


def pvc(volume: str | None = "pv-1", phase: str = "Bound", mode: str = "Filesystem", notes: dict | None = None) -> dict:
    spec = {"volumeMode": mode, "storageClassName": "fast"}
    if volume:
        spec["volumeName"] = volume
    return {"metadata": {"name": "data", "namespace": "apps", "annotations": notes or {}}, "spec": spec, "status": {"phase": phase}}


def pv(source: dict, affinity: str | None = None) -> dict:
    spec = dict(source)
    if affinity:
        spec["nodeAffinity"] = {"required": {"nodeSelectorTerms": [{"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": [affinity]}]}]}}
    return {"metadata": {"name": "pv-1"}, "spec": spec}


def pod(node: str, uid: str = "u1", phase: str = "Running", claim: str = "data") -> dict:
    return {"metadata": {"name": f"p-{uid}", "namespace": "apps", "uid": uid},
            "spec": {"nodeName": node, "containers": [{"name": "db"}, {"name": "sidecar"}], "volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": claim}}]},
            "status": {"phase": phase}}


def run(claim, volume, pods, exists=lambda p: True, node="n1", host_root=Path("/")):
    return resolve(REF, claim, volume, pods, node=node, kubelet_root=ROOT, host_root=host_root, exists=exists)


def test_csi_path() -> None:
    found = run(pvc(), pv({"csi": {"driver": "x"}}), [pod("n1")])
    assert isinstance(found, LocatedVolume)
    assert found.path == ROOT / "pods/u1/volumes/kubernetes.io~csi/pv-1/mount"
    assert found.tag_details() == {"namespace": "apps", "pvc": "data", "pv": "pv-1", "node": "n1", "storageclass": "fast"}


def test_nfs_path_and_csi_migrated_fallback() -> None:
    found = run(pvc(), pv({"nfs": {"server": "s", "path": "/e"}}), [pod("n1")])
    assert found.path == ROOT / "pods/u1/volumes/kubernetes.io~nfs/pv-1"
    migrated = ROOT / "pods/u1/volumes/kubernetes.io~csi/pv-1/mount"
    found = run(pvc(), pv({"awsElasticBlockStore": {"volumeID": "v"}}), [pod("n1")], exists=lambda p: p == migrated)
    assert found.path == migrated


def test_flexvolume_dir_escapes_driver() -> None:
    found = run(pvc(), pv({"flexVolume": {"driver": "acme/nas"}}), [pod("n1")])
    assert found.path == ROOT / "pods/u1/volumes/acme~nas/pv-1"


def test_hostpath_and_local_use_pv_path() -> None:
    found = run(pvc(), pv({"hostPath": {"path": "/srv/x"}}), [pod("n1")], host_root=Path("/host"))
    assert found.path == Path("/host/srv/x")
    found = run(pvc(), pv({"local": {"path": "/mnt/ssd"}}, affinity="n1"), [], host_root=Path("/host"))
    assert found.path == Path("/host/mnt/ssd")
    other = run(pvc(), pv({"local": {"path": "/mnt/ssd"}}, affinity="n2"), [])
    assert isinstance(other, Problem) and other.reason == ELSEWHERE and other.node == "n2"


@pytest.mark.parametrize(
    ("claim", "volume", "pods", "reason", "words"),
    [
        (None, None, [], MISSING, "not found"),
        (pvc(None, phase="Pending"), None, [], UNBOUND, "Pending"),
        (pvc(), None, [], UNBOUND, "does not exist"),
        (pvc(mode="Block"), pv({"csi": {}}), [pod("n1")], UNSUPPORTED, "Block-mode"),
        (pvc(), pv({"csi": {}}), [], NOT_MOUNTED, "start a pod"),
        (pvc(), pv({"csi": {}}), [pod("n1", phase="Succeeded")], NOT_MOUNTED, "not mounted"),
        (pvc(), pv({"csi": {}}), [pod("n2")], ELSEWHERE, "run kubekeeper on that node"),
        (pvc(), pv({"csi": {}}), [pod("n1", claim="other")], NOT_MOUNTED, "not mounted"),
    ],
)
def test_problems_say_what_to_do(claim, volume, pods, reason, words) -> None:
    found = run(claim, volume, pods)
    assert isinstance(found, Problem)
    assert found.reason == reason and words in found.message


def test_missing_kubelet_dir_is_reported() -> None:
    found = run(pvc(), pv({"csi": {}}), [pod("n1")], exists=lambda p: False)
    assert isinstance(found, Problem) and found.reason == NO_PATH and "--kubelet-root" in found.message


def test_hooks_from_pvc_annotations_in_named_container() -> None:
    notes = {"kubekeeper.io/pre-backup": '["fsfreeze", "-f", "/data"]', "kubekeeper.io/post-backup": "fsfreeze -u /data && echo ok", "kubekeeper.io/hook-container": "sidecar"}
    found = run(pvc(notes=notes), pv({"csi": {}}), [pod("n1")])
    assert found.pre_hook.command == ("fsfreeze", "-f", "/data") and found.pre_hook.container == "sidecar"
    assert found.post_hook.command == ("/bin/sh", "-c", "fsfreeze -u /data && echo ok")
    assert found.pre_hook.pod == "p-u1"


def test_plugin_of_unknown_is_empty() -> None:
    assert paths.plugin_of({}) == ""


@pytest.mark.parametrize("text", ["data", "/data", "ns/", "a/b/c", "a,b/c"])
def test_pvc_ref_rejects_bad_input(text: str) -> None:
    with pytest.raises(BadInput):
        PvcRef.parse(text)
