"""A controller's selector matches its own pod template labels.

A Deployment, StatefulSet, DaemonSet or ReplicaSet whose `spec.selector` does not match the labels of
its own pod template is rejected by the API server ("selector does not match template labels"); an
apps/v1 object without a selector, or with an empty one, is rejected too. A ReplicationController's
`spec.selector` (when set) and a Job's with `manualSelector: true` must match as well. Caught here,
the mistake fails CI instead of the rollout.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kubekeeper.lint.model import Violation
from kubekeeper.lint.rules import Context
from kubekeeper.lint.workload import Workload, label_value, selector_matches

ID = "selector-mismatch"
HINT = "make spec.selector select the labels of spec.template.metadata.labels (keep the selector; it is immutable)"
APPS_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"})


def _labels(labels: dict[str, Any]) -> str:
    return "{" + ", ".join(f"{k}: {label_value(v)}" for k, v in sorted(labels.items())) + "}"


def check(workload: Workload, context: Context) -> Iterator[Violation]:
    manifest = workload.manifest
    spec = manifest.obj.get("spec")
    if not isinstance(spec, dict):
        return
    selector = spec.get("selector")
    labels = workload.pod_labels
    if workload.kind in APPS_KINDS:
        if selector is None:
            if str(manifest.obj.get("apiVersion", "")).startswith("apps/v1"):
                yield Violation("apps/v1 requires spec.selector (the API rejects the object)", node=spec)
            return  # older API versions default it from the template labels
        if not isinstance(selector, dict) or not (selector.get("matchLabels") or selector.get("matchExpressions")):
            yield Violation("empty spec.selector: the API rejects it", node=spec)
        elif not selector_matches(selector, labels):
            yield Violation(f"spec.selector does not match the pod template labels {_labels(labels)}: "
                            "the API rejects the object", node=spec)
    elif workload.kind == "ReplicationController" and isinstance(selector, dict) and selector:
        if any(k not in labels or label_value(labels[k]) != label_value(v) for k, v in selector.items()):
            yield Violation(f"spec.selector {_labels(selector)} does not match the pod template labels {_labels(labels)}: "
                            "the API rejects the object", node=spec)
    elif workload.kind == "Job" and spec.get("manualSelector") is True and not selector_matches(selector, labels):
        yield Violation(f"manualSelector: spec.selector does not match the pod template labels {_labels(labels)}",
                        node=spec)
