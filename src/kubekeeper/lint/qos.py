"""Pod resources and the QoS class, computed the way the Kubernetes API server does.

Manifests are not defaulted yet, so this first applies the API server's defaulting of a Pod
(kubernetes/kubernetes pkg/apis/core/v1/defaults.go `SetDefaults_Pod`):

1. every container and init container: a request missing while its limit is set takes the limit;
2. with pod-level `spec.resources` (PodLevelResources: alpha 1.32, beta and on by default since 1.34),
   after the containers: `defaultHugePagePodLimits`, then `defaultPodRequests` (only when pod-level
   limits are set: a cpu/memory request missing at pod level becomes the containers' aggregated
   request, any other missing request becomes the pod-level limit), then `defaultPodLimits` (only when
   pod-level requests are set and no pod-level limit is: a cpu/memory limit becomes the containers'
   aggregated limit if every container, init containers included, limits it; kubernetes PRs 136147
   and 137616 - releases before that fix leave the pod limit unset, so such a pod is Burstable there).

"Aggregated" is `AggregateContainerRequests`/`AggregateContainerLimits`
(staging/src/k8s.io/component-helpers/resource/helpers.go): the sum over app containers and
restartable init containers (sidecars, `restartPolicy: Always`), or the largest need of one init
container while it runs (itself plus the sidecars started before it), whichever is larger.

Then the class is `ComputePodQOS` from pkg/apis/core/helper/qos/qos.go, the function that sets
`status.qosClass` when a pod is created: with pod-level resources set (a cpu, memory or hugepages
request or limit - `isPodLevelResourcesSet`, PodLevelResourcesFixKubeletQOSClass) the pod-level
requests and limits decide; otherwise the requests and limits of all containers and init containers
are summed. Quantities are compared in milli-units after the API server rounds them up
(`SetDefaults_ResourceList`). Only cpu and memory count, zero quantities are ignored, Guaranteed needs a cpu and a
memory limit (on every container, or at pod level) and requests equal to limits; nothing at all is
BestEffort; the rest is Burstable.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from kubekeeper.lint.quantity import millis_or_bad_input

GUARANTEED, BURSTABLE, BEST_EFFORT = "Guaranteed", "Burstable", "BestEffort"
QOS_RESOURCES = ("cpu", "memory")
HUGEPAGES_PREFIX = "hugepages-"

#: kubelet eviction order under node pressure (lower goes first), and a phrase for reports
EVICTION_ORDER = {BEST_EFFORT: 1, BURSTABLE: 2, GUARANTEED: 3}
EVICTION_TEXT = {
    BEST_EFFORT: "evicted first under node pressure",
    BURSTABLE: "evicted after BestEffort, by usage above requests",
    GUARANTEED: "evicted last",
}

Resources = dict[str, int]  # resource name -> milli-units (see quantity.millis)


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def is_pod_level_resource(name: str) -> bool:
    """`IsSupportedPodLevelResource`: cpu, memory and hugepages-* can be set at pod level."""
    return name in QOS_RESOURCES or name.startswith(HUGEPAGES_PREFIX)


@dataclass(frozen=True, slots=True)
class ContainerResources:
    """One container's requests and limits after defaulting (requests default to limits)."""

    label: str  # "container", "init container" or "sidecar container"
    container: dict[str, Any]
    requests: Resources
    limits: Resources
    restartable: bool  # a sidecar: an init container with restartPolicy Always

    @property
    def name(self) -> str:
        return str(self.container.get("name", "?"))


@dataclass(frozen=True, slots=True)
class PodResources:
    """Requests and limits of a pod as the API server stores them (after `SetDefaults_Pod`)."""

    containers: tuple[ContainerResources, ...]
    pod_level: bool  # spec.resources sets cpu, memory or hugepages (isPodLevelResourcesSet)
    pod_requests: Resources
    pod_limits: Resources


def _parse_list(values: Any, where: str) -> Resources:
    return {str(name): millis_or_bad_input(value, f"{where}: {name}") for name, value in _mapping(values).items()}


def _container(label: str, container: dict[str, Any], where: str) -> ContainerResources:
    resources = _mapping(container.get("resources"))
    here = f"{where}: {label} {container.get('name', '?')!r}"
    limits = _parse_list(resources.get("limits"), here)
    requests = _parse_list(resources.get("requests"), here)
    for name, value in limits.items():
        requests.setdefault(name, value)
    restartable = label != "container" and container.get("restartPolicy") == "Always"
    return ContainerResources("sidecar container" if restartable else label, container, requests, limits, restartable)


def _containers(pod_spec: dict[str, Any], where: str) -> Iterator[ContainerResources]:
    """Init containers first (their order matters for the sidecar formula), then app containers."""
    for key, label in (("initContainers", "init container"), ("containers", "container")):
        items = pod_spec.get(key)
        if isinstance(items, list):
            for item in items:
                if isinstance(item, dict):
                    yield _container(label, item, where)


def _add(into: Resources, values: Resources) -> None:
    for name, value in values.items():
        into[name] = into.get(name, 0) + value


def aggregate(containers: Iterable[ContainerResources], limits: bool = False) -> Resources:
    """`AggregateContainerRequests` (or `...Limits`): app + sidecars, or the largest init step."""
    total: Resources = {}
    sidecars: Resources = {}
    largest_init: Resources = {}
    for c in containers:
        values = c.limits if limits else c.requests
        if c.label == "container":
            _add(total, values)
            continue
        if c.restartable:
            _add(total, values)
            _add(sidecars, values)
            step = dict(sidecars)
        else:
            step = dict(values)
            _add(step, sidecars)
        for name, value in step.items():
            if name not in largest_init or value > largest_init[name]:
                largest_init[name] = value
    for name, value in largest_init.items():
        if name not in total or value > total[name]:
            total[name] = value
    return total


def _pod_level(pod_spec: dict[str, Any], containers: tuple[ContainerResources, ...],
               where: str) -> tuple[bool, Resources, Resources]:
    """(set?, requests, limits) of `spec.resources` after the pod-level defaulting functions."""
    raw = pod_spec.get("resources")
    if not isinstance(raw, dict):
        return False, {}, {}
    requests = _parse_list(raw.get("requests"), f"{where}: spec.resources.requests")
    limits = _parse_list(raw.get("limits"), f"{where}: spec.resources.limits")
    if not any(is_pod_level_resource(n) for n in (*requests, *limits)):
        return False, requests, limits
    container_limits = aggregate(containers, limits=True)
    # defaultHugePagePodLimits
    for name, value in container_limits.items():
        if name.startswith(HUGEPAGES_PREFIX) and name not in requests and name not in limits:
            limits[name] = value
    # defaultPodRequests
    if limits:
        for name, value in aggregate(containers).items():
            if name not in requests and name in QOS_RESOURCES:  # supported and overcommittable
                requests[name] = value
        for name, value in limits.items():
            if name not in requests and is_pod_level_resource(name):
                requests[name] = value
    # defaultPodLimits
    if not any(is_pod_level_resource(n) for n in limits) and any(is_pod_level_resource(n) for n in requests):
        for name, value in container_limits.items():
            if name in QOS_RESOURCES and name not in limits and all(name in c.limits for c in containers):
                limits[name] = value
    return True, requests, limits


def pod_resources(pod_spec: dict[str, Any], where: str = "pod") -> PodResources:
    """Requests and limits after defaulting; an invalid quantity is BadInput naming `where` and the field."""
    containers = tuple(_containers(pod_spec, where))
    pod_level, requests, limits = _pod_level(pod_spec, containers, where)
    return PodResources(containers, pod_level, requests, limits)


def _positive(values: Resources) -> Resources:
    return {name: value for name, value in values.items() if name in QOS_RESOURCES and value > 0}


def qos_class(resources: PodResources) -> str:
    """`ComputePodQOS` (pkg/apis/core/helper/qos) on defaulted resources."""
    requests: Resources = {}
    limits: Resources = {}
    guaranteed = True
    if resources.pod_level:
        requests = _positive(resources.pod_requests)
        limits = _positive(resources.pod_limits)
        if resources.pod_limits and not set(QOS_RESOURCES) <= set(limits):
            guaranteed = False
    else:
        for c in resources.containers:
            _add(requests, _positive(c.requests))
            found = _positive(c.limits)
            _add(limits, found)
            if not set(QOS_RESOURCES) <= set(found):
                guaranteed = False
    if not requests and not limits:
        return BEST_EFFORT
    if guaranteed and any(limits.get(name) != value for name, value in requests.items()):
        guaranteed = False
    return GUARANTEED if guaranteed and len(requests) == len(limits) else BURSTABLE


def pod_qos(pod_spec: dict[str, Any], where: str = "pod") -> str:
    """Guaranteed, Burstable or BestEffort for a pod spec (a pod template's `spec`)."""
    return qos_class(pod_resources(pod_spec, where))


def effective_resources(container: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(requests, limits) of one container as written, after the API server's defaulting of requests."""
    resources = _mapping(container.get("resources"))
    requests = dict(_mapping(resources.get("requests")))
    limits = _mapping(resources.get("limits"))
    for name, value in limits.items():
        requests.setdefault(name, value)
    return requests, limits
