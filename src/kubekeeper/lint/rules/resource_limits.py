"""Every container limits the resources the profile requires (default: memory).

Without a memory limit one leaking container can push a node into memory pressure and get its
neighbours evicted; without an ephemeral-storage limit it can fill the node's disk (the kubelet then
evicts pods to reclaim it); without cpu and memory limits a pod can never be Guaranteed. A cpu or
memory limit set for the whole pod in `spec.resources` (pod-level resources, 1.32+) counts for every
container. CPU limits are not required by the default profile: a CPU limit throttles a container even
when the node has idle CPU, and its request already guarantees its share; `strict` requires all
three. Switch one for a run with `--ignore memory-limit` or `--require cpu-limit`.
"""

from __future__ import annotations

from collections.abc import Iterator

from kubekeeper.lint.model import Violation
from kubekeeper.lint.rules import Context
from kubekeeper.lint.workload import Workload

ID = "resource-limits"
HINT = "set resources.limits (memory limit = request avoids OOM surprises) on the container or, for cpu/memory, in the pod's spec.resources"


def check(workload: Workload, context: Context) -> Iterator[Violation]:
    required = context.profile.required("limit")
    pod = workload.resources
    pod_level = pod.pod_limits if pod.pod_level else {}
    for c in pod.containers:
        missing = [name for name in required if name not in c.limits and name not in pod_level]
        if missing:
            where = " (nor at pod level)" if pod.pod_level else ""
            yield Violation(f"{c.label} {c.name!r} has no limits for {', '.join(missing)}{where}", c.name, c.container)
