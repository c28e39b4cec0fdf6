"""Every rule on positive (finding) and negative (clean) manifests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubekeeper.lint import Options, lint, load_paths, parse_text
from kubekeeper.lint.model import Manifest
from kubekeeper.lint.rules import all_rules, documentation
from tests.unit.lint.conftest import FULL, container, deployment, pdb, rules_of, run_lint, to_yaml

CORPUS = Path(__file__).resolve().parents[2] / "data" / "lint-corpus"
SPREAD = {"affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
    {"weight": 100, "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname", "labelSelector": {"matchLabels": {"app": "web"}}}}]}}}
REQUIRED_SPREAD = {"affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
    {"topologyKey": "kubernetes.io/hostname", "labelSelector": {"matchLabels": {"app": "web"}}}]}}}
ZONE_ONLY = {"affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
    {"topologyKey": "topology.kubernetes.io/zone", "labelSelector": {"matchLabels": {"app": "web"}}}]}}}
TSC = {"topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "ScheduleAnyway",
                                      "labelSelector": {"matchLabels": {"app": "web"}}}]}
CRITICAL = {"priorityClassName": "system-cluster-critical"}
NEW_RULES = {"selector-mismatch", "pdb-missing", "pdb-sanity", "hpa-replicas", "job-ttl", "cronjob-deadline", "critical-priority-class"}


def hpa(target: str = "web", namespace: str = "prod", min_replicas: int | None = 2, kind: str = "Deployment") -> dict:
    spec = {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": kind, "name": target}, "maxReplicas": 10}
    if min_replicas is not None:
        spec["minReplicas"] = min_replicas
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": f"{target}-hpa", "namespace": namespace},
            "spec": spec}


def test_every_rule_is_documented():
    rules = all_rules()
    assert {"resource-requests", "resource-limits", "qos-best-effort", "critical-spread", "critical-pdb",
            "bare-pod", "critical-qos", "critical-replicas"} | NEW_RULES <= set(rules)
    for rule_id, module in rules.items():
        assert module.ID == rule_id and module.HINT and len(documentation(module).splitlines()) >= 3


def test_clean_deployment_has_no_findings():
    assert rules_of(run_lint(deployment(), pdb())) == []
    assert rules_of(run_lint(deployment(replicas=1))) == []


# --- resources ----------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["cpu", "memory", "ephemeral-storage"])
def test_resource_requests_and_limits_each_resource_in_strict(field):
    partial = {k: v for k, v in FULL.items() if k != field}
    result = run_lint(deployment(containers=[container(requests=partial, limits=partial)]), pdb(), profile="strict")
    assert rules_of(result) == ["resource-limits", "resource-requests"]
    assert all(field in f.message and f.container == "app" for f in result.findings)


def test_default_profile_requires_cpu_memory_requests_and_memory_limit_only():
    only_requests = container(requests={"cpu": "100m", "memory": "128Mi"}, limits={"memory": "128Mi"})
    assert rules_of(run_lint(deployment(containers=[only_requests], replicas=1))) == []
    no_memory_limit = container(requests={"cpu": "100m", "memory": "128Mi"}, limits=None)
    result = run_lint(deployment(containers=[no_memory_limit], replicas=1))
    assert [(f.rule, f.message) for f in result.findings] == [("resource-limits", "container 'app' has no limits for memory")]


def test_ignore_and_require_resource_checks():
    c = container(requests={"cpu": "100m", "memory": "128Mi"}, limits={"memory": "128Mi"})
    obj = deployment(containers=[c], replicas=1)
    assert rules_of(run_lint(obj, profile="strict")) == ["resource-limits", "resource-requests"]
    relaxed = run_lint(obj, profile="strict", ignore=("cpu-limit", "ephemeral-storage-limit", "ephemeral-storage-request"))
    assert rules_of(relaxed) == []
    stricter = run_lint(obj, require=("ephemeral-storage-limit",))
    assert [f.message for f in stricter.findings] == ["container 'app' has no limits for ephemeral-storage"]
    assert rules_of(run_lint(deployment(containers=[container(requests=None, limits=None)], replicas=1), ignore=("resource-requests",))) \
        == ["qos-best-effort", "resource-limits"]


def test_requests_defaulted_from_limits_count_as_set():
    result = run_lint(deployment(containers=[container(requests=None, limits=FULL)]), pdb(), profile="strict")
    assert rules_of(result) == []


def test_pod_level_resources_cover_the_containers():
    """Issue 13: the pod level sets memory; containers are not 'missing' it."""
    obj = deployment(replicas=1, containers=[container(requests={"cpu": "500m"}, limits=None)],
                     spec_extra={"resources": {"limits": {"cpu": "1", "memory": "1Gi"}}})
    result = run_lint(obj)
    assert rules_of(result) == []
    assert result.workloads[0].qos == "Burstable"  # pod requests default to the containers' 500m, not 1
    uncovered = deployment(replicas=1, containers=[container(requests={"cpu": "500m"}, limits=None)],
                           spec_extra={"resources": {"limits": {"cpu": "1"}}})
    assert [f.message for f in run_lint(uncovered).findings] == [
        "container 'app' has no limits for memory (nor at pod level)", "container 'app' has no requests for memory (nor at pod level)"]


def test_init_containers_and_sidecars_are_checked():
    sidecar = {**container("proxy", requests=None, limits=None), "restartPolicy": "Always"}
    obj = deployment(spec_extra={"initContainers": [container("migrate", requests=None, limits=None), sidecar]}, replicas=1)
    result = run_lint(obj)
    assert {(f.rule, f.container) for f in result.findings} >= {("resource-requests", "migrate"), ("resource-limits", "migrate"),
                                                                ("resource-requests", "proxy")}
    messages = [f.message for f in result.findings]
    assert any(m.startswith("init container 'migrate'") for m in messages)
    assert any(m.startswith("sidecar container 'proxy'") for m in messages)


def test_best_effort_is_a_finding_and_burstable_is_not():
    assert "qos-best-effort" in rules_of(run_lint(deployment(containers=[container(requests=None, limits=None)])))
    assert "qos-best-effort" not in rules_of(run_lint(deployment(containers=[container(requests={"cpu": "1"}, limits=None)])))


def test_invalid_quantity_refuses_only_that_workload():
    bad = deployment("bad", containers=[container(requests={"cpu": "lots"})])
    result = run_lint(bad, deployment("good", replicas=1))
    assert [w.name for w in result.workloads] == ["good"]
    (problem,) = result.problems
    assert (problem.level, problem.reason, problem.line) == ("error", "invalid-quantity", 1)
    assert "Deployment bad: container 'app': cpu: invalid quantity 'lots'" in problem.message


# --- spreading ----------------------------------------------------------------------------------


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


def _term(selector: dict, key: str = "kubernetes.io/hostname", **extra) -> dict:
    return {**CRITICAL, "affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"topologyKey": key, "labelSelector": selector, **extra}]}}}


@pytest.mark.parametrize("extra,spreads", [
    (_term({"matchLabels": {"app": "other"}}), False),
    (_term({"matchExpressions": [{"key": "app", "operator": "In", "values": ["web"]}]}), True),
    (_term({"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["web"]}]}), False),
    (_term({}), True),  # an empty selector selects every pod, its own included
    (_term({"matchLabels": {"app": "web"}}, namespaces=["other"]), False),
    (_term({"matchLabels": {"app": "web"}}, namespaces=["prod"]), True),
    (_term({"matchLabels": {"app": "web"}}, mismatchLabelKeys=["app"]), False),
    (_term({"matchLabels": {"app": "web"}}, matchLabelKeys=["pod-template-hash"]), True),
    ({**CRITICAL, "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "DoNotSchedule"}]}, False),
    ({**CRITICAL, "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "DoNotSchedule",
                                                  "labelSelector": {"matchLabels": {"app": "db"}}}]}, False),
    ({**CRITICAL, "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "DoNotSchedule",
                                                  "labelSelector": {"matchLabels": {"app": "web"}}}]}, False),
])
def test_spread_counts_only_terms_that_select_the_workloads_own_pods_on_nodes(extra, spreads):
    result = run_lint(deployment(spec_extra=extra), pdb())
    assert ("critical-spread" not in rules_of(result)) is spreads


def test_spread_across_zones_by_profile_setting():
    zonal = {**CRITICAL, "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
                                                         "whenUnsatisfiable": "ScheduleAnyway", "labelSelector": {"matchLabels": {"app": "web"}}}]}
    assert "critical-spread" not in rules_of(run_lint(deployment(spec_extra=zonal), pdb(), spread="zone"))
    node_only = run_lint(deployment(spec_extra={**CRITICAL, **REQUIRED_SPREAD}), pdb(), spread="zone")
    (finding,) = [f for f in node_only.findings if f.rule == "critical-spread"]
    assert "across zones" in finding.message and "podAntiAffinity on kubernetes.io/hostname does not spread across zones" in finding.message


def test_zookeeper_example_of_kubernetes_website_does_not_spread():
    """Issue 13: the published zookeeper StatefulSet selects app=zk; its pods are app.kubernetes.io/name=zk."""
    loaded = load_paths([str(CORPUS / "kubernetes-website/content/en/examples/application/zookeeper/zookeeper.yaml")])
    result = lint(loaded, Options(critical_selector="app.kubernetes.io/name=zk"))
    (finding,) = [f for f in result.findings if f.rule == "critical-spread"]
    assert finding.name == "zk" and "selects none of its own pods (labels app.kubernetes.io/name=zk)" in finding.message
    assert "critical-pdb" not in rules_of(result)  # zk-pdb in the same file selects the pods


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


# --- selectors ----------------------------------------------------------------------------------


def test_selector_mismatch():
    obj = deployment()
    obj["spec"]["selector"] = {"matchLabels": {"app": "webb"}}
    result = run_lint(obj, pdb())
    (finding,) = [f for f in result.findings if f.rule == "selector-mismatch"]
    assert finding.severity == "error" and "{app: web}" in finding.message
    missing = deployment()
    del missing["spec"]["selector"]
    assert "selector-mismatch" in rules_of(run_lint(missing))
    missing["apiVersion"] = "extensions/v1beta1"  # defaulted from the template labels there
    assert "selector-mismatch" not in rules_of(run_lint(missing))
    empty = deployment()
    empty["spec"]["selector"] = {}
    assert "selector-mismatch" in rules_of(run_lint(empty))
    rc = deployment(kind="ReplicationController")
    rc["apiVersion"], rc["spec"]["selector"] = "v1", {"app": "web", "tier": "x"}
    assert "selector-mismatch" in rules_of(run_lint(rc))
    rc["spec"]["selector"] = {"app": "web"}
    assert "selector-mismatch" not in rules_of(run_lint(rc))


# --- PodDisruptionBudgets -----------------------------------------------------------------------


def test_critical_pdb_needs_matching_pdb_in_same_namespace():
    obj = deployment(spec_extra={**CRITICAL, **SPREAD})
    assert "critical-pdb" in rules_of(run_lint(obj))
    assert "critical-pdb" not in rules_of(run_lint(obj, pdb()))
    assert "critical-pdb" in rules_of(run_lint(obj, pdb(namespace="other")))
    assert "critical-pdb" in rules_of(run_lint(obj, pdb(match={"app": "other"})))
    assert "critical-pdb" not in rules_of(run_lint(deployment(replicas=1, spec_extra=CRITICAL)))


def test_pdb_missing_for_every_multi_replica_workload_but_critical_ones():
    assert "pdb-missing" in rules_of(run_lint(deployment()))
    assert "pdb-missing" not in rules_of(run_lint(deployment(), pdb()))
    assert "pdb-missing" not in rules_of(run_lint(deployment(replicas=1)))
    critical = rules_of(run_lint(deployment(spec_extra={**CRITICAL, **SPREAD})))
    assert "critical-pdb" in critical and "pdb-missing" not in critical
    empty_selector = pdb()
    empty_selector["spec"]["selector"] = {}  # policy/v1: every pod of the namespace
    assert "pdb-missing" not in rules_of(run_lint(deployment(), empty_selector))


@pytest.mark.parametrize("budget,replicas,blocked", [
    ({"maxUnavailable": 0}, 3, True),
    ({"maxUnavailable": "0%"}, 3, True),
    ({"maxUnavailable": 1}, 3, False),
    ({"maxUnavailable": "10%"}, 3, False),  # rounds up to 1
    ({"minAvailable": 3}, 3, True),
    ({"minAvailable": 2}, 3, False),
    ({"minAvailable": "100%"}, 3, True),
    ({"minAvailable": "67%"}, 3, True),  # ceil(2.01) = 3
    ({"minAvailable": "60%"}, 3, False),  # ceil(1.8) = 2
    ({"minAvailable": 1}, 1, True),
])
def test_pdb_sanity_blocking_budgets(budget, replicas, blocked):
    budget_obj = pdb()
    budget_obj["spec"] = {"selector": {"matchLabels": {"app": "web"}}, **budget}
    result = run_lint(deployment(replicas=replicas), budget_obj)
    found = [f for f in result.findings if f.rule == "pdb-sanity"]
    assert bool(found) is blocked
    if found:  # reported on the PDB, not on the Deployment
        assert (found[0].kind, found[0].name) == ("PodDisruptionBudget", "web") and "Deployment web" in found[0].message


def test_pdb_sanity_two_pdbs_and_line_of_the_pdb():
    first, second = pdb("a", match={"app": "web"}), pdb("b")
    second["spec"] = {"maxUnavailable": 0, "selector": {"matchLabels": {"app": "web"}}}
    text = to_yaml(deployment(), first, second)
    result = lint(parse_text(text, "p.yaml"))
    sanity = [f for f in result.findings if f.rule == "pdb-sanity"]
    assert {(f.kind, f.name) for f in sanity} == {("Deployment", "web"), ("PodDisruptionBudget", "b")}
    two = next(f for f in sanity if f.kind == "Deployment")
    assert two.message.startswith("2 PodDisruptionBudgets select its pods (a, b)")
    on_pdb = next(f for f in sanity if f.kind == "PodDisruptionBudget")
    assert text.splitlines()[on_pdb.line - 1] == "  maxUnavailable: 0"  # the first line of b's spec


def test_pdb_annotation_suppresses_findings_about_it():
    budget = pdb()
    budget["spec"] = {"maxUnavailable": 0, "selector": {"matchLabels": {"app": "web"}}}
    budget["metadata"]["annotations"] = {"kubekeeper.io/lint-ignore": "pdb-sanity"}
    assert "pdb-sanity" not in rules_of(run_lint(deployment(), budget))


# --- HorizontalPodAutoscalers -------------------------------------------------------------------


def test_hpa_min_replicas_decides_and_replicas_next_to_an_hpa_is_flagged():
    single = deployment(replicas=1, spec_extra={**CRITICAL, **SPREAD})
    result = run_lint(single, hpa(min_replicas=3))
    assert result.workloads[0].replicas == 3 and result.workloads[0].replicas_source == "minReplicas of HPA web-hpa"
    assert {"critical-pdb", "hpa-replicas"} <= set(rules_of(result))
    (finding,) = [f for f in result.findings if f.rule == "hpa-replicas"]
    assert finding.message == "spec.replicas: 1 is set while HPA web-hpa scales this Deployment: every apply resets it to 1"
    without = deployment(replicas=None, spec_extra={**CRITICAL, **SPREAD})
    assert "hpa-replicas" not in rules_of(run_lint(without, hpa(min_replicas=None), pdb()))
    assert run_lint(without, hpa(min_replicas=None)).workloads[0].replicas == 1  # minReplicas defaults to 1
    assert "hpa-replicas" not in rules_of(run_lint(single, hpa(namespace="other")))
    assert "hpa-replicas" not in rules_of(run_lint(single, hpa(target="api")))


def test_hpa_replicas_on_live_objects_reads_last_applied_configuration():
    live = deployment(replicas=4)
    applied = {"spec": {"replicas": 2}}
    live["metadata"]["annotations"] = {"kubectl.kubernetes.io/last-applied-configuration": json.dumps(applied)}
    objects = [Manifest(live, "/apis/apps/v1/namespaces/prod/deployments/web", None, live=True),
               Manifest(hpa(), "/apis/autoscaling/v2/namespaces/prod/horizontalpodautoscalers/web-hpa", None, live=True)]
    (finding,) = [f for f in lint(objects).findings if f.rule == "hpa-replicas"]
    assert "spec.replicas: 2 is set" in finding.message
    del live["metadata"]["annotations"]  # server-side apply: the API's own replicas are not the author's
    assert not [f for f in lint(objects).findings if f.rule == "hpa-replicas"]


def test_hpa_example_of_kubernetes_website_with_its_deployment(write):
    """The website's HPA walkthrough: php-apache Deployment (no replicas) and an HPA, minReplicas 1."""
    hpa_file = CORPUS / "kubernetes-website/content/en/examples/application/hpa/php-apache.yaml"
    deploy = deployment("php-apache", namespace=None, replicas=None, containers=[container(requests={"cpu": "200m"}, limits={"cpu": "500m"})])
    path = write("php-apache-deploy.yaml", to_yaml(deploy))
    result = lint(load_paths([str(hpa_file), str(path)]))
    (workload,) = result.workloads
    assert workload.hpa is not None and workload.replicas == 1 and "hpa-replicas" not in rules_of(result)


# --- Jobs, CronJobs, priority -------------------------------------------------------------------


def _job(kind: str, **spec) -> dict:
    template = {"spec": {"restartPolicy": "Never", "containers": [container()]}}
    if kind == "Job":
        return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"}, "spec": {"template": template, **spec}}
    return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "cj"},
            "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": template}}, **spec}}


def test_job_ttl_and_cronjob_deadline():
    assert rules_of(run_lint(_job("Job"))) == ["job-ttl"]
    assert rules_of(run_lint(_job("Job", ttlSecondsAfterFinished=3600))) == []
    assert rules_of(run_lint(_job("CronJob"))) == ["cronjob-deadline"]
    assert rules_of(run_lint(_job("CronJob", startingDeadlineSeconds=600))) == []
    owned = _job("Job")
    owned["metadata"]["ownerReferences"] = [{"apiVersion": "batch/v1", "kind": "CronJob", "name": "cj", "uid": "u", "controller": True}]
    assert rules_of(run_lint(owned)) == []  # linted through its CronJob


def test_critical_priority_class():
    result = run_lint(deployment(namespace="kube-system", replicas=1))
    assert rules_of(result) == ["critical-priority-class"]
    assert rules_of(run_lint(deployment(namespace="kube-system", replicas=1, spec_extra={"priorityClassName": "infra"}))) == []
    assert rules_of(run_lint(deployment(replicas=1, labels={"tier": "core"}), critical_selector="tier=core")) == ["critical-priority-class"]


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


def test_workload_without_containers_is_skipped_with_a_note():
    patch = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": 5}}
    result = run_lint(patch)
    assert result.workloads == [] and [(p.level, p.reason) for p in result.problems] == [("note", "incomplete-workload")]
