"""A workload scaled by a HorizontalPodAutoscaler does not set `spec.replicas`.

When an HPA scales a Deployment or StatefulSet it owns the replica count. A manifest that also sets
`spec.replicas` resets the count on every `kubectl apply` (or GitOps sync) - scaling a loaded service
down to the manifest's number until the HPA reacts again. Leave `spec.replicas` out and set
`minReplicas` on the HPA. (The other rules judge such a workload by the HPA's minReplicas.) For live
objects the API always fills in `spec.replicas`, so there the `kubectl.kubernetes.io/last-applied-
configuration` annotation is checked instead, when present.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from kubekeeper.lint.model import Violation
from kubekeeper.lint.rules import Context
from kubekeeper.lint.workload import Workload

ID = "hpa-replicas"
HINT = "remove spec.replicas from the manifest and let the HPA's minReplicas/maxReplicas decide"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def _declared_replicas(workload: Workload) -> object | None:
    manifest = workload.manifest
    found = manifest.obj.get("spec")
    spec: dict[str, Any] = found if isinstance(found, dict) else {}
    if not manifest.live:
        return spec.get("replicas") if "replicas" in spec else None
    annotations = manifest.metadata.get("annotations")
    applied = annotations.get(LAST_APPLIED) if isinstance(annotations, dict) else None
    if not isinstance(applied, str):
        return None  # server-side apply or helm: what the author wrote is not known
    try:
        applied_spec = json.loads(applied).get("spec") or {}
    except (ValueError, AttributeError):
        return None
    return applied_spec.get("replicas") if isinstance(applied_spec, dict) else None


def check(workload: Workload, context: Context) -> Iterator[Violation]:
    if workload.hpa is None:
        return
    replicas = _declared_replicas(workload)
    if replicas is not None:
        spec = workload.manifest.obj.get("spec")
        yield Violation(f"spec.replicas: {replicas} is set while HPA {workload.hpa.name} scales this {workload.kind}: "
                        f"every apply resets it to {replicas}", node=spec if isinstance(spec, dict) else None)
