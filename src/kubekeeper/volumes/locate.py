"""Glue between the API (`kube.Cluster`) and pure resolution: which PVCs, and where each one is.

A node's run costs O(its own volumes) API requests, never O(the cluster): one field-selected LIST
of the pods running on this node, then one GET per PVC those pods mount. The PV is read only when
it is needed: a statically provisioned PV (stored for `restore --recreate`), a hostPath/local PV
(its path is in the PV), or a volume not found under the kubelet's directory. A dynamically
provisioned CSI or in-tree volume is found on disk by its PV name (the PVC's `spec.volumeName`), and
`--recreate` provisions a new one anyway. No cluster-wide PVC or PV list, no per-namespace pod list
(that is only a diagnostic for a PVC named on the command line that is not mounted here).
"""

from __future__ import annotations

import dataclasses
import os
import socket
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kubekeeper.volumes import paths
from kubekeeper.volumes.model import LocatedVolume, Problem, PvcRef
from kubekeeper.volumes.resolve import claims_of, mounting_pods, resolve

if TYPE_CHECKING:  # the client is loaded only by a run that connects (kubeapi.connect says why)
    from kubekeeper.volumes.kube import Cluster


def this_node(node: str | None) -> str:
    """--node, else $NODE_NAME (downward API in-cluster), else the hostname (kubeadm's default node name)."""
    return node or os.environ.get("NODE_NAME") or socket.gethostname()


def _complete(pvc: dict[str, Any] | None) -> dict[str, Any] | None:
    if pvc is not None:
        pvc.setdefault("kind", "PersistentVolumeClaim")
        pvc.setdefault("apiVersion", "v1")
    return pvc


def locate_one(cluster: Cluster, ref: PvcRef, *, node: str, kubelet_root: Path, host_root: Path, pvc: dict[str, Any] | None = None, refresh: bool = False) -> LocatedVolume | Problem:
    """One PVC named by the caller: GET PVC and PV, this node's pods (one LIST, shared by the run);
    only if no pod here mounts it, the namespace's pods, to say where it is mounted instead."""
    pvc = _complete(pvc if pvc is not None else cluster.get_pvc(ref))
    if pvc is None:
        return resolve(ref, None, None, [], node=node, kubelet_root=kubelet_root, host_root=host_root)
    pv_name = pvc.get("spec", {}).get("volumeName")
    pv = cluster.get_pv(pv_name) if pv_name else None
    pods = cluster.pods_on_node(node, refresh=refresh)
    if not mounting_pods(ref, pods):
        pods = cluster.pods(ref.namespace, refresh=refresh)
    return resolve(ref, pvc, pv, pods, node=node, kubelet_root=kubelet_root, host_root=host_root)


#: the PV controller sets one of these on a claim it provisions a volume for (dynamic provisioning)
PROVISIONER_ANNOTATIONS = ("volume.kubernetes.io/storage-provisioner", "volume.beta.kubernetes.io/storage-provisioner")


def kubelet_view(ref: PvcRef, pvc: dict[str, Any], pods: Sequence[dict[str, Any]], *, node: str, kubelet_root: Path) -> dict[str, Any] | None:
    """What resolution needs of the PV of a dynamically provisioned claim, read from the kubelet's
    directory instead of the API: the plugin directory holding `<pv name>` for a pod here. None when
    the PV must be read (static, hostPath/local, Block, or nothing found on disk)."""
    spec = pvc.get("spec", {})
    notes = pvc.get("metadata", {}).get("annotations") or {}
    pv_name = spec.get("volumeName")
    if not pv_name or spec.get("volumeMode") == "Block" or not any(key in notes for key in PROVISIONER_ANNOTATIONS):
        return None
    for pod in mounting_pods(ref, pods):
        if pod["spec"].get("nodeName") != node:
            continue
        base = kubelet_root / "pods" / pod["metadata"]["uid"] / "volumes"
        plugin = "csi" if (base / paths.CSI_DIR / pv_name / "mount").is_dir() else next(
            (key for key, directory in paths.IN_TREE_PLUGINS.items() if (base / directory / pv_name).is_dir()), None)
        if plugin:
            return {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": pv_name},
                    "spec": {plugin: {}, "volumeMode": spec.get("volumeMode") or "Filesystem", "storageClassName": spec.get("storageClassName") or ""}}
    return None


def locate_on_node(cluster: Cluster, *, node: str, kubelet_root: Path, host_root: Path, namespace: str | None = None) -> list[LocatedVolume | Problem]:
    """Every PVC mounted by a pod running on `node` (of `namespace`): 1 LIST + 1 GET per PVC, plus
    1 GET per PV that cannot be found on disk without it (see the module docstring)."""
    pods = cluster.pods_on_node(node, namespace)
    found: list[LocatedVolume | Problem] = []
    for ref in claims_of(pods):
        pvc = _complete(cluster.get_pvc(ref))
        if pvc is not None and (view := kubelet_view(ref, pvc, pods, node=node, kubelet_root=kubelet_root)) is not None:
            located = resolve(ref, pvc, view, pods, node=node, kubelet_root=kubelet_root, host_root=host_root)
            # the PV object is not stored: restore --recreate provisions a new volume for a dynamic claim
            found.append(dataclasses.replace(located, pv_object={}) if isinstance(located, LocatedVolume) else located)
            continue
        pv_name = (pvc or {}).get("spec", {}).get("volumeName")
        pv = cluster.get_pv(pv_name) if pv_name else None
        found.append(resolve(ref, pvc, pv, pods, node=node, kubelet_root=kubelet_root, host_root=host_root))
    return found


def locate(
    cluster: Cluster,
    refs: Sequence[PvcRef] = (),
    *,
    all_pvcs: bool = False,
    namespace: str | None = None,
    node: str,
    kubelet_root: Path,
    host_root: Path = Path("/"),
) -> tuple[list[LocatedVolume], list[Problem]]:
    """The named PVCs, and with `all_pvcs` every PVC mounted on `node` (of `namespace`) as well."""
    found: list[LocatedVolume | Problem] = []
    if all_pvcs:
        found.extend(locate_on_node(cluster, node=node, kubelet_root=kubelet_root, host_root=host_root, namespace=namespace))
    seen = {f.ref for f in found}
    for ref in dict.fromkeys(refs):
        if ref not in seen:
            found.append(locate_one(cluster, ref, node=node, kubelet_root=kubelet_root, host_root=host_root))
    sources = [f for f in found if isinstance(f, LocatedVolume)]
    problems = [f for f in found if isinstance(f, Problem)]
    return sources, problems
