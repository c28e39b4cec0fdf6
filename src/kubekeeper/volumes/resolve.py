"""Resolve a PVC to the directory holding its files on this node — pure: API objects in (as the
API's JSON dicts), a `LocatedVolume` or a `Problem` (with what to do) out. Never a silent skip."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from kubekeeper.volumes import hooks, paths
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

HOSTNAME_LABEL = "kubernetes.io/hostname"


def ref_of(pvc: dict[str, Any]) -> PvcRef:
    meta = pvc.get("metadata", {})
    return PvcRef(meta.get("namespace", ""), meta.get("name", ""))


def _active(pod: dict[str, Any]) -> bool:
    """Scheduled, not finished, not being deleted: its volumes are (or are about to be) mounted."""
    spec, status = pod.get("spec", {}), pod.get("status", {})
    if not spec.get("nodeName") or status.get("phase") in ("Succeeded", "Failed"):
        return False
    return not pod.get("metadata", {}).get("deletionTimestamp")


def _claim_names(pod: dict[str, Any]) -> list[str]:
    return [v["persistentVolumeClaim"]["claimName"] for v in pod.get("spec", {}).get("volumes") or []
            if (v.get("persistentVolumeClaim") or {}).get("claimName")]


def mounting_pods(ref: PvcRef, pods: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pods of the PVC's namespace, scheduled and not finished, that name the PVC in a volume."""
    found = [p for p in pods if p.get("metadata", {}).get("namespace") == ref.namespace and _active(p) and ref.name in _claim_names(p)]
    return sorted(found, key=lambda p: (p["status"].get("phase") != "Running", p["metadata"]["name"]))


def claims_of(pods: Sequence[dict[str, Any]]) -> list[PvcRef]:
    """The PVCs the active pods mount, each once, sorted. Generic ephemeral volumes are not
    included: their claim lives and dies with the pod, so there is nothing to restore it into."""
    refs = {PvcRef(p["metadata"].get("namespace", ""), name) for p in pods if _active(p) for name in _claim_names(p)}
    return sorted(refs)


def affinity_nodes(pv: dict[str, Any]) -> list[str]:
    """Nodes a PV is pinned to by `kubernetes.io/hostname` node affinity (local PVs)."""
    terms = ((pv.get("spec", {}).get("nodeAffinity") or {}).get("required") or {}).get("nodeSelectorTerms") or []
    nodes: list[str] = []
    for term in terms:
        for expr in term.get("matchExpressions") or []:
            if expr.get("key") == HOSTNAME_LABEL and expr.get("operator") == "In":
                nodes.extend(expr.get("values") or [])
    return nodes


def resolve(
    ref: PvcRef,
    pvc: dict[str, Any] | None,
    pv: dict[str, Any] | None,
    pods: Sequence[dict[str, Any]],
    *,
    node: str,
    kubelet_root: Path,
    host_root: Path = Path("/"),
    exists: Callable[[Path], bool] = Path.is_dir,
) -> LocatedVolume | Problem:
    """Where `ref`'s files are on `node`, or why they cannot be read here."""
    if pvc is None:
        return Problem(ref, MISSING, f"PVC {ref} not found: check the namespace and name (kubectl get pvc -n {ref.namespace})")
    phase = pvc.get("status", {}).get("phase", "")
    pv_name = pvc.get("spec", {}).get("volumeName", "")
    if phase != "Bound" or not pv_name:
        return Problem(ref, UNBOUND, f"PVC {ref} is {phase or 'not bound'}: there is no volume data to back up until it is Bound")
    if pv is None:
        return Problem(ref, UNBOUND, f"PVC {ref} is bound to PV {pv_name}, which does not exist: check `kubectl get pv {pv_name}`")
    spec = pv.get("spec", {})
    if (pvc.get("spec", {}).get("volumeMode") or spec.get("volumeMode")) == "Block":
        return Problem(ref, UNSUPPORTED, f"PVC {ref} is a Block-mode volume: file backup does not support raw block devices (use a CSI VolumeSnapshot)")
    plugin = paths.plugin_of(spec)
    storage_class = pvc.get("spec", {}).get("storageClassName") or spec.get("storageClassName") or ""
    users = mounting_pods(ref, pods)
    pod_nodes = sorted({p["spec"]["nodeName"] for p in users})

    def found(path: Path, pod: dict[str, Any] | None) -> LocatedVolume:
        pre, post = hooks.from_annotations(pvc, pod)
        return LocatedVolume(ref, path, node, pv_name, storage_class, plugin, pre, post, pvc, pv)

    local_pods = [p for p in users if p["spec"]["nodeName"] == node]
    if plugin in paths.NODE_PATH_SOURCES:
        pinned = affinity_nodes(pv) or pod_nodes
        if pinned and node not in pinned:
            return Problem(ref, ELSEWHERE, f"PVC {ref} ({plugin} PV {pv_name}) lives on node {', '.join(pinned)}, not {node}: run kubekeeper there", node=pinned[0])
        path = paths.node_path(host_root, spec)
        if path is None or not exists(path):
            return Problem(ref, NO_PATH, f"PVC {ref}: {plugin} path {path} is not there on node {node}: check --host-root (the node's / as this process sees it)")
        return found(path, local_pods[0] if local_pods else None)
    if not users:
        return Problem(ref, NOT_MOUNTED, f"PVC {ref} is not mounted by any running pod, so no node has its files: start a pod that mounts it (or scale its workload up) and back up on that node, or use --source-dir")
    if not local_pods:
        return Problem(ref, ELSEWHERE, f"PVC {ref} is mounted on node {', '.join(pod_nodes)}, not on {node}: run kubekeeper on that node (deploy render runs one per node)", node=pod_nodes[0])
    if not plugin or plugin not in ("csi", "flexVolume", *paths.IN_TREE_PLUGINS):
        return Problem(ref, UNSUPPORTED, f"PVC {ref}: PV {pv_name} has a volume type kubekeeper cannot locate on the node; use --source-dir")
    for pod in local_pods:
        for candidate in paths.pod_volume_candidates(kubelet_root, pod["metadata"]["uid"], pv_name, spec):
            if exists(candidate):
                return found(candidate, pod)
    tried = paths.pod_volume_candidates(kubelet_root, local_pods[0]["metadata"]["uid"], pv_name, spec)
    return Problem(ref, NO_PATH, f"PVC {ref} is mounted on {node} but {tried[0] if tried else 'its directory'} is not there: check --kubelet-root", node=node)
