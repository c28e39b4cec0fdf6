"""QoS classification across the Kubernetes rules' edge cases (pkg/apis/core/helper/qos + defaulting)."""

from __future__ import annotations

from fractions import Fraction

import pytest

from kubekeeper.errors import BadInput
from kubekeeper.lint.qos import BEST_EFFORT, BURSTABLE, GUARANTEED, pod_qos
from kubekeeper.lint.quantity import parse_quantity


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
    ("pod-level resources decide", {"containers": [c()], "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}, GUARANTEED),
    ("pod-level requests only", {"containers": [c()], "resources": {"requests": {"cpu": "1"}}}, BURSTABLE),
    ("no containers", {}, BEST_EFFORT),
]


@pytest.mark.parametrize("title,spec,expected", CASES, ids=[case[0] for case in CASES])
def test_qos_class(title, spec, expected):
    assert pod_qos(spec) == expected


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


def test_bad_quantity_is_bad_input():
    with pytest.raises(BadInput, match="invalid quantity"):
        pod_qos({"containers": [c({"cpu": "lots"})]})
