"""Pods are managed by a controller, not created bare.

A bare Pod (no ownerReference with `controller: true`) is not recreated when its node fails, is
drained or is upgraded, and is not rescheduled elsewhere. Run it from a Deployment, StatefulSet,
DaemonSet or Job instead.
"""

from __future__ import annotations

from collections.abc import Iterator

from kubekeeper.lint.model import Violation
from kubekeeper.lint.rules import Context
from kubekeeper.lint.workload import Workload, controller_owner

ID = "bare-pod"
HINT = "wrap the pod spec in a Deployment (long-running), StatefulSet (stable identity) or Job (run to completion)"


def check(workload: Workload, context: Context) -> Iterator[Violation]:
    if workload.kind == "Pod" and controller_owner(workload.manifest) is None:
        yield Violation("bare Pod: nothing recreates it when its node fails or is drained")
