"""Where the kubelet keeps a mounted volume's files: pure path arithmetic, no I/O except `exists`.

Layout (kubelet `pkg/volume/util`): `<root>/pods/<pod-uid>/volumes/<plugin-dir>/<volume-name>` where
the plugin dir is the plugin name with `/` escaped as `~` (kubernetes.io/csi -> kubernetes.io~csi).
CSI volumes keep their files one level deeper, in `mount`. For a PVC the volume name is the PV name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

#: in-tree PV source fields -> kubelet plugin directory (the ones still served, or migrated to CSI)
IN_TREE_PLUGINS: dict[str, str] = {
    "nfs": "kubernetes.io~nfs",
    "iscsi": "kubernetes.io~iscsi",
    "fc": "kubernetes.io~fc",
    "cephfs": "kubernetes.io~cephfs",
    "rbd": "kubernetes.io~rbd",
    "glusterfs": "kubernetes.io~glusterfs",
    "azureFile": "kubernetes.io~azure-file",
    "azureDisk": "kubernetes.io~azure-disk",
    "gcePersistentDisk": "kubernetes.io~gce-pd",
    "awsElasticBlockStore": "kubernetes.io~aws-ebs",
    "vsphereVolume": "kubernetes.io~vsphere-volume",
    "cinder": "kubernetes.io~cinder",
    "portworxVolume": "kubernetes.io~portworx-volume",
}
#: sources whose data is a node path named in the PV itself
NODE_PATH_SOURCES = ("hostPath", "local")
CSI_DIR = "kubernetes.io~csi"


def plugin_of(pv_spec: dict[str, Any]) -> str:
    """The PV's volume source field (csi, nfs, hostPath, local, flexVolume, ...), or ''."""
    for key in ("csi", *NODE_PATH_SOURCES, "flexVolume", *IN_TREE_PLUGINS):
        if pv_spec.get(key) is not None:
            return key
    return ""


def escape_plugin(name: str) -> str:
    return name.replace("/", "~")


def pod_volume_candidates(kubelet_root: Path, pod_uid: str, pv_name: str, pv_spec: dict[str, Any]) -> list[Path]:
    """Directories that may hold the files, most likely first (in-tree, then CSI-migrated)."""
    base = kubelet_root / "pods" / pod_uid / "volumes"
    plugin = plugin_of(pv_spec)
    if plugin == "csi":
        return [base / CSI_DIR / pv_name / "mount"]
    if plugin == "flexVolume":
        driver = escape_plugin(str(pv_spec["flexVolume"].get("driver", "")))
        return [base / driver / pv_name]
    if plugin in IN_TREE_PLUGINS:
        # CSI migration (on by default for the cloud plugins) moves the mount under kubernetes.io~csi
        return [base / IN_TREE_PLUGINS[plugin] / pv_name, base / CSI_DIR / pv_name / "mount"]
    return []


def node_path(host_root: Path, pv_spec: dict[str, Any]) -> Path | None:
    """hostPath and local PVs: the path the PV names, seen under `host_root` (/ on the node itself)."""
    for key in NODE_PATH_SOURCES:
        source = pv_spec.get(key)
        if source and source.get("path"):
            return host_root / str(source["path"]).lstrip("/")
    return None
