"""Critical workloads run with a priorityClassName.

A pod without a priority class has priority 0 (or the cluster's globalDefault): when it cannot be
scheduled the scheduler will not preempt less important pods to make room for it, and under node
pressure the kubelet evicts it as readily as any batch job of the same QoS. Workloads critical by
namespace (kube-system) or by `--critical-selector` should say so with a PriorityClass
(`system-cluster-critical`, `system-node-critical` in kube-system, or one of your own).
"""

from __future__ import annotations

from collections.abc import Iterator

from kubekeeper.lint.model import Violation
from kubekeeper.lint.rules import Context
from kubekeeper.lint.workload import Workload

ID = "critical-priority-class"
HINT = "set spec.priorityClassName (system-cluster-critical for cluster add-ons, or a PriorityClass of your own)"


def check(workload: Workload, context: Context) -> Iterator[Violation]:
    if workload.critical and not workload.pod_spec.get("priorityClassName"):
        yield Violation(f"critical workload ({workload.critical_reason}) has no priorityClassName: it cannot preempt "
                        "other pods and is evicted like any other", node=workload.pod_spec)
