"""Workloads with more than one replica are covered by a PodDisruptionBudget.

Without a PDB, draining nodes (cluster upgrades, autoscaler scale-down, maintenance) may evict every
replica at the same time and take the service down although it runs several copies. The PDB must be
in the same input and namespace, with a selector matching the pod labels. Critical workloads are
checked by `critical-pdb` instead (at a higher severity); replicas are the HPA's minReplicas when an
HPA scales the workload; DaemonSets and Jobs are not checked.
"""

from __future__ import annotations

from collections.abc import Iterator

from kubekeeper.lint.model import Violation
from kubekeeper.lint.rules import Context
from kubekeeper.lint.workload import REPLICATED_KINDS, Workload

ID = "pdb-missing"
HINT = "add a policy/v1 PodDisruptionBudget with maxUnavailable: 1 whose selector matches the pod labels"


def check(workload: Workload, context: Context) -> Iterator[Violation]:
    if workload.critical or workload.kind not in REPLICATED_KINDS or (workload.replicas or 0) <= 1:
        return
    if not context.pdbs_selecting(workload):
        yield Violation(f"{workload.replicas} replicas ({workload.replicas_source}) and no PodDisruptionBudget "
                        "selects its pods: node drains may evict all of them at once")
