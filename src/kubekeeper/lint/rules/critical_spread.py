"""Critical workloads with more than one replica spread their pods across nodes.

Replicas of a critical workload that the scheduler packs onto one node all die with that node. A
critical workload (priorityClassName system-cluster-critical or system-node-critical, namespace
kube-system, or labels matching `--critical-selector`) with more than one replica needs required or
preferred podAntiAffinity with topologyKey `kubernetes.io/hostname`, or topologySpreadConstraints.
DaemonSets run one pod per node already and are not checked.
"""

from __future__ import annotations

from typing import Any, Iterator

from kubekeeper.lint.model import Violation
from kubekeeper.lint.rules import Context
from kubekeeper.lint.workload import REPLICATED_KINDS, Workload

ID = "critical-spread"
HINT = ("add spec.affinity.podAntiAffinity (preferred or required) with topologyKey kubernetes.io/hostname "
        "selecting the pod's own labels, or topologySpreadConstraints")
HOSTNAME = "kubernetes.io/hostname"


def _terms(anti_affinity: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for term in anti_affinity.get("requiredDuringSchedulingIgnoredDuringExecution") or []:
        if isinstance(term, dict):
            yield term
    for weighted in anti_affinity.get("preferredDuringSchedulingIgnoredDuringExecution") or []:
        if isinstance(weighted, dict) and isinstance(weighted.get("podAffinityTerm"), dict):
            yield weighted["podAffinityTerm"]


def spreads_across_nodes(pod_spec: dict[str, Any]) -> bool:
    if pod_spec.get("topologySpreadConstraints"):
        return True
    affinity = pod_spec.get("affinity")
    anti = affinity.get("podAntiAffinity") if isinstance(affinity, dict) else None
    if not isinstance(anti, dict):
        return False
    return any(term.get("topologyKey") == HOSTNAME for term in _terms(anti))


def check(workload: Workload, context: Context) -> Iterator[Violation]:
    if not workload.critical or workload.kind not in REPLICATED_KINDS:
        return
    if (workload.replicas or 0) > 1 and not spreads_across_nodes(workload.pod_spec):
        yield Violation(
            f"critical workload ({workload.critical_reason}) has {workload.replicas} replicas but no "
            f"podAntiAffinity on {HOSTNAME} nor topologySpreadConstraints",
            node=workload.pod_spec,
        )
