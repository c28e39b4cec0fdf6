"""Stored PVC/PV objects -> bodies that recreate them (server-set fields and binding state removed)."""

from __future__ import annotations

import copy
from typing import Any

#: annotations the control plane sets while binding/provisioning; a new object must not carry them
BINDING_ANNOTATIONS = (
    "pv.kubernetes.io/bind-completed",
    "pv.kubernetes.io/bound-by-controller",
    "volume.beta.kubernetes.io/storage-provisioner",
    "volume.kubernetes.io/storage-provisioner",
    "volume.kubernetes.io/selected-node",
    "kubectl.kubernetes.io/last-applied-configuration",
)
PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"


def _metadata(meta: dict[str, Any], namespaced: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"name": meta["name"]}
    if namespaced:
        out["namespace"] = meta["namespace"]
    if meta.get("labels"):
        out["labels"] = dict(meta["labels"])
    notes = {k: v for k, v in (meta.get("annotations") or {}).items() if k not in BINDING_ANNOTATIONS}
    if notes:
        out["annotations"] = notes
    return out


def is_static(pv: dict[str, Any] | None) -> bool:
    """A PV an administrator created (no provisioner annotation) must be recreated too."""
    if not pv:
        return False
    return PROVISIONED_BY not in (pv.get("metadata", {}).get("annotations") or {})


def pvc_body(pvc: dict[str, Any], pv: dict[str, Any] | None) -> dict[str, Any]:
    spec = copy.deepcopy(pvc.get("spec", {}))
    if not is_static(pv):
        spec.pop("volumeName", None)  # let the provisioner make a new volume
    spec.pop("dataSource", None)
    spec.pop("dataSourceRef", None)
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": _metadata(pvc["metadata"], True), "spec": spec}


def pv_body(pv: dict[str, Any]) -> dict[str, Any]:
    spec = copy.deepcopy(pv.get("spec", {}))
    claim = spec.get("claimRef")
    if claim:
        spec["claimRef"] = {k: claim[k] for k in ("apiVersion", "kind", "namespace", "name") if k in claim}
    return {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": _metadata(pv["metadata"], False), "spec": spec}
