"""Every rule on positive (finding) and negative (clean) manifests."""

from __future__ import annotations

import pytest

from kubekeeper.lint.rules import all_rules, documentation
from tests.unit.lint.conftest import FULL, container, deployment, pdb, rules_of, run_lint

SPREAD = {"affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
    {"weight": 100, "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname", "labelSelector": {"matchLabels": {"app": "web"}}}}]}}}
REQUIRED_SPREAD = {"affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
    {"topologyKey": "kubernetes.io/hostname", "labelSelector": {"matchLabels": {"app": "web"}}}]}}}
ZONE_ONLY = {"affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
    {"topologyKey": "topology.kubernetes.io/zone", "labelSelector": {"matchLabels": {"app": "web"}}}]}}}
TSC = {"topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "ScheduleAnyway",
                                      "labelSelector": {"matchLabels": {"app": "web"}}}]}
CRITICAL = {"priorityClassName": "system-cluster-critical"}


def test_every_rule_is_documented():
    rules = all_rules()
    assert {"resource-requests", "resource-limits", "qos-best-effort", "critical-spread", "critical-pdb",
            "bare-pod", "critical-qos", "critical-replicas"} <= set(rules)
    for rule_id, module in rules.items():
        assert module.ID == rule_id and module.HINT and len(documentation(module).splitlines()) >= 3


def test_clean_deployment_has_no_findings():
    assert rules_of(run_lint(deployment())) == []


@pytest.mark.parametrize("field", ["cpu", "memory", "ephemeral-storage"])
def test_resource_requests_and_limits_each_resource(field):
    partial = {k: v for k, v in FULL.items() if k != field}
    result = run_lint(deployment(containers=[container(requests=partial, limits=partial)]))
    assert rules_of(result) == ["resource-limits", "resource-requests"]
    assert all(field in f.message and f.container == "app" for f in result.findings)


def test_requests_defaulted_from_limits_count_as_set():
    result = run_lint(deployment(containers=[container(requests=None, limits=FULL)]))
    assert rules_of(result) == []


def test_init_containers_are_checked():
    obj = deployment(spec_extra={"initContainers": [container("migrate", requests=None, limits=None)]})
    result = run_lint(obj)
    assert {(f.rule, f.container) for f in result.findings} >= {("resource-requests", "migrate"), ("resource-limits", "migrate")}
    assert "init container 'migrate'" in result.findings[0].message


def test_best_effort_is_a_finding_and_burstable_is_not():
    assert "qos-best-effort" in rules_of(run_lint(deployment(containers=[container(requests=None, limits=None)])))
    assert "qos-best-effort" not in rules_of(run_lint(deployment(containers=[container(requests={"cpu": "1"}, limits=None)])))


@pytest.mark.parametrize("extra,namespace,expected", [
    (CRITICAL, "prod", True),
    ({"priorityClassName": "system-node-critical"}, "prod", True),
    ({}, "kube-system", True),
    ({}, "prod", False),
    ({"priorityClassName": "high"}, "prod", False),
    ({**CRITICAL, **SPREAD}, "prod", False),
    ({**CRITICAL, **REQUIRED_SPREAD}, "prod", False),
    ({**CRITICAL, **TSC}, "prod", False),
    ({**CRITICAL, **ZONE_ONLY}, "prod", True),
])
def test_critical_spread(extra, namespace, expected):
    result = run_lint(deployment(namespace=namespace, spec_extra=extra))
    assert ("critical-spread" in rules_of(result)) is expected


def test_critical_spread_not_for_single_replica_or_daemonset():
    assert "critical-spread" not in rules_of(run_lint(deployment(replicas=1, spec_extra=CRITICAL)))
    daemonset = deployment(kind="DaemonSet", replicas=None, spec_extra=CRITICAL)
    assert "critical-spread" not in rules_of(run_lint(daemonset))


def test_critical_selector_is_configurable():
    obj = deployment(labels={"tier": "critical"})
    assert "critical-spread" not in rules_of(run_lint(obj))
    assert "critical-spread" in rules_of(run_lint(obj, critical_selector="tier=critical"))
    assert "critical-spread" in rules_of(run_lint(obj, critical_selector="tier in (critical, core)"))
    assert "critical-spread" not in rules_of(run_lint(obj, critical_selector="tier!=critical"))


def test_critical_pdb_needs_matching_pdb_in_same_namespace():
    obj = deployment(spec_extra={**CRITICAL, **SPREAD})
    assert "critical-pdb" in rules_of(run_lint(obj))
    assert "critical-pdb" not in rules_of(run_lint(obj, pdb()))
    assert "critical-pdb" in rules_of(run_lint(obj, pdb(namespace="other")))
    assert "critical-pdb" in rules_of(run_lint(obj, pdb(match={"app": "other"})))
    assert "critical-pdb" not in rules_of(run_lint(deployment(replicas=1, spec_extra=CRITICAL)))


def test_bare_pod():
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "debug", "namespace": "prod"},
           "spec": {"containers": [container()]}}
    assert rules_of(run_lint(pod)) == ["bare-pod"]
    owned = {**pod, "metadata": {**pod["metadata"], "ownerReferences": [
        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-1", "uid": "x", "controller": True}]}}
    result = run_lint(owned)
    assert rules_of(result) == [] and result.skipped_controlled == 1


def test_critical_qos_and_replicas():
    burstable = deployment(replicas=1, spec_extra=CRITICAL, containers=[container(requests={"cpu": "1", "memory": "1Gi"}, limits={"memory": "2Gi"})])
    assert "critical-qos" in rules_of(run_lint(burstable))
    assert "critical-qos" not in rules_of(run_lint(deployment(spec_extra={**CRITICAL, **SPREAD})))
    assert "critical-replicas" not in rules_of(run_lint(burstable))
    assert "critical-replicas" in rules_of(run_lint(burstable, profile="strict"))
