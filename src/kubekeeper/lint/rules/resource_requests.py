"""Every container and init container requests cpu, memory and ephemeral-storage.

The scheduler places pods by their requests: a container without them lands on nodes that are
already full, and under node pressure the kubelet evicts pods using more than they requested first.
A request missing while its limit is set counts as set, as the API server defaults requests to limits.
"""

from __future__ import annotations

from typing import Iterator

from kubekeeper.lint.model import Violation
from kubekeeper.lint.qos import effective_resources
from kubekeeper.lint.rules import Context
from kubekeeper.lint.rules._containers import RESOURCES, containers_with_kind
from kubekeeper.lint.workload import Workload

ID = "resource-requests"
HINT = "set resources.requests for cpu, memory and ephemeral-storage (measure real usage, e.g. kubectl top)"


def check(workload: Workload, context: Context) -> Iterator[Violation]:
    for label, container in containers_with_kind(workload.pod_spec):
        requests, _ = effective_resources(container)
        missing = [r for r in RESOURCES if r not in requests]
        if missing:
            name = str(container.get("name", "?"))
            yield Violation(f"{label} {name!r} has no requests for {', '.join(missing)}", name, container)
