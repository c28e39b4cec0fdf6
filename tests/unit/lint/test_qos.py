"""QoS classification across the Kubernetes rules' edge cases (pkg/apis/core/helper/qos + defaulting),
pod-level resources (1.32+) and sidecars, each case also checked against the independent reference
computation in reference_qos.py; and thousands of generated valid pods against that reference."""

from __future__ import annotations

import random
from fractions import Fraction

import pytest

from kubekeeper.errors import BadInput
from kubekeeper.lint.qos import BEST_EFFORT, BURSTABLE, GUARANTEED, aggregate, pod_qos, pod_resources
from kubekeeper.lint.quantity import parse_quantity
from tests.unit.lint.reference_qos import reference_qos


def c(requests=None, limits=None, name="c"):
    resources = {}
    if requests is not None:
        resources["requests"] = requests
    if limits is not None:
        resources["limits"] = limits
    return {"name": name, "resources": resources}


CASES = [
    ("no resources at all", {"containers": [c()]}, BEST_EFFORT),
    ("only ephemeral-storage does not count", {"containers": [c({"ephemeral-storage": "1Gi"}, {"ephemeral-storage": "1Gi"})]}, BEST_EFFORT),
    ("zero quantities are ignored", {"containers": [c({"cpu": "0", "memory": "0"})]}, BEST_EFFORT),
    ("extended resource only does not count", {"containers": [c(None, {"nvidia.com/gpu": 1})]}, BEST_EFFORT),
    ("requests equal limits", {"containers": [c({"cpu": "1", "memory": "1Gi"}, {"cpu": "1", "memory": "1Gi"})]}, GUARANTEED),
    ("requests defaulted from limits", {"containers": [c(None, {"cpu": "500m", "memory": "256Mi"})]}, GUARANTEED),
    ("partly defaulted, equal", {"containers": [c({"cpu": "500m"}, {"cpu": "0.5", "memory": "256Mi"})]}, GUARANTEED),
    ("equal in different units", {"containers": [c({"cpu": "1000m", "memory": "1Gi"}, {"cpu": 1, "memory": "1073741824"})]}, GUARANTEED),
    ("equal once rounded up to milli-units", {"containers": [c({"cpu": "1500u", "memory": "1Gi"}, {"cpu": "2m", "memory": "1Gi"})]}, GUARANTEED),
    ("sub-milli difference within one milli-unit", {"containers": [c({"cpu": "1001u", "memory": "1Gi"}, {"cpu": "1999u", "memory": "1Gi"})]}, GUARANTEED),
    ("different after rounding", {"containers": [c({"cpu": "1m", "memory": "1Gi"}, {"cpu": "1001u", "memory": "1Gi"})]}, BURSTABLE),
    ("requests below limits", {"containers": [c({"cpu": "100m", "memory": "1Gi"}, {"cpu": "1", "memory": "1Gi"})]}, BURSTABLE),
    ("only cpu limit", {"containers": [c(None, {"cpu": "1"})]}, BURSTABLE),
    ("only memory request", {"containers": [c({"memory": "1Gi"})]}, BURSTABLE),
    ("one container without limits", {"containers": [c(None, {"cpu": "1", "memory": "1Gi"}), c(name="side")]}, BURSTABLE),
    ("init container without limits breaks Guaranteed", {"containers": [c(None, {"cpu": "1", "memory": "1Gi"})],
                                                         "initContainers": [c(name="init")]}, BURSTABLE),
    ("init container with requests makes a pod Burstable", {"containers": [c()], "initContainers": [c({"cpu": "10m"}, name="init")]}, BURSTABLE),
    ("init and app containers both Guaranteed", {"containers": [c(None, {"cpu": "1", "memory": "1Gi"})],
                                                 "initContainers": [c(None, {"cpu": "2", "memory": "2Gi"}, name="init")]}, GUARANTEED),
    ("ephemeral-storage limit alone keeps Guaranteed", {"containers": [c({"cpu": "1", "memory": "1Gi"}, {"cpu": "1", "memory": "1Gi", "ephemeral-storage": "2Gi"})]}, GUARANTEED),
    ("ephemeral-storage mismatch is ignored", {"containers": [c({"cpu": "1", "memory": "1Gi", "ephemeral-storage": "1Gi"}, {"cpu": "1", "memory": "1Gi", "ephemeral-storage": "2Gi"})]}, GUARANTEED),
    ("no containers", {}, BEST_EFFORT),
    # pod-level resources (spec.resources): requests default from the containers' sum, else from the limits
    ("pod limits, no requests anywhere: requests default to limits", {"containers": [c()], "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}, GUARANTEED),
    ("issue 13: pod limits 1/1Gi, container requests 500m/512Mi", {"containers": [c({"cpu": "500m", "memory": "512Mi"})],
                                                                  "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}, BURSTABLE),
    ("pod limits, container requests summing to them", {"containers": [c({"cpu": "500m", "memory": "512Mi"}), c({"cpu": "500m", "memory": "512Mi"}, name="b")],
                                                        "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}, GUARANTEED),
    ("pod-level requests only", {"containers": [c()], "resources": {"requests": {"cpu": "1"}}}, BURSTABLE),
    ("pod requests, every container limited: pod limits defaulted", {"containers": [c(None, {"cpu": "1", "memory": "1Gi"})],
                                                                     "resources": {"requests": {"cpu": "1", "memory": "1Gi"}}}, GUARANTEED),
    ("pod requests, one container unlimited: no pod limits", {"containers": [c(None, {"cpu": "1", "memory": "1Gi"}), c(name="b")],
                                                              "resources": {"requests": {"cpu": "1", "memory": "1Gi"}}}, BURSTABLE),
    ("pod-level decides over Guaranteed containers", {"containers": [c(None, {"cpu": "1", "memory": "1Gi"})],
                                                      "resources": {"requests": {"memory": "1Gi"}, "limits": {"memory": "2Gi"}}}, BURSTABLE),
    ("pod-level memory only, cpu from containers", {"containers": [c({"cpu": "1"})], "resources": {"limits": {"memory": "1Gi"}}}, BURSTABLE),
    ("empty pod-level resources are not set", {"containers": [c(None, {"cpu": "1", "memory": "1Gi"})], "resources": {}}, GUARANTEED),
    ("pod-level ephemeral-storage only is not set", {"containers": [c(None, {"cpu": "1", "memory": "1Gi"})],
                                                     "resources": {"limits": {"ephemeral-storage": "1Gi"}}}, GUARANTEED),
    # defaultPodRequests runs before defaultPodLimits: limits get defaulted, the cpu/memory requests do not
    ("pod-level hugepages request only: Burstable", {"containers": [c(None, {"cpu": "1", "memory": "1Gi", "hugepages-2Mi": "2Mi"})],
                                                     "resources": {"requests": {"hugepages-2Mi": "2Mi"}}}, BURSTABLE),
    ("pod hugepage limit defaulted: cpu/memory limits are not", {"containers": [c(None, {"cpu": "1", "memory": "1Gi", "hugepages-2Mi": "2Mi"})],
                                                                 "resources": {"requests": {"cpu": "1", "memory": "1Gi"}}}, BURSTABLE),
    # sidecars (init containers with restartPolicy Always) count like app containers
    ("sidecar without resources", {"containers": [c(None, {"cpu": "1", "memory": "1Gi"})],
                                   "initContainers": [{"name": "s", "restartPolicy": "Always"}]}, BURSTABLE),
    ("sidecar Guaranteed too", {"containers": [c(None, {"cpu": "1", "memory": "1Gi"})],
                                "initContainers": [{**c(None, {"cpu": "100m", "memory": "64Mi"}, name="s"), "restartPolicy": "Always"}]}, GUARANTEED),
    ("pod limits with sidecar requests: sidecar counted in the default", {
        "containers": [c({"cpu": "500m", "memory": "512Mi"})],
        "initContainers": [{**c({"cpu": "500m", "memory": "512Mi"}, name="s"), "restartPolicy": "Always"}],
        "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}, GUARANTEED),
    ("pod limits with a big init container: init peak is the default", {
        "containers": [c({"cpu": "500m", "memory": "512Mi"})], "initContainers": [c({"cpu": "1", "memory": "1Gi"}, name="init")],
        "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}, GUARANTEED),
]


@pytest.mark.parametrize("title,spec,expected", CASES, ids=[case[0] for case in CASES])
def test_qos_class(title, spec, expected):
    assert reference_qos(spec) == expected, "the reference disagrees with the expected class"
    assert pod_qos(spec) == expected


def test_aggregate_follows_the_sidecar_formula():
    """KEP-753 example shape: init steps see the sidecars started before them."""
    spec = {"initContainers": [{**c({"cpu": "1"}, name="s1"), "restartPolicy": "Always"}, c({"cpu": "3"}, name="i1"),
                               {**c({"cpu": "2"}, name="s2"), "restartPolicy": "Always"}, c({"cpu": "2"}, name="i2")],
            "containers": [c({"cpu": "1"})]}
    # app + sidecars = 1 + 1 + 2 = 4; init steps: i1 = 3 + 1 = 4, i2 = 2 + 3 = 5 -> 5
    assert aggregate(pod_resources(spec).containers) == {"cpu": 5000}  # milli-units


QUANTITIES = {"cpu": ["0", "500u", "1500u", "2m", "100m", "0.1", "250m", "500m", "1", "1000m", "2"],
              "memory": ["0", "64Mi", "67108864", "128Mi", "1Gi", "1073741824", "2Gi"],
              "ephemeral-storage": ["1Gi", "2Gi"], "hugepages-2Mi": ["2Mi", "4Mi"]}


def _random_resources(rng: random.Random, names=("cpu", "memory", "ephemeral-storage", "hugepages-2Mi")) -> dict:
    requests, limits = {}, {}
    for name in names:
        choice = rng.random()
        values = QUANTITIES[name]
        if choice < 0.25:
            continue
        if choice < 0.45:
            requests[name] = rng.choice(values)
        elif choice < 0.65:
            limits[name] = rng.choice(values)
        else:  # both, and valid: request <= limit
            a, b = sorted((rng.choice(values), rng.choice(values)), key=parse_quantity)
            requests[name], limits[name] = (a, a) if rng.random() < 0.5 else (a, b)
    resources = {}
    if requests or rng.random() < 0.1:
        resources["requests"] = requests
    if limits or rng.random() < 0.1:
        resources["limits"] = limits
    return resources


def _random_pod(rng: random.Random) -> dict:
    spec: dict = {"containers": [{"name": f"c{i}", "resources": _random_resources(rng)} for i in range(rng.randint(1, 3))]}
    inits = []
    for i in range(rng.choice([0, 0, 1, 2, 3])):
        init = {"name": f"i{i}", "resources": _random_resources(rng)}
        if rng.random() < 0.4:
            init["restartPolicy"] = "Always"
        inits.append(init)
    if inits:
        spec["initContainers"] = inits
    if rng.random() < 0.4:
        spec["resources"] = _random_resources(rng, ("cpu", "memory", "hugepages-2Mi", "ephemeral-storage"))
    return spec


def test_generated_pods_match_the_reference():
    """5,000 seeded random valid pods (containers, init containers, sidecars, pod-level resources)."""
    rng = random.Random(13)
    classes = set()
    for _ in range(5000):
        spec = _random_pod(rng)
        expected = reference_qos(spec)
        assert pod_qos(spec) == expected, spec
        classes.add(expected)
    assert classes == {BEST_EFFORT, BURSTABLE, GUARANTEED}  # the generator reaches every class


@pytest.mark.parametrize("text,value", [
    ("100m", Fraction(1, 10)), ("1", 1), (2, 2), ("1.5", Fraction(3, 2)), ("1Ki", 1024), ("1Gi", 2**30),
    ("1G", 10**9), ("1e3", 1000), ("2E", 2 * 10**18), ("500u", Fraction(1, 2000)), (".5", Fraction(1, 2)), (0.25, Fraction(1, 4)),
])
def test_quantities(text, value):
    assert parse_quantity(text) == value


@pytest.mark.parametrize("text", ["1 Gi", "abc", "1GB", "", True])
def test_bad_quantities(text):
    with pytest.raises(ValueError):
        parse_quantity(text)


def test_millis_round_up_like_the_api_server():
    from kubekeeper.lint.quantity import millis

    assert [millis(v) for v in ("1", "100m", "1500u", "1n", "1Ki", 0.5, "0")] == [1000, 100, 2, 1, 1024000, 500, 0]


def test_bad_quantity_is_bad_input_naming_the_field():
    with pytest.raises(BadInput, match="container 'c': cpu: invalid quantity 'lots'"):
        pod_qos({"containers": [c({"cpu": "lots"})]})
    with pytest.raises(BadInput, match="spec.resources.limits: memory: invalid quantity"):
        pod_qos({"containers": [c()], "resources": {"limits": {"memory": "1 GB"}}})
    with pytest.raises(BadInput, match=r"memory: invalid quantity \['1Gi'\]"):
        pod_qos({"containers": [c({"memory": ["1Gi"]})]})
