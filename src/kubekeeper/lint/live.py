"""Read workloads, PodDisruptionBudgets and HorizontalPodAutoscalers from a live cluster with the official `kubernetes` client.

The connection is kubekeeper.kubeapi's (kubeconfig and context, or the pod's service account).
Lists are requested raw (`_preload_content=False`) and parsed as JSON: the client's model objects
would rename every field to snake_case and cost far more than the lint itself. Namespaces follow
kubectl: `--all-namespaces`, else `-n`, else the context's (or the service account's) namespace,
else `default`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from kubekeeper.errors import OperationFailed
from kubekeeper.kubeapi import KubeAccess, connect
from kubekeeper.lint.model import Manifest

PAGE_SIZE = 500


@dataclass(frozen=True, slots=True)
class Resource:
    kind: str
    api_version: str
    plural: str
    api_class: str  # kubernetes.client API class with list_<snake>_for_all_namespaces / list_namespaced_<snake>
    snake: str

    def path(self, namespace: str | None) -> str:
        base = "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"
        return f"{base}/namespaces/{namespace}/{self.plural}" if namespace else f"{base}/{self.plural}"


RESOURCES = (
    Resource("Pod", "v1", "pods", "CoreV1Api", "pod"),
    Resource("ReplicationController", "v1", "replicationcontrollers", "CoreV1Api", "replication_controller"),
    Resource("Deployment", "apps/v1", "deployments", "AppsV1Api", "deployment"),
    Resource("StatefulSet", "apps/v1", "statefulsets", "AppsV1Api", "stateful_set"),
    Resource("DaemonSet", "apps/v1", "daemonsets", "AppsV1Api", "daemon_set"),
    Resource("ReplicaSet", "apps/v1", "replicasets", "AppsV1Api", "replica_set"),
    Resource("Job", "batch/v1", "jobs", "BatchV1Api", "job"),
    Resource("CronJob", "batch/v1", "cronjobs", "BatchV1Api", "cron_job"),
    Resource("PodDisruptionBudget", "policy/v1", "poddisruptionbudgets", "PolicyV1Api", "pod_disruption_budget"),
    Resource("HorizontalPodAutoscaler", "autoscaling/v2", "horizontalpodautoscalers", "AutoscalingV2Api",
             "horizontal_pod_autoscaler"),
)


@dataclass(frozen=True, slots=True)
class ClusterSelection:
    kubeconfig: str | None = None
    context: str | None = None
    namespace: str | None = None
    all_namespaces: bool = False


def _list(api: Any, resource: Resource, namespace: str | None) -> list[dict[str, Any]]:
    """Every object of a resource, following `continue` tokens; each gets its kind and apiVersion."""
    typed = getattr(client, resource.api_class)(api)
    args: tuple[str, ...] = (namespace,) if namespace else ()
    method = getattr(typed, f"list_namespaced_{resource.snake}" if namespace else f"list_{resource.snake}_for_all_namespaces")
    items: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        paging: dict[str, Any] = {"limit": PAGE_SIZE, **({"_continue": token} if token else {})}
        try:
            # raw JSON: typed models would rename every field and cost more than the lint itself
            body = method(*args, **paging, _preload_content=False, _request_timeout=60)
        except ApiException as exc:
            if exc.status == 404:
                return items  # resource not served by this cluster (e.g. an old API version)
            raise OperationFailed(f"listing {resource.plural} failed: HTTP {exc.status} {exc.reason}") from None
        except Exception as exc:  # urllib3 connection errors and the like
            raise OperationFailed(f"cannot reach the Kubernetes API: {type(exc).__name__}: {exc}") from None
        try:
            document = json.loads(body.data)
        except ValueError:
            raise OperationFailed(f"listing {resource.plural}: the API returned something that is not JSON") from None
        for item in document.get("items") or []:
            if isinstance(item, dict):
                item.setdefault("kind", resource.kind)  # list items carry no kind/apiVersion
                item.setdefault("apiVersion", resource.api_version)
                items.append(item)
        token = (document.get("metadata") or {}).get("continue")
        if not token:
            return items


def object_uri(resource: Resource, item: dict[str, Any]) -> str:
    metadata = item.get("metadata") or {}
    return f"{resource.path(metadata.get('namespace'))}/{metadata.get('name', '')}"


def load_cluster(selection: ClusterSelection) -> list[Manifest]:
    """Workloads, PDBs and HPAs from the API, as manifests whose `file` is the object's API path."""
    access = KubeAccess(Path(selection.kubeconfig) if selection.kubeconfig else None, selection.context)
    manifests: list[Manifest] = []
    with connect(access) as connection:
        namespace = None if selection.all_namespaces else (selection.namespace or connection.namespace or "default")
        for resource in RESOURCES:
            for item in _list(connection.api, resource, namespace):
                manifests.append(Manifest(item, object_uri(resource, item), None, live=True))
    return manifests
