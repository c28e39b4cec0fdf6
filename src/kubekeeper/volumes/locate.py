"""Glue between the API (`kube.Cluster`) and pure resolution: which PVCs, and where each one is."""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from pathlib import Path

from kubekeeper.volumes.kube import Cluster
from kubekeeper.volumes.model import Problem, PvcRef, VolumeSource
from kubekeeper.volumes.resolve import ref_of, resolve


def this_node(node: str | None) -> str:
    """--node, else $NODE_NAME (downward API in-cluster), else the hostname (kubeadm's default node name)."""
    return node or os.environ.get("NODE_NAME") or socket.gethostname()


def locate_one(cluster: Cluster, ref: PvcRef, *, node: str, kubelet_root: Path, host_root: Path, pvc: dict | None = None, refresh: bool = False) -> VolumeSource | Problem:
    pvc = pvc if pvc is not None else cluster.get_pvc(ref)
    pv_name = (pvc or {}).get("spec", {}).get("volumeName")
    pv = cluster.get_pv(pv_name) if pv_name else None
    pods = cluster.pods(ref.namespace, refresh=refresh) if pvc is not None else []
    if pvc is not None:
        pvc.setdefault("kind", "PersistentVolumeClaim")
        pvc.setdefault("apiVersion", "v1")
    return resolve(ref, pvc, pv, pods, node=node, kubelet_root=kubelet_root, host_root=host_root)


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
    """Resolve the named PVCs, or every PVC (of `namespace`), on `node`."""
    found: list[VolumeSource | Problem] = []
    if all_pvcs:
        for pvc in cluster.list_pvcs(namespace):
            found.append(locate_one(cluster, ref_of(pvc), node=node, kubelet_root=kubelet_root, host_root=host_root, pvc=pvc))
    else:
        for ref in refs:
            found.append(locate_one(cluster, ref, node=node, kubelet_root=kubelet_root, host_root=host_root))
    sources = [f for f in found if isinstance(f, VolumeSource)]
    problems = [f for f in found if isinstance(f, Problem)]
    return sources, problems
