"""The pod is not BestEffort (it requests or limits cpu or memory).

Kubernetes computes a QoS class for every pod (Guaranteed, Burstable, BestEffort) from the cpu and
memory requests and limits of all its containers, init containers included. Under node pressure the
kubelet evicts BestEffort pods first, and the OOM killer picks them first: nothing a cluster operator
cares about should run BestEffort.
"""

from __future__ import annotations

from collections.abc import Iterator

from kubekeeper.lint.model import Violation
from kubekeeper.lint.qos import BEST_EFFORT, EVICTION_TEXT
from kubekeeper.lint.rules import Context
from kubekeeper.lint.workload import Workload

ID = "qos-best-effort"
HINT = "give every container cpu and memory requests (Burstable) or requests equal to limits (Guaranteed)"


def check(workload: Workload, context: Context) -> Iterator[Violation]:
    if workload.qos == BEST_EFFORT:
        yield Violation(f"pod QoS class is BestEffort ({EVICTION_TEXT[BEST_EFFORT]})")
