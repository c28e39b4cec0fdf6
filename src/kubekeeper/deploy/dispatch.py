"""The volume dispatcher (`kubekeeper deploy dispatch`): once per cycle, one Job per node with volumes.

It reads the cluster once — every running pod and every PV, paginated — and creates, for each node
that runs a pod mounting a PVC (or holds a bound local PV), one Job from the template `deploy render`
wrote: pinned to that node, named from the cycle and the node (a dispatcher that runs again creates
nothing twice: 409), with the node's hostPath/local PV paths mounted read-only one by one.

Jitter: each node has a fixed slot in the window, from a hash of its name. Jobs are created when
their slot comes, so nodes start spread evenly over the window, each node at the same offset every
cycle (its backups stay a cycle apart), and a restarted dispatcher catches up on passed slots at once.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ruamel.yaml import YAML

from kubekeeper.errors import BadInput, KubekeeperError, OperationFailed
from kubekeeper.volumes import paths
from kubekeeper.volumes.model import PvcRef
from kubekeeper.volumes.resolve import affinity_nodes, claims_of

log = logging.getLogger(__name__)

NODE_LABEL = "kubekeeper.io/node"
CYCLE_LABEL = "kubekeeper.io/cycle"
HOST_ROOT_MOUNT = "/host/root"


@dataclass
class NodeWork:
    """What one node's Job backs up: PVCs its pods mount, node paths to mount, unmounted local PVCs."""

    node: str
    claims: set[PvcRef] = field(default_factory=set)
    node_paths: dict[str, str] = field(default_factory=dict[str, Any])  # PV name -> path on the node
    unmounted_local: set[PvcRef] = field(default_factory=set)


@dataclass
class Plan:
    nodes: dict[str, NodeWork]
    unmounted: list[str]  # bound PVCs no running pod mounts and no node holds: nothing to read anywhere


@dataclass
class DispatchReport:
    cycle: str
    window_seconds: int
    nodes: int = 0
    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    unmounted: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"cycle": self.cycle, "window_seconds": self.window_seconds, "nodes": self.nodes, "created": len(self.created),
                "existing": len(self.existing), "failed": self.failed, "unmounted_pvcs": self.unmounted}


def _claim_of(pv: dict[str, Any]) -> PvcRef | None:
    ref = pv.get("spec", {}).get("claimRef") or {}
    if not ref.get("name") or pv.get("status", {}).get("phase") not in (None, "Bound"):
        return None
    return PvcRef(ref.get("namespace", ""), ref["name"])


def plan(pods: Iterable[dict[str, Any]], pvs: Iterable[dict[str, Any]]) -> Plan:
    """Per node: the PVCs its running pods mount, the node paths of those that are hostPath/local,
    and bound local PVs pinned to it that no pod mounts (their data is still on that node)."""
    by_claim = {ref: pv for pv in pvs if (ref := _claim_of(pv)) is not None}
    nodes: dict[str, NodeWork] = {}
    mounted: set[PvcRef] = set()
    for pod in pods:
        node = pod.get("spec", {}).get("nodeName")
        if not node:
            continue
        for ref in claims_of([pod]):
            work = nodes.setdefault(node, NodeWork(node))
            work.claims.add(ref)
            mounted.add(ref)
            pv = by_claim.get(ref)
            if pv is not None and paths.plugin_of(pv.get("spec", {})) in paths.NODE_PATH_SOURCES:
                work.node_paths[pv["metadata"]["name"]] = _node_path(pv)
    unmounted: list[str] = []
    for ref, pv in sorted(by_claim.items()):
        if ref in mounted:
            continue
        pinned = affinity_nodes(pv) if paths.plugin_of(pv.get("spec", {})) == "local" else []
        if len(pinned) == 1:
            work = nodes.setdefault(pinned[0], NodeWork(pinned[0]))
            work.unmounted_local.add(ref)
            work.node_paths[pv["metadata"]["name"]] = _node_path(pv)
        else:
            unmounted.append(str(ref))
    return Plan(nodes, unmounted)


def _node_path(pv: dict[str, Any]) -> str:
    path = paths.node_path(Path("/"), pv.get("spec", {}))
    return str(path) if path else "/"


def slot(node: str, window_seconds: int) -> int:
    """The node's fixed offset in the window: spread evenly over nodes, the same every cycle."""
    if window_seconds <= 0:
        return 0
    return int.from_bytes(hashlib.sha256(node.encode()).digest()[:8], "big") % window_seconds


def _label_value(text: str) -> str:
    if len(text) <= 63 and re.fullmatch(r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?", text):
        return text
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def job_name(prefix: str, cycle: str, node: str) -> str:
    """`<prefix>-<cycle>-<node, shortened>-<hash>`: unique per cycle and node, at most 63 characters."""
    digest = hashlib.sha256(node.encode()).hexdigest()[:8]
    readable = re.sub(r"[^a-z0-9-]+", "-", node.lower()).strip("-")
    room = 63 - len(prefix) - len(cycle) - len(digest) - 3
    readable = readable[: max(room, 0)].strip("-")
    return "-".join(p for p in (prefix, cycle, readable, digest) if p)


def node_job(template: dict[str, Any], work: NodeWork, cycle: str) -> dict[str, Any]:
    """The template made concrete for one node."""
    job = copy.deepcopy(template)
    meta = job["metadata"]
    meta["name"] = job_name(meta.get("name", "kubekeeper-volume"), cycle, work.node)
    labels = {**meta.get("labels", {}), NODE_LABEL: _label_value(work.node), CYCLE_LABEL: _label_value(cycle)}
    meta["labels"] = labels
    meta.setdefault("annotations", {})[NODE_LABEL] = work.node
    pod_template = job["spec"]["template"]
    pod_template.setdefault("metadata", {})["labels"] = {**pod_template["metadata"].get("labels", {}), NODE_LABEL: labels[NODE_LABEL]}
    pod = pod_template["spec"]
    pod["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [work.node]}]}]}}}
    container = pod["containers"][0]
    for index, (_, path) in enumerate(sorted(work.node_paths.items())):
        volume = f"node-path-{index}"
        pod.setdefault("volumes", []).append({"name": volume, "hostPath": {"path": path, "type": "Directory"}})
        container.setdefault("volumeMounts", []).append(
            {"name": volume, "mountPath": f"{HOST_ROOT_MOUNT}/{path.lstrip('/')}", "readOnly": True, "mountPropagation": "HostToContainer"})
    for ref in sorted(work.unmounted_local):
        container["args"] = [*container["args"], "--pvc", str(ref)]
    return job


def load_template(path: Path) -> dict[str, Any]:
    try:
        docs = [d for d in YAML(typ="safe").load_all(path.read_text()) if d]
    except OSError as exc:
        raise BadInput(f"--template {path}: {exc.strerror}") from exc
    except Exception as exc:  # ruamel's YAMLError
        raise BadInput(f"--template {path}: not YAML: {exc}") from exc
    if len(docs) != 1 or docs[0].get("kind") != "Job" or not docs[0].get("metadata", {}).get("namespace"):
        raise BadInput(f"--template {path}: expected one batch/v1 Job with metadata.namespace (as deploy render writes it)")
    template: dict[str, Any] = docs[0]
    return template


def cycle_id(job_name_text: str | None, now: float) -> tuple[str, float]:
    """(cycle id, cycle start). The CronJob controller names its Jobs `<cronjob>-<scheduled minute>`,
    so a retried dispatcher pod finds the same cycle; without it, the current minute."""
    match = re.search(r"-(\d{6,})$", job_name_text or "")
    minute = int(match[1]) if match else int(now // 60)
    return str(minute), minute * 60.0


class ClusterAccess(Protocol):
    """What the dispatcher asks of the API (volumes.kube.Cluster)."""

    def running_pods(self) -> list[dict[str, Any]]: ...

    def list_pvs(self) -> list[dict[str, Any]]: ...

    def create_job(self, namespace: str, body: dict[str, Any]) -> bool: ...


def dispatch(
    cluster: ClusterAccess,
    template: dict[str, Any],
    *,
    window_seconds: int,
    cycle: str,
    start: float,
    dry_run: bool = False,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    emit: Callable[[dict[str, Any]], None] | None = None,
) -> DispatchReport:
    """Read the cluster once, then create each node's Job at its slot (all at once with `dry_run`)."""
    work = plan(cluster.running_pods(), cluster.list_pvs())
    report = DispatchReport(cycle, window_seconds, nodes=len(work.nodes), unmounted=work.unmounted)
    for pvc in work.unmounted:
        log.warning("PVC %s is bound but no running pod mounts it: no node has its files, not backed up this cycle", pvc)
    namespace = template["metadata"]["namespace"]
    for node in sorted(work.nodes, key=lambda n: (slot(n, window_seconds), n)):
        job = node_job(template, work.nodes[node], cycle)
        if dry_run:
            if emit:
                emit(job)
            report.created.append(job["metadata"]["name"])
            continue
        wait = start + slot(node, window_seconds) - clock()
        if wait > 0:
            sleep(wait)
        try:
            created = cluster.create_job(namespace, job)
        except KubekeeperError as exc:
            log.error("node %s: %s", node, exc.message)
            report.failed.append(f"{node}: {exc.message}")
            continue
        (report.created if created else report.existing).append(job["metadata"]["name"])
    return report


def check(report: DispatchReport) -> None:
    if report.failed:
        raise OperationFailed(f"{len(report.failed)} of {report.nodes} node Job(s) not created: {report.failed[0]}")
