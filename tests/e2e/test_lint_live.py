"""`kubekeeper lint --cluster` against a Kubernetes API stand-in.

No Kubernetes API server can run here, so kmock (a well-kept API mock) stands in for the API server:
it serves list responses shaped like the real ones (`kind: DeploymentList`, `metadata.resourceVersion`,
items without kind/apiVersion, a `continue` token across pages). The official `kubernetes` client,
the kubeconfig handling and the whole lint pipeline are the real ones.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import kmock
import pytest
import yaml

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio, pytest.mark.kmock(cls=kmock.KubernetesScaffold)]

KINDS = {  # path piece -> (list kind, apiVersion)
    "api/v1/pods": ("PodList", "v1"),
    "api/v1/replicationcontrollers": ("ReplicationControllerList", "v1"),
    "apis/apps/v1/deployments": ("DeploymentList", "apps/v1"),
    "apis/apps/v1/statefulsets": ("StatefulSetList", "apps/v1"),
    "apis/apps/v1/daemonsets": ("DaemonSetList", "apps/v1"),
    "apis/apps/v1/replicasets": ("ReplicaSetList", "apps/v1"),
    "apis/batch/v1/jobs": ("JobList", "batch/v1"),
    "apis/batch/v1/cronjobs": ("CronJobList", "batch/v1"),
    "apis/policy/v1/poddisruptionbudgets": ("PodDisruptionBudgetList", "policy/v1"),
    "apis/autoscaling/v2/horizontalpodautoscalers": ("HorizontalPodAutoscalerList", "autoscaling/v2"),
}


def meta(name: str, namespace: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "namespace": namespace, "uid": f"uid-{namespace}-{name}", "resourceVersion": "4711",
            "creationTimestamp": "2025-01-01T00:00:00Z", **extra}


def template(app: str, resources: dict | None, **spec: Any) -> dict[str, Any]:
    c = {"name": app, "image": f"registry.k8s.io/{app}:v1", "imagePullPolicy": "IfNotPresent",
         "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"}
    if resources is not None:
        c["resources"] = resources
    return {"metadata": {"creationTimestamp": None, "labels": {"k8s-app": app}},
            "spec": {"containers": [c], "restartPolicy": "Always", "dnsPolicy": "ClusterFirst", "schedulerName": "default-scheduler", **spec}}


GUARANTEED = {"requests": {"cpu": "100m", "memory": "70Mi", "ephemeral-storage": "100Mi"},
              "limits": {"cpu": "100m", "memory": "70Mi", "ephemeral-storage": "100Mi"}}

COREDNS = {"metadata": meta("coredns", "kube-system", generation=1, labels={"k8s-app": "kube-dns"}),
           "spec": {"replicas": 2, "selector": {"matchLabels": {"k8s-app": "coredns"}},
                    "template": template("coredns", GUARANTEED, priorityClassName="system-cluster-critical")},
           "status": {"replicas": 2, "readyReplicas": 2}}
WEB = {"metadata": meta("web", "shop"), "spec": {"replicas": 3, "selector": {"matchLabels": {"k8s-app": "web"}},
                                                "template": template("web", None)}}
OWNED_POD = {"metadata": meta("coredns-5d78c9869d-abcde", "kube-system", ownerReferences=[
    {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "coredns-5d78c9869d", "uid": "u", "controller": True, "blockOwnerDeletion": True}]),
    "spec": template("coredns", GUARANTEED)["spec"], "status": {"phase": "Running", "qosClass": "Guaranteed"}}
BARE_POD = {"metadata": meta("debug", "shop"), "spec": template("debug", None)["spec"], "status": {"phase": "Running", "qosClass": "BestEffort"}}


def list_response(path: str, items: list[dict[str, Any]], cont: str | None = None) -> dict[str, Any]:
    kind, api_version = KINDS[path]
    metadata: dict[str, Any] = {"resourceVersion": "12345"}
    if cont:
        metadata["continue"] = cont
    return {"kind": kind, "apiVersion": api_version, "metadata": metadata, "items": items}


def serve(mock: Any, namespaced: str | None, objects: dict[str, list[dict[str, Any]]]) -> None:
    """Register a list reaction for every resource kubekeeper reads (cluster-wide or one namespace)."""
    for path in KINDS:
        items = objects.get(path, [])
        if namespaced:
            items = [i for i in items if i["metadata"]["namespace"] == namespaced]
            prefix, plural = path.rsplit("/", 1)
            url = f"/{prefix}/namespaces/{namespaced}/{plural}"
        else:
            url = f"/{path}"
        if path == "apis/apps/v1/deployments" and len(items) > 1:  # two pages, like a real paginated list
            first, rest = items[:1], items[1:]
            mock["get", url, kmock.params({"continue": "page2"})] << list_response(path, rest)
            mock["get", url] << list_response(path, first, cont="page2")
        else:
            mock["get", url] << list_response(path, items)


def kubeconfig(tmp_path, url: str, namespace: str | None = None) -> str:
    context: dict[str, Any] = {"cluster": "mock", "user": "u"}
    if namespace:
        context["namespace"] = namespace
    config = {"apiVersion": "v1", "kind": "Config", "current-context": "mock",
              "clusters": [{"name": "mock", "cluster": {"server": url.rstrip("/")}}],
              "contexts": [{"name": "mock", "context": context}],
              "users": [{"name": "u", "user": {"token": "not-a-secret"}}]}
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return str(path)


OBJECTS = {
    "apis/apps/v1/deployments": [COREDNS, WEB],
    "api/v1/pods": [OWNED_POD, BARE_POD],
}


async def test_all_namespaces(kmock, cli, tmp_path):
    serve(kmock, None, OBJECTS)
    config = kubeconfig(tmp_path, str(kmock.url))
    result = await asyncio.to_thread(cli, "lint", "--cluster", "--kubeconfig", config, "-A", "--format", "json")
    assert result.code == 1, result.err
    document = json.loads(result.out)
    workloads = {(w["kind"], w["namespace"], w["name"]): w["qos"] for w in document["workloads"]}
    assert workloads == {("Deployment", "kube-system", "coredns"): "Guaranteed", ("Deployment", "shop", "web"): "BestEffort",
                         ("Pod", "shop", "debug"): "BestEffort"}  # the owned pod is linted through its controller
    findings = {(f["name"], f["rule"]) for f in document["findings"]}
    assert {("coredns", "critical-spread"), ("coredns", "critical-pdb"), ("web", "qos-best-effort"), ("debug", "bare-pod")} <= findings
    coredns = next(f for f in document["findings"] if f["name"] == "coredns")
    assert coredns["file"] == "/apis/apps/v1/namespaces/kube-system/deployments/coredns" and coredns["line"] is None


async def test_namespace_from_flag_and_pdb(kmock, cli, tmp_path):
    coredns = json.loads(json.dumps(COREDNS))
    coredns["spec"]["template"]["spec"]["topologySpreadConstraints"] = [
        {"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "DoNotSchedule",
         "labelSelector": {"matchLabels": {"k8s-app": "coredns"}}}]
    pdb = {"metadata": meta("coredns", "kube-system"), "spec": {"minAvailable": 1, "selector": {"matchLabels": {"k8s-app": "coredns"}}}}
    serve(kmock, "kube-system", {"apis/apps/v1/deployments": [coredns], "apis/policy/v1/poddisruptionbudgets": [pdb]})
    config = kubeconfig(tmp_path, str(kmock.url), namespace="shop")
    result = await asyncio.to_thread(cli, "lint", "--cluster", "--kubeconfig", config, "-n", "kube-system", "--format", "json")
    assert result.code == 0, (result.out, result.err)
    assert json.loads(result.out)["workloads"][0]["name"] == "coredns"


async def test_hpa_from_the_api(kmock, cli, tmp_path):
    """An HPA scaling `web`: its minReplicas decides, and the last-applied configuration shows the author
    also wrote spec.replicas (the live object always has it, so that alone proves nothing)."""
    web = json.loads(json.dumps(WEB))
    web["metadata"]["annotations"] = {"kubectl.kubernetes.io/last-applied-configuration": json.dumps(
        {"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"replicas": 3}})}
    hpa = {"metadata": meta("web", "shop"), "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                                                      "minReplicas": 4, "maxReplicas": 20}}
    serve(kmock, "shop", {"apis/apps/v1/deployments": [web], "apis/autoscaling/v2/horizontalpodautoscalers": [hpa]})
    config = kubeconfig(tmp_path, str(kmock.url), namespace="shop")
    result = await asyncio.to_thread(cli, "lint", "--cluster", "--kubeconfig", config, "--format", "json")
    document = json.loads(result.out)
    messages = {f["rule"]: f["message"] for f in document["findings"]}
    assert messages["hpa-replicas"].startswith("spec.replicas: 3 is set while HPA web scales this Deployment")
    assert messages["pdb-missing"].startswith("4 replicas (minReplicas of HPA web)")


async def test_unreachable_api_is_exit_3(kmock, cli, tmp_path):
    config = kubeconfig(tmp_path, "http://127.0.0.1:9")
    result = await asyncio.to_thread(cli, "lint", "--cluster", "--kubeconfig", config)
    assert result.code == 3 and "cannot reach the Kubernetes API" in result.err


async def test_missing_kubeconfig_is_exit_2(kmock, cli, tmp_path):
    result = await asyncio.to_thread(cli, "lint", "--cluster", "--kubeconfig", str(tmp_path / "nope"))
    assert result.code == 2
