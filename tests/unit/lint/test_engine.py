"""Profiles, suppression annotations, --no-suppress and the --fail-on threshold."""

from __future__ import annotations

import pytest

from kubekeeper.errors import BadInput
from kubekeeper.lint.model import SEVERITY_RANK
from kubekeeper.lint.profiles import RESOURCE_CHECKS, all_profiles, profile, raw_profiles
from kubekeeper.lint.rules import all_rules
from tests.unit.lint.conftest import container, deployment, pdb, rules_of, run_lint

BEST_EFFORT = [container(requests=None, limits=None)]


def test_profiles_are_data_and_cover_every_rule():
    assert {"default", "strict"} <= set(all_profiles())
    for name, data in raw_profiles().items():
        assert set(data["rules"]) == set(all_rules()), name  # every rule has an explicit level, `off` included
        assert set(data["resources"]) <= set(RESOURCE_CHECKS)
    assert "critical-replicas" not in profile("default").severities  # "off"
    assert profile("strict").resources == frozenset(RESOURCE_CHECKS)
    assert profile("default").required("request") == ("cpu", "memory") and profile("default").required("limit") == ("memory",)
    with pytest.raises(BadInput, match="unknown profile"):
        profile("lenient")


def test_profile_adjustments_for_one_run():
    adjusted = profile("default", ignore=("memory-limit", "job-ttl"), require=("cpu-limit",), spread="zone")
    assert adjusted.required("limit") == ("cpu",) and "job-ttl" not in adjusted.severities and adjusted.spread == "zone"
    assert profile("default").required("limit") == ("memory",)  # the profile itself is unchanged


def test_severities_come_from_the_profile():
    obj = deployment(containers=BEST_EFFORT)
    default = {f.rule: f.severity for f in run_lint(obj).findings}
    strict = {f.rule: f.severity for f in run_lint(obj, profile="strict").findings}
    assert default["resource-requests"] == "warning" and strict["resource-requests"] == "error"


def test_suppression_annotation_names_rule_ids():
    obj = deployment(containers=BEST_EFFORT, annotations={"kubekeeper.io/lint-ignore": "resource-requests, qos-best-effort"})
    assert rules_of(run_lint(obj)) == ["pdb-missing", "resource-limits"]
    assert rules_of(run_lint(obj, suppress=False)) == ["pdb-missing", "qos-best-effort", "resource-limits", "resource-requests"]


def test_suppress_all():
    obj = deployment(containers=BEST_EFFORT, annotations={"kubekeeper.io/lint-ignore": "*"})
    result = run_lint(obj)
    assert result.findings == [] and len(result.workloads) == 1


#: workloads whose most severe finding (default profile) is an error, a warning, an info - and none at all
WORST_FINDING = {
    "error": deployment(containers=BEST_EFFORT),  # qos-best-effort
    "warning": deployment(containers=[container(limits={"cpu": "100m"})]),  # resource-limits: no memory limit
    "info": deployment(),  # pdb-missing only
    "none": [deployment(), pdb()],
}


@pytest.mark.parametrize(("worst", "fail_on", "expected"), [
    ("error", "error", True), ("error", "warning", True), ("error", "info", True),
    ("warning", "error", False), ("warning", "warning", True), ("warning", "info", True),
    ("info", "error", False), ("info", "warning", False), ("info", "info", True),
    ("none", "error", False), ("none", "warning", False), ("none", "info", False),
])
def test_fail_on_is_a_threshold(worst: str, fail_on: str, expected: bool) -> None:
    objects = WORST_FINDING[worst]
    result = run_lint(*objects) if isinstance(objects, list) else run_lint(objects)
    severities = {f.severity for f in result.findings}
    assert max(severities, key=SEVERITY_RANK.__getitem__, default="none") == worst  # the case is what it says
    assert result.failed(fail_on) is expected


def test_fail_on_threshold_ignores_lower_severities():
    obj = deployment(namespace="kube-system", containers=[container(requests={"cpu": "1", "memory": "1Gi", "ephemeral-storage": "1Gi"},
                                                                    limits={"memory": "2Gi", "cpu": "2", "ephemeral-storage": "1Gi"})], replicas=1,
                     spec_extra={"priorityClassName": "infra"})
    result = run_lint(obj)
    assert [(f.rule, f.severity) for f in result.findings] == [("critical-qos", "info")]
    assert result.failed("info") and not result.failed("warning")
