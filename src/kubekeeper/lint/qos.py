"""The pod QoS class, computed the way Kubernetes does (pkg/apis/core/helper/qos: ComputePodQOS).

Manifests are not defaulted yet, so first apply the API server's defaulting (SetDefaults_Pod: a
container's request defaults to its limit when only the limit is set), then follow ComputePodQOS:
requests and limits of containers AND init containers are summed per resource, only cpu and memory
count, zero quantities are ignored, every container needs cpu and memory limits for Guaranteed, and
the summed requests must equal the summed limits. Pod-level `spec.resources` (PodLevelResources,
beta and on by default since 1.34) replaces the container sums when present.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any, Iterable

from kubekeeper.lint.quantity import quantity_or_bad_input

GUARANTEED, BURSTABLE, BEST_EFFORT = "Guaranteed", "Burstable", "BestEffort"
QOS_RESOURCES = ("cpu", "memory")

#: kubelet eviction order under node pressure (lower goes first), and a phrase for reports
EVICTION_ORDER = {BEST_EFFORT: 1, BURSTABLE: 2, GUARANTEED: 3}
EVICTION_TEXT = {
    BEST_EFFORT: "evicted first under node pressure",
    BURSTABLE: "evicted after BestEffort, by usage above requests",
    GUARANTEED: "evicted last",
}


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def effective_resources(container: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(requests, limits) after the API server's defaulting: a missing request takes the limit's value."""
    resources = _mapping(container.get("resources"))
    requests = dict(_mapping(resources.get("requests")))
    limits = _mapping(resources.get("limits"))
    for name, value in limits.items():
        requests.setdefault(name, value)
    return requests, limits


def _accumulate(into: dict[str, Fraction], values: dict[str, Any], where: str) -> set[str]:
    """Add the positive cpu/memory quantities into `into`; returns the names that counted."""
    found = set()
    for name, value in values.items():
        if name not in QOS_RESOURCES:
            continue
        quantity = quantity_or_bad_input(value, f"{where}: {name}")
        if quantity > 0:
            into[name] = into.get(name, Fraction(0)) + quantity
            found.add(name)
    return found


def pod_qos(pod_spec: dict[str, Any], where: str = "pod") -> str:
    """Guaranteed, Burstable or BestEffort for a pod spec (a pod template's `spec`)."""
    requests: dict[str, Fraction] = {}
    limits: dict[str, Fraction] = {}
    guaranteed = True
    pod_resources = pod_spec.get("resources")
    if isinstance(pod_resources, dict) and pod_resources:
        pod_requests = dict(_mapping(pod_resources.get("requests")))
        pod_limits = _mapping(pod_resources.get("limits"))
        for name, value in pod_limits.items():
            pod_requests.setdefault(name, value)
        _accumulate(requests, pod_requests, where)
        if pod_limits and not set(QOS_RESOURCES) <= _accumulate(limits, pod_limits, where):
            guaranteed = False
    else:
        for container in all_containers(pod_spec):
            container_requests, container_limits = effective_resources(container)
            _accumulate(requests, container_requests, where)
            if not set(QOS_RESOURCES) <= _accumulate(limits, container_limits, where):
                guaranteed = False
    if not requests and not limits:
        return BEST_EFFORT
    if guaranteed and any(limits.get(name) != value for name, value in requests.items()):
        guaranteed = False
    if guaranteed and len(requests) == len(limits):
        return GUARANTEED
    return BURSTABLE


def all_containers(pod_spec: dict[str, Any]) -> Iterable[dict[str, Any]]:
    """Containers then init containers (ephemeral containers carry no resources)."""
    for key in ("containers", "initContainers"):
        items = pod_spec.get(key)
        if isinstance(items, list):
            yield from (c for c in items if isinstance(c, dict))
