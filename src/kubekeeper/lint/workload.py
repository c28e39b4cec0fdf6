"""Turn objects into workloads: the pod template of every controller kind, replicas and criticality.

Replicas are what the cluster will run: `spec.replicas` (default 1), `parallelism` for Jobs, or, when
a HorizontalPodAutoscaler in the same input targets the workload, the HPA's `minReplicas` (default 1) -
the HPA owns the replica count then, whatever the manifest says.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from kubekeeper.errors import BadInput
from kubekeeper.lint.model import TEMPLATE_PATHS, Manifest
from kubekeeper.lint.qos import PodResources, pod_resources, qos_class

#: long-running controllers whose replicas can be spread and protected by a PodDisruptionBudget
REPLICATED_KINDS = frozenset({"Deployment", "StatefulSet", "ReplicaSet", "ReplicationController"})
CRITICAL_PRIORITY_CLASSES = frozenset({"system-cluster-critical", "system-node-critical"})
CRITICAL_NAMESPACES = frozenset({"kube-system"})


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


@dataclass(slots=True)
class LabelSelector:
    """A kubectl-style label selector: `a=b,c!=d,e,!f,g in (x,y),h notin (z)`."""

    text: str = ""
    terms: list[tuple[str, str, tuple[str, ...]]] = field(default_factory=list)

    _TERM = re.compile(r"\s*(!?)([A-Za-z0-9_./-]+)\s*(?:(==|=|!=)\s*([A-Za-z0-9_.-]*)|\s+(in|notin)\s*\(([^)]*)\))?\s*$")

    @classmethod
    def parse(cls, text: str) -> LabelSelector:
        terms: list[tuple[str, str, tuple[str, ...]]] = []
        for part in re.split(r",(?![^(]*\))", text.strip()) if text.strip() else []:
            match = cls._TERM.match(part)
            if not match:
                raise BadInput(f"invalid label selector {text!r} near {part.strip()!r}")
            negate, key, op, value, set_op, values = match.groups()
            if op:
                terms.append((key, "!=" if op == "!=" else "=", (value,)))
            elif set_op:
                terms.append((key, set_op, tuple(v.strip() for v in values.split(",") if v.strip())))
            else:
                terms.append((key, "!exists" if negate else "exists", ()))
        return cls(text, terms)

    def matches(self, labels: dict[str, Any]) -> bool:
        if not self.terms:
            return False
        for key, op, values in self.terms:
            present = key in labels
            value = label_value(labels.get(key)) if present else None
            if op == "=" and value != values[0]:
                return False
            if op == "!=" and value == values[0]:
                return False
            if op == "in" and value not in values:
                return False
            if op == "notin" and value in values:
                return False
            if op == "exists" and not present:
                return False
            if op == "!exists" and present:
                return False
        return True


def label_value(value: Any) -> str:
    """A label value as the API sees it (YAML may have parsed `true` or `1.0` into a bool or float)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def selector_matches(selector: Any, labels: dict[str, Any], empty_matches_all: bool = False) -> bool:
    """A metav1.LabelSelector (matchLabels + matchExpressions) against labels.

    An empty selector matches nothing, except where the API says it matches everything
    (`empty_matches_all`: a policy/v1 PodDisruptionBudget). A missing selector always matches nothing.
    """
    if not isinstance(selector, dict):
        return False
    match_labels = _mapping(selector.get("matchLabels"))
    expressions = selector.get("matchExpressions") or []
    if not match_labels and not expressions:
        return empty_matches_all
    for name, wanted in match_labels.items():
        if name not in labels or label_value(labels[name]) != label_value(wanted):
            return False
    for expression in expressions if isinstance(expressions, list) else []:
        expression = _mapping(expression)
        key: Any = expression.get("key")  # whatever the YAML holds: compared as is, like the labels
        op = expression.get("operator")
        values = {label_value(v) for v in expression.get("values") or []}
        present = key in labels
        if op == "In":
            matched = present and label_value(labels[key]) in values
        elif op == "NotIn":
            matched = not present or label_value(labels[key]) not in values
        elif op == "Exists":
            matched = present
        elif op == "DoesNotExist":
            matched = not present
        else:
            matched = False  # the API rejects unknown operators
        if not matched:
            return False
    return True


def namespaces_match(a: str | None, b: str | None) -> bool:
    """Objects without a namespace go wherever `kubectl apply -n` puts them: they match any namespace."""
    return a is None or b is None or a == b


@dataclass(slots=True)
class Workload:
    """A workload object reduced to what the rules look at."""

    manifest: Manifest
    pod_spec: dict[str, Any]
    pod_labels: dict[str, Any]
    replicas: int | None  # None: one pod per node (DaemonSet)
    replicas_source: str  # where `replicas` comes from, for messages
    hpa: Manifest | None  # the HorizontalPodAutoscaler scaling this workload, if any
    resources: PodResources
    qos: str
    critical: bool
    critical_reason: str | None

    @property
    def kind(self) -> str:
        return self.manifest.kind

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def namespace(self) -> str | None:
        return self.manifest.namespace


def controller_owner(manifest: Manifest) -> dict[str, Any] | None:
    """The ownerReference with `controller: true`, if any (then the owner is what should be linted)."""
    for ref in manifest.metadata.get("ownerReferences") or []:
        if isinstance(ref, dict) and ref.get("controller"):
            return ref
    return None


def _dig(obj: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    for key in path:
        obj = _mapping(obj.get(key))
    return obj


def _count(value: Any, default: int = 1) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def hpa_target(hpa: Manifest) -> tuple[str, str] | None:
    """(kind, name) an HPA scales (`spec.scaleTargetRef`), or None."""
    ref = _mapping(_mapping(hpa.obj.get("spec")).get("scaleTargetRef"))
    kind, name = ref.get("kind"), ref.get("name")
    return (kind, name) if isinstance(kind, str) and isinstance(name, str) else None


def _replicas(manifest: Manifest, hpa: Manifest | None) -> tuple[int | None, str]:
    spec = _mapping(manifest.obj.get("spec"))
    kind = manifest.kind
    if kind == "DaemonSet":
        return None, "one per node"
    if kind == "Pod":
        return 1, "a single pod"
    if kind == "Job":
        return _count(spec.get("parallelism")), "parallelism"
    if kind == "CronJob":
        return _count(_dig(manifest.obj, ("spec", "jobTemplate", "spec")).get("parallelism")), "parallelism"
    if hpa is not None:
        return _count(_mapping(hpa.obj.get("spec")).get("minReplicas")), f"minReplicas of HPA {hpa.name}"
    return _count(spec.get("replicas")), "spec.replicas" if "replicas" in spec else "default replicas"


def criticality(manifest: Manifest, pod_spec: dict[str, Any], pod_labels: dict[str, Any],
                selector: LabelSelector | None) -> str | None:
    """Why a workload counts as critical, or None."""
    priority = pod_spec.get("priorityClassName")
    if priority in CRITICAL_PRIORITY_CLASSES:
        return f"priorityClassName {priority}"
    if manifest.namespace in CRITICAL_NAMESPACES:
        return f"namespace {manifest.namespace}"
    if selector is not None and selector.matches({**_mapping(manifest.metadata.get("labels")), **pod_labels}):
        return f"labels match {selector.text!r}"
    return None


def as_workload(manifest: Manifest, selector: LabelSelector | None = None,
                hpa: Manifest | None = None) -> Workload | None:
    """The workload view of an object, or None for non-workload kinds; an invalid resource quantity
    is BadInput naming the object and the field."""
    kind = manifest.kind
    if kind not in TEMPLATE_PATHS:
        return None
    path = TEMPLATE_PATHS[kind]
    template = manifest.obj if path is None else _dig(manifest.obj, path)
    pod_spec = _mapping(template.get("spec"))
    pod_labels = _mapping(_mapping(template.get("metadata")).get("labels"))
    resources = pod_resources(pod_spec, f"{kind} {manifest.name}")
    reason = criticality(manifest, pod_spec, pod_labels, selector)
    replicas, source = _replicas(manifest, hpa)
    return Workload(manifest, pod_spec, pod_labels, replicas, source, hpa, resources, qos_class(resources),
                    reason is not None, reason)
