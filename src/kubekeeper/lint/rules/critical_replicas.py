"""Critical workloads run more than one replica.

A critical Deployment, StatefulSet, ReplicaSet or ReplicationController with a single replica is
down during every node drain, rollout or node failure; with an HPA, its minReplicas is what counts.
(Off in the default profile: some critical singletons are deliberate; on in `strict`.)
"""

from __future__ import annotations

from collections.abc import Iterator

from kubekeeper.lint.model import Violation
from kubekeeper.lint.rules import Context
from kubekeeper.lint.workload import REPLICATED_KINDS, Workload

ID = "critical-replicas"
HINT = "run at least 2 replicas (and spread them across nodes)"


def check(workload: Workload, context: Context) -> Iterator[Violation]:
    if workload.critical and workload.kind in REPLICATED_KINDS and (workload.replicas or 0) < 2:
        yield Violation(f"critical workload ({workload.critical_reason}) runs {workload.replicas} replica(s) ({workload.replicas_source})")
