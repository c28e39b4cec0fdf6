"""Critical workloads with more than one replica are covered by a PodDisruptionBudget.

Node drains (upgrades, autoscaler scale-down) evict pods through the eviction API, which only holds
back when a PodDisruptionBudget says how many replicas must stay up. The PDB must be in the same
input (same files, or the same cluster), in the same namespace, with a selector matching the pod
template's labels. Replicas are the HPA's minReplicas when an HPA scales the workload. DaemonSets
and Jobs are not checked.
"""

from __future__ import annotations

from collections.abc import Iterator

from kubekeeper.lint.model import Violation
from kubekeeper.lint.rules import Context
from kubekeeper.lint.workload import REPLICATED_KINDS, Workload

ID = "critical-pdb"
HINT = "add a policy/v1 PodDisruptionBudget (e.g. maxUnavailable: 1) whose selector matches the pod labels"


def check(workload: Workload, context: Context) -> Iterator[Violation]:
    if not workload.critical or workload.kind not in REPLICATED_KINDS or (workload.replicas or 0) <= 1:
        return
    if not context.pdbs_selecting(workload):
        yield Violation(f"critical workload ({workload.critical_reason}) has {workload.replicas} replicas "
                        f"({workload.replicas_source}) and no PodDisruptionBudget selects its pods")
