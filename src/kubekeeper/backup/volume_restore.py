"""`restore volume`: a PVC's snapshot back into its current volume directory (or --target), with the
end state of `rsync -a --delete` and nothing deleted before the restored copy is complete (volumes.swap).
`--recreate` first creates the PVC (and a static PV) from the stored objects and waits for it to be
bound and mounted on this node."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from kubekeeper.backup.volume import find_metadata, pvc_selection, root_from_tags
from kubekeeper.errors import BadInput, OperationFailed
from kubekeeper.repository import Repository, features
from kubekeeper.volumes import objects, swap
from kubekeeper.volumes.kube import Cluster
from kubekeeper.volumes.locate import locate_one
from kubekeeper.volumes.model import Problem, PvcRef, VolumeSource

log = logging.getLogger(__name__)


@dataclass
class RestoreResult:
    pvc: str
    snapshot: str
    target: str
    recreated: list[str]
    duration_seconds: float

    def to_dict(self) -> dict:
        return asdict(self)


def recreate_objects(cluster: Cluster, meta: dict | None, ref: PvcRef) -> list[str]:
    """Create the PVC (and its PV if statically provisioned) from the stored objects; names created."""
    stored = (meta or {}).get("objects") or {}
    pvc, pv = stored.get("persistentVolumeClaim"), stored.get("persistentVolume")
    if not pvc:
        raise BadInput(f"the snapshot of {ref} holds no PVC object to recreate (taken with --source-dir?)")
    created: list[str] = []
    if cluster.get_pvc(ref) is not None:
        raise BadInput(f"PVC {ref} already exists: drop --recreate to restore into it")
    if objects.is_static(pv):
        if cluster.get_pv(pv["metadata"]["name"]) is None:
            cluster.create_pv(objects.pv_body(pv))
            created.append(f"pv/{pv['metadata']['name']}")
        else:
            log.warning("PV %s exists; the new claim binds to it if it is Available", pv["metadata"]["name"])
    cluster.create_pvc(objects.pvc_body(pvc, pv))
    created.append(f"pvc/{ref}")
    return created


def wait_for_volume(locate: Callable[[], VolumeSource | Problem], timeout: float, interval: float = 2.0) -> VolumeSource:
    """Poll until the PVC is bound and mounted here; the last problem says what is missing."""
    deadline = time.monotonic() + timeout
    while True:
        found = locate()
        if isinstance(found, VolumeSource):
            return found
        if time.monotonic() >= deadline:
            raise OperationFailed(f"gave up after {timeout:g}s waiting for the volume: {found.message}; nothing was restored")
        time.sleep(interval)


def restore_volume(
    repo: Repository,
    ref: PvcRef,
    *,
    cluster_name: str,
    snapshot: str = "latest",
    target: Path | None = None,
    cluster: Cluster | None = None,
    recreate: bool = False,
    node: str = "",
    kubelet_root: Path = Path("/var/lib/kubelet"),
    host_root: Path = Path("/"),
    wait_timeout: float = 600.0,
) -> RestoreResult:
    started = time.monotonic()
    data = repo.resolve(snapshot, pvc_selection(cluster_name, ref))
    meta = find_metadata(repo, cluster_name, ref, data) if recreate else None
    recreated: list[str] = []
    if target is None or recreate:
        if cluster is None:
            raise BadInput("restoring into a PVC needs the Kubernetes API (or pass --target DIR)")
        if recreate:
            recreated = recreate_objects(cluster, meta, ref)

        def find() -> VolumeSource | Problem:
            return locate_one(cluster, ref, node=node, kubelet_root=kubelet_root, host_root=host_root, refresh=True)

        if target is None:
            found = wait_for_volume(find, wait_timeout) if recreate else find()
            if isinstance(found, Problem):
                raise OperationFailed(f"{found.message}; nothing was restored")
            target = found.path
    root = root_from_tags(data.tags)
    resumable = repo.has(features.RESTORE_DELETE)
    swap.restore_into(target, lambda staging: repo.restore(data.id, staging, delete=resumable), root, resumable=resumable)
    return RestoreResult(str(ref), data.short_id, str(target), recreated, round(time.monotonic() - started, 3))
