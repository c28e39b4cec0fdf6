"""Every container and init container limits cpu, memory and ephemeral-storage.

Without a memory limit one leaking container can push a node into memory pressure and get its
neighbours evicted; without an ephemeral-storage limit it can fill the node's disk (and the kubelet
then evicts pods to reclaim it); without limits the pod can never be Guaranteed.
"""

from __future__ import annotations

from typing import Iterator

from kubekeeper.lint.model import Violation
from kubekeeper.lint.rules import Context
from kubekeeper.lint.rules._containers import RESOURCES, containers_with_kind
from kubekeeper.lint.workload import Workload

ID = "resource-limits"
HINT = "set resources.limits for cpu, memory and ephemeral-storage (memory limit = request avoids OOM surprises)"


def check(workload: Workload, context: Context) -> Iterator[Violation]:
    for label, container in containers_with_kind(workload.pod_spec):
        resources = container.get("resources")
        limits = resources.get("limits") if isinstance(resources, dict) else None
        limits = limits if isinstance(limits, dict) else {}
        missing = [r for r in RESOURCES if r not in limits]
        if missing:
            name = str(container.get("name", "?"))
            yield Violation(f"{label} {name!r} has no limits for {', '.join(missing)}", name, container)
