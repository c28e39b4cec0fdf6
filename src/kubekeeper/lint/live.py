"""Read workloads, PodDisruptionBudgets and HorizontalPodAutoscalers from a live cluster with the official `kubernetes` client.

Lists are requested raw (`_preload_content=False`) and parsed as JSON: the client's model objects
would rename every field to snake_case and cost far more than the lint itself. Namespaces follow
kubectl: `--all-namespaces`, else `-n`, else the kubeconfig context's namespace, else `default`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from kubekeeper.errors import BadInput, OperationFailed
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


def _api_client(selection: ClusterSelection) -> tuple[Any, str | None]:
    """An ApiClient for the selected context and that context's namespace."""
    from kubernetes import client, config
    from kubernetes.config.config_exception import ConfigException

    from kubekeeper.volumes.kube import KUBECONFIG_PARSE_ERRORS, kubeconfig_unreadable

    try:
        contexts, active = config.list_kube_config_contexts(config_file=selection.kubeconfig)
        chosen = next((c for c in contexts if c["name"] == selection.context), None) if selection.context else active
        if selection.context and chosen is None:
            raise BadInput(f"context {selection.context!r} not found in the kubeconfig")
        api = config.new_client_from_config(config_file=selection.kubeconfig, context=selection.context)
    except (ConfigException, FileNotFoundError, OSError) as exc:
        raise BadInput(f"kubeconfig: {exc}") from None
    except KUBECONFIG_PARSE_ERRORS as exc:
        raise kubeconfig_unreadable(selection.kubeconfig, exc) from None
    context_namespace = (chosen or {}).get("context", {}).get("namespace")
    assert isinstance(api, client.ApiClient)
    return api, context_namespace


def _list(api: Any, resource: Resource, namespace: str | None) -> list[dict[str, Any]]:
    """Every object of a resource, following `continue` tokens; each gets its kind and apiVersion."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

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
    api, context_namespace = _api_client(selection)
    namespace = None if selection.all_namespaces else (selection.namespace or context_namespace or "default")
    manifests: list[Manifest] = []
    try:
        for resource in RESOURCES:
            for item in _list(api, resource, namespace):
                manifests.append(Manifest(item, object_uri(resource, item), None, live=True))
    finally:
        api.close()
    return manifests
