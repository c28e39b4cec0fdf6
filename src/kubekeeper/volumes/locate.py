"""Glue between the API (`kube.Cluster`) and pure resolution: which PVCs, and where each one is.

A node's run costs O(its own volumes) API requests, never O(the cluster): one field-selected LIST
of the pods running on this node, then one GET per PVC those pods mount and one per bound PV. No
cluster-wide PVC or PV list, no per-namespace pod list (that is only a diagnostic for a PVC named on
the command line that is not mounted here, to say where it is).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from pathlib import Path

from kubekeeper.volumes.kube import Cluster
from kubekeeper.volumes.model import Problem, PvcRef, VolumeSource
from kubekeeper.volumes.resolve import claims_of, mounting_pods, resolve


def this_node(node: str | None) -> str:
    """--node, else $NODE_NAME (downward API in-cluster), else the hostname (kubeadm's default node name)."""
    return node or os.environ.get("NODE_NAME") or socket.gethostname()


def _complete(pvc: dict | None) -> dict | None:
    if pvc is not None:
        pvc.setdefault("kind", "PersistentVolumeClaim")
        pvc.setdefault("apiVersion", "v1")
    return pvc


def locate_one(cluster: Cluster, ref: PvcRef, *, node: str, kubelet_root: Path, host_root: Path, pvc: dict | None = None, refresh: bool = False) -> VolumeSource | Problem:
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


def locate_on_node(cluster: Cluster, *, node: str, kubelet_root: Path, host_root: Path, namespace: str | None = None) -> list[VolumeSource | Problem]:
    """Every PVC mounted by a pod running on `node` (of `namespace`): 1 LIST + 1 GET per PVC + 1 per PV."""
    pods = cluster.pods_on_node(node, namespace)
    found: list[VolumeSource | Problem] = []
    for ref in claims_of(pods):
        pvc = _complete(cluster.get_pvc(ref))
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
) -> tuple[list[VolumeSource], list[Problem]]:
    """The named PVCs, and with `all_pvcs` every PVC mounted on `node` (of `namespace`) as well."""
    found: list[VolumeSource | Problem] = []
    if all_pvcs:
        found.extend(locate_on_node(cluster, node=node, kubelet_root=kubelet_root, host_root=host_root, namespace=namespace))
    seen = {f.ref for f in found}
    for ref in dict.fromkeys(refs):
        if ref not in seen:
            found.append(locate_one(cluster, ref, node=node, kubelet_root=kubelet_root, host_root=host_root))
    sources = [f for f in found if isinstance(f, VolumeSource)]
    problems = [f for f in found if isinstance(f, Problem)]
    return sources, problems
