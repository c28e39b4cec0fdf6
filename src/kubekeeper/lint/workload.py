"""Turn objects into workloads: the pod template of every controller kind, replicas and criticality."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from kubekeeper.errors import BadInput
from kubekeeper.lint.model import Manifest
from kubekeeper.lint.qos import pod_qos

#: kind -> path from the object to its pod template (`None`: the object is the pod)
TEMPLATE_PATHS: dict[str, tuple[str, ...] | None] = {
    "Pod": None,
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "ReplicationController": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}
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
    def parse(cls, text: str) -> "LabelSelector":
        terms = []
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
            value = str(labels.get(key)) if present else None
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


def selector_matches(selector: Any, labels: dict[str, Any]) -> bool:
    """A metav1.LabelSelector (matchLabels + matchExpressions) against labels; empty matches nothing here."""
    selector = _mapping(selector)
    match_labels = _mapping(selector.get("matchLabels"))
    expressions = selector.get("matchExpressions") or []
    if not match_labels and not expressions:
        return False
    if any(str(labels.get(k)) != str(v) or k not in labels for k, v in match_labels.items()):
        return False
    for expression in expressions if isinstance(expressions, list) else []:
        expression = _mapping(expression)
        key, op = expression.get("key"), expression.get("operator")
        values = [str(v) for v in expression.get("values") or []]
        present = key in labels
        if op == "In" and (not present or str(labels[key]) not in values):
            return False
        if op == "NotIn" and present and str(labels[key]) in values:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
    return True


@dataclass(slots=True)
class Workload:
    """A workload object reduced to what the rules look at."""

    manifest: Manifest
    pod_spec: dict[str, Any]
    pod_labels: dict[str, Any]
    replicas: int | None  # None: one pod per node (DaemonSet)
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


def _replicas(manifest: Manifest) -> int | None:
    spec = _mapping(manifest.obj.get("spec"))
    kind = manifest.kind
    if kind == "DaemonSet":
        return None
    if kind == "Pod":
        return 1
    if kind == "Job":
        value = spec.get("parallelism", 1)
    elif kind == "CronJob":
        value = _dig(manifest.obj, ("spec", "jobTemplate", "spec")).get("parallelism", 1)
    else:
        value = spec.get("replicas", 1)
    return value if isinstance(value, int) and not isinstance(value, bool) else 1


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


def as_workload(manifest: Manifest, selector: LabelSelector | None = None) -> Workload | None:
    """The workload view of an object, or None for non-workload kinds."""
    kind = manifest.kind
    if kind not in TEMPLATE_PATHS:
        return None
    path = TEMPLATE_PATHS[kind]
    template = manifest.obj if path is None else _dig(manifest.obj, path)
    pod_spec = _mapping(template.get("spec"))
    pod_labels = _mapping(_mapping(template.get("metadata")).get("labels"))
    where = f"{manifest.file}:{manifest.line}" if manifest.line else manifest.file
    qos = pod_qos(pod_spec, f"{where}: {kind} {manifest.name}")
    reason = criticality(manifest, pod_spec, pod_labels, selector)
    return Workload(manifest, pod_spec, pod_labels, _replicas(manifest), qos, reason is not None, reason)
