"""Critical workloads with more than one replica spread their own pods across nodes (or zones).

Replicas of a critical workload that the scheduler packs onto one node all die with that node. A
critical workload (priorityClassName system-cluster-critical or system-node-critical, namespace
kube-system, or labels matching `--critical-selector`) with more than one replica needs a
podAntiAffinity term (required or preferred) or a topologySpreadConstraint that really spreads it:

- its `labelSelector` must match the workload's own pod template labels (a selector for `app=zk` on
  pods labelled `app.kubernetes.io/name: zk` spreads nothing), its `namespaces` must include the
  workload's, and `mismatchLabelKeys` must not exclude its own pods;
- its `topologyKey` must be `kubernetes.io/hostname` (profile `spread: node`, the default) or
  `topology.kubernetes.io/zone` (`spread: zone`, or `--spread zone`); a zone-level rule alone lets
  two replicas share a node, a node-level one lets a zone outage take them all.

DaemonSets run one pod per node already and are not checked.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kubekeeper.lint.model import Violation
from kubekeeper.lint.rules import Context
from kubekeeper.lint.workload import REPLICATED_KINDS, Workload, label_value, selector_matches

ID = "critical-spread"
HINT = ("add spec.affinity.podAntiAffinity (preferred or required) or a topologySpreadConstraint with "
        "topologyKey kubernetes.io/hostname whose labelSelector matches the pod's own labels")
HOSTNAME = "kubernetes.io/hostname"
ZONE_KEYS = ("topology.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/zone")
TOPOLOGY_KEYS = {"node": (HOSTNAME,), "zone": ZONE_KEYS}


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _anti_affinity_terms(pod_spec: dict[str, Any]) -> Iterator[dict[str, Any]]:
    anti = _mapping(_mapping(pod_spec.get("affinity")).get("podAntiAffinity"))
    for term in anti.get("requiredDuringSchedulingIgnoredDuringExecution") or []:
        if isinstance(term, dict):
            yield term
    for weighted in anti.get("preferredDuringSchedulingIgnoredDuringExecution") or []:
        if isinstance(weighted, dict) and isinstance(weighted.get("podAffinityTerm"), dict):
            yield weighted["podAffinityTerm"]


def _spread_constraints(pod_spec: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for constraint in pod_spec.get("topologySpreadConstraints") or []:
        if isinstance(constraint, dict):
            yield constraint


def selects_own_pods(term: dict[str, Any], workload: Workload) -> bool:
    """Does this anti-affinity term or spread constraint count the workload's own pods?"""
    labels = workload.pod_labels
    # an empty selector ({}) selects every pod; a missing one selects none
    if not selector_matches(term.get("labelSelector"), labels, empty_matches_all=True):
        return False
    namespaces = term.get("namespaces")
    if (isinstance(namespaces, list) and namespaces and workload.namespace
            and workload.namespace not in namespaces and term.get("namespaceSelector") is None):
        return False
    for key in term.get("mismatchLabelKeys") or []:
        if key in labels:  # selects pods whose value differs from this pod's: never its siblings
            return False
    return True


def spreading(workload: Workload, keys: tuple[str, ...]) -> tuple[bool, list[str]]:
    """(spreads over one of `keys`, what the other terms do) for the workload's pod spec."""
    notes = []
    terms = [("podAntiAffinity", t) for t in _anti_affinity_terms(workload.pod_spec)]
    terms += [("topologySpreadConstraint", t) for t in _spread_constraints(workload.pod_spec)]
    for how, term in terms:
        own = selects_own_pods(term, workload)
        key = term.get("topologyKey")
        if own and key in keys:
            return True, []
        if own:
            notes.append(f"{how} on {key} does not spread across {'zones' if keys == ZONE_KEYS else 'nodes'}")
        else:
            notes.append(f"{how} on {key} selects none of its own pods (labels {_labels(workload.pod_labels)})")
    return False, notes


def _labels(labels: dict[str, Any]) -> str:
    return ", ".join(f"{k}={label_value(v)}" for k, v in sorted(labels.items())) or "none"


def check(workload: Workload, context: Context) -> Iterator[Violation]:
    if not workload.critical or workload.kind not in REPLICATED_KINDS or (workload.replicas or 0) <= 1:
        return
    keys = TOPOLOGY_KEYS[context.profile.spread]
    spreads, notes = spreading(workload, keys)
    if spreads:
        return
    target = "zones" if context.profile.spread == "zone" else "nodes"
    why = "; ".join(notes) if notes else "no podAntiAffinity nor topologySpreadConstraints"
    yield Violation(
        f"critical workload ({workload.critical_reason}) has {workload.replicas} replicas ({workload.replicas_source}) "
        f"but nothing spreads them across {target}: {why}",
        node=workload.pod_spec,
    )
