"""Every container requests the resources the profile requires (default: cpu and memory).

The scheduler places pods by their requests: a container without them lands on nodes that are already
full, and under node pressure the kubelet evicts pods using more than they requested first. Init
containers and sidecars count too (the scheduler reserves the largest init step). A request missing
while its limit is set counts as set (the API server defaults requests to limits), and so does a cpu
or memory request set for the whole pod in `spec.resources` (pod-level resources, 1.32+; also
defaulted from pod-level limits). Which of cpu, memory and ephemeral-storage are required is the
profile's `resources` (`cpu-request`, `memory-request`, `ephemeral-storage-request`); switch one off
for a run with `--ignore cpu-request`, or on with `--require ephemeral-storage-request`.
"""

from __future__ import annotations

from collections.abc import Iterator

from kubekeeper.lint.model import Violation
from kubekeeper.lint.rules import Context
from kubekeeper.lint.workload import Workload

ID = "resource-requests"
HINT = "set resources.requests (measure real usage, e.g. kubectl top) on the container or, for cpu/memory, in the pod's spec.resources"


def check(workload: Workload, context: Context) -> Iterator[Violation]:
    required = context.profile.required("request")
    pod = workload.resources
    pod_level = pod.pod_requests if pod.pod_level else {}
    for c in pod.containers:
        missing = [name for name in required if name not in c.requests and name not in pod_level]
        if missing:
            where = " (nor at pod level)" if pod.pod_level else ""
            yield Violation(f"{c.label} {c.name!r} has no requests for {', '.join(missing)}{where}", c.name, c.container)
