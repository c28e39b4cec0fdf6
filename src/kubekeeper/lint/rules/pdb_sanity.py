"""PodDisruptionBudgets leave room for voluntary evictions, and one pod has at most one of them.

A PDB with `maxUnavailable: 0` (or `0%`), or a `minAvailable` that reaches the workload's replicas
(`minAvailable: 3` for 3 replicas, or `100%`; percentages round up, as the disruption controller
computes them: pkg/controller/disruption/disruption.go, `GetScaledValueFromIntOrPercent(..., true)` -
so `minAvailable: 67%` of 3 replicas is 3), allows no eviction at all: `kubectl drain` and cluster upgrades hang on that node until
someone deletes the PDB. When two PDBs select the same pod, the eviction API refuses to evict it
("This pod has more than one PodDisruptionBudget"). Replicas are the HPA's minReplicas when an HPA
scales the workload; only PDBs in the same input and namespace whose selector matches the workload's
pods are looked at (policy/v1: an empty selector matches every pod of the namespace).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from kubekeeper.lint.model import Violation
from kubekeeper.lint.rules import Context
from kubekeeper.lint.workload import Workload

ID = "pdb-sanity"
HINT = "use maxUnavailable: 1 (or a minAvailable below the replica count), one PodDisruptionBudget per workload"


def scaled(value: Any, total: int | None) -> int | None:
    """An IntOrString of a PDB as a pod count (percentages rounded up), or None when unknown."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.endswith("%"):
        try:
            percent = int(value[:-1])
        except ValueError:
            return None
        if percent == 0:
            return 0
        return math.ceil(percent * total / 100) if total is not None else None
    return None


def check(workload: Workload, context: Context) -> Iterator[Violation]:
    pdbs = context.pdbs_selecting(workload)
    if len(pdbs) > 1:
        names = ", ".join(sorted(p.name for p in pdbs))
        yield Violation(f"{len(pdbs)} PodDisruptionBudgets select its pods ({names}): the eviction API refuses "
                        "to evict them, so node drains hang")
    target = f"{workload.kind} {workload.name}"
    for pdb in pdbs:
        found = pdb.obj.get("spec")
        spec: dict[str, Any] = found if isinstance(found, dict) else {}
        max_unavailable, min_available = spec.get("maxUnavailable"), spec.get("minAvailable")
        if max_unavailable is not None and scaled(max_unavailable, workload.replicas) == 0:
            yield Violation(f"maxUnavailable: {max_unavailable} allows no voluntary eviction of the pods of {target}: "
                            "node drains hang until the PDB is deleted", node=spec, subject=pdb)
        replicas = workload.replicas
        if min_available is not None and replicas is not None:
            needed = scaled(min_available, replicas)
            if needed is not None and needed >= replicas:
                yield Violation(f"minAvailable: {min_available} with {replicas} replicas of {target} "
                                f"({workload.replicas_source}) allows no voluntary eviction: node drains hang",
                                node=spec, subject=pdb)
