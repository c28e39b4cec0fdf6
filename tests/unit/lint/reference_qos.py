"""A reference QoS computation for the tests, written independently of kubekeeper.lint.qos.

It follows a different upstream formulation than the code under test: the per-container
`resourceQOS` of kubernetes/kubernetes pkg/apis/core/v1/helper/qos/qos.go (a container or the pod is
Guaranteed when its cpu and memory requests equal its limits and are not zero, BestEffort when both are
zero or missing, and the pod is Burstable as soon as the containers disagree), where the code under
test sums requests and limits like pkg/apis/core/helper/qos. For valid pods (request <= limit) the two
agree. Quantities are parsed here with `decimal` and rounded up to milli-units like
`SetDefaults_ResourceList`; defaulting follows pkg/apis/core/v1/defaults.go
(`SetDefaults_Pod`, `defaultHugePagePodLimits`, `defaultPodRequests`, `defaultPodLimits`) and the
sidecar-aware aggregation of KEP-753 ("resources calculation for scheduling and pod admission").
Nothing here imports kubekeeper.
"""

from __future__ import annotations

import re
from decimal import ROUND_CEILING, Decimal
from typing import Any

SUFFIXES = {
    "": Decimal(1), "m": Decimal("0.001"), "u": Decimal("0.000001"), "n": Decimal("0.000000001"),
    "k": Decimal(10) ** 3, "M": Decimal(10) ** 6, "G": Decimal(10) ** 9, "T": Decimal(10) ** 12,
    "P": Decimal(10) ** 15, "E": Decimal(10) ** 18,
    "Ki": Decimal(2) ** 10, "Mi": Decimal(2) ** 20, "Gi": Decimal(2) ** 30, "Ti": Decimal(2) ** 40,
    "Pi": Decimal(2) ** 50, "Ei": Decimal(2) ** 60,
}
NUMBER = re.compile(r"^([0-9.]+)([a-zA-Z]*)$|^([0-9.]+)[eE]([0-9]+)$")


def quantity(value: Any) -> Decimal:
    """The value as stored after SetDefaults_ResourceList: rounded up to milli-units (RoundUp(-3))."""
    if isinstance(value, (int, float)):
        exact = Decimal(str(value))
    else:
        match = NUMBER.match(str(value))
        assert match, f"reference cannot parse {value!r}"
        if match.group(3) is not None:
            exact = Decimal(match.group(3)) * Decimal(10) ** int(match.group(4))
        else:
            exact = Decimal(match.group(1)) * SUFFIXES[match.group(2)]
    return exact.quantize(Decimal("0.001"), rounding=ROUND_CEILING)


def _resources(obj: dict) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
    res = obj.get("resources") or {}
    return ({k: quantity(v) for k, v in (res.get("requests") or {}).items()},
            {k: quantity(v) for k, v in (res.get("limits") or {}).items()})


def defaulted_container(container: dict) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
    requests, limits = _resources(container)
    merged = dict(limits)
    merged.update(requests)  # a set request wins; a missing one is the limit
    return merged, limits


def supported_at_pod_level(name: str) -> bool:
    return name in ("cpu", "memory") or name.startswith("hugepages-")


def aggregate(spec: dict, part: int) -> dict[str, Decimal]:
    """KEP-753: max(sum of app containers and sidecars, the largest init step), per resource."""
    app: dict[str, Decimal] = {}
    for c in spec.get("containers") or []:
        for k, v in defaulted_container(c)[part].items():
            app[k] = app.get(k, Decimal(0)) + v
    sidecars: dict[str, Decimal] = {}
    init_peak: dict[str, Decimal] = {}
    for c in spec.get("initContainers") or []:
        values = defaulted_container(c)[part]
        if c.get("restartPolicy") == "Always":
            for k, v in values.items():
                sidecars[k] = sidecars.get(k, Decimal(0)) + v
                app[k] = app.get(k, Decimal(0)) + v
            step = dict(sidecars)
        else:
            step = {k: v + sidecars.get(k, Decimal(0)) for k, v in values.items()}
            for k, v in sidecars.items():
                step.setdefault(k, v)
        for k, v in step.items():
            init_peak[k] = max(init_peak.get(k, v), v)
    return {k: max(app.get(k, Decimal(0)), init_peak.get(k, Decimal(0))) for k in set(app) | set(init_peak)}


def pod_level(spec: dict) -> tuple[dict[str, Decimal], dict[str, Decimal]] | None:
    if not isinstance(spec.get("resources"), dict):
        return None
    requests, limits = _resources(spec)
    if not any(supported_at_pod_level(k) for k in list(requests) + list(limits)):
        return None
    containers = (spec.get("containers") or []) + (spec.get("initContainers") or [])
    agg_limits = aggregate(spec, 1)
    for k, v in agg_limits.items():  # defaultHugePagePodLimits
        if k.startswith("hugepages-") and k not in requests and k not in limits:
            limits[k] = v
    if limits:  # defaultPodRequests
        for k, v in aggregate(spec, 0).items():
            if k in ("cpu", "memory") and k not in requests:
                requests[k] = v
        for k, v in limits.items():
            if supported_at_pod_level(k) and k not in requests:
                requests[k] = v
    if (not any(supported_at_pod_level(k) for k in limits)
            and any(supported_at_pod_level(k) for k in requests)):  # defaultPodLimits
        for k in ("cpu", "memory"):
            if k in agg_limits and k not in limits and all(k in defaulted_container(c)[1] for c in containers):
                limits[k] = agg_limits[k]
    return requests, limits


def resource_qos(requests: dict[str, Decimal], limits: dict[str, Decimal]) -> str:
    if not requests and not limits:
        return "BestEffort"
    found = None
    for name in ("cpu", "memory"):
        req, lim = requests.get(name, Decimal(0)), limits.get(name, Decimal(0))
        if req != lim:
            return "Burstable"
        this = "BestEffort" if req == 0 else "Guaranteed"
        if found is None:
            found = this
        elif found != this:
            return "Burstable"
    return found or "BestEffort"


def reference_qos(spec: dict) -> str:
    pod = pod_level(spec)
    if pod is not None:
        return resource_qos(*pod)
    qos = None
    for c in (spec.get("initContainers") or []) + (spec.get("containers") or []):
        this = resource_qos(*defaulted_container(c))
        if this == "Burstable":
            return this
        if qos is None:
            qos = this
        elif qos != this:
            return "Burstable"
    return qos or "BestEffort"
