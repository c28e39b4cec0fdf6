"""Critical workloads run in the Guaranteed QoS class.

A critical workload (priorityClassName system-cluster-critical or system-node-critical, namespace
kube-system, or labels matching `--critical-selector`) that is only Burstable can be evicted before
Guaranteed pods when a node runs short of memory. Guaranteed needs cpu and memory limits on every
container, init containers included, with requests equal to limits - or the same at pod level
(`spec.resources`, 1.32+), where a missing pod request is defaulted from the containers' requests.
"""

from __future__ import annotations

from collections.abc import Iterator

from kubekeeper.lint.model import Violation
from kubekeeper.lint.qos import BEST_EFFORT, GUARANTEED
from kubekeeper.lint.rules import Context
from kubekeeper.lint.workload import Workload

ID = "critical-qos"
HINT = "set cpu and memory limits equal to requests on every container to make the pod Guaranteed"


def check(workload: Workload, context: Context) -> Iterator[Violation]:
    if workload.critical and workload.qos not in (GUARANTEED, BEST_EFFORT):  # BestEffort has its own rule
        yield Violation(f"critical workload ({workload.critical_reason}) is {workload.qos}, not Guaranteed")
