"""What volume backup, restore and the dispatcher ask the Kubernetes API, through the official client
(connected by kubekeeper.kubeapi: kubeconfig and context, or the in-cluster service account). Objects
come back as the API's own JSON dicts, so they can be stored as-is and resolution stays pure and
testable.

Cost matters at 5,000 nodes: a node reads its own pods with one field-selected LIST
(`spec.nodeName`), then GETs only the PVCs and PVs those pods use; lists are paginated (`limit` +
`continue`) so no response holds a whole cluster."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException
from kubernetes.stream import stream
from urllib3.exceptions import HTTPError

from kubekeeper.errors import OperationFailed
from kubekeeper.kubeapi import Connection, KubeAccess, connect
from kubekeeper.volumes.model import PvcRef

log = logging.getLogger(__name__)

#: items per LIST page: the API server's own default for `kubectl get` chunks
PAGE_SIZE = 500
#: pods that hold their volumes mounted (kubelet mounts before the containers start: Running)
RUNNING = "status.phase=Running"


@contextmanager
def _api_errors(what: str) -> Iterator[None]:
    """Client exceptions -> one-line kubekeeper errors (never a traceback)."""
    try:
        yield
    except ApiException as exc:
        if exc.status in (401, 403):
            raise OperationFailed(f"Kubernetes API refused {what}: {exc.status} {exc.reason} (check the RBAC of this user/service account)") from exc
        raise OperationFailed(f"Kubernetes API error during {what}: {exc.status} {exc.reason}") from exc
    except (HTTPError, OSError) as exc:
        raise OperationFailed(f"Kubernetes API unreachable during {what}: {exc}") from exc


class Cluster:
    """A connection to one cluster's API server (client objects are built per instance)."""

    def __init__(self, connection: Connection) -> None:
        self.host = connection.host
        self.api_client = connection.api
        # Any: the client's annotations describe its model objects; these calls send the API's own JSON
        # dicts and read raw responses (_preload_content=False), which the client supports but does not type
        self.core: Any = client.CoreV1Api(self.api_client)
        self.batch: Any = client.BatchV1Api(self.api_client)
        self._pods: dict[str, list[dict[str, Any]]] = {}
        self._node_pods: dict[tuple[str, str | None], list[dict[str, Any]]] = {}

    @classmethod
    def connect(cls, access: KubeAccess) -> Cluster:
        return cls(connect(access))

    def _json(self, method: Callable[..., Any], *args: object, what: str, **kw: object) -> dict[str, Any] | None:
        with _api_errors(what):
            try:
                response = method(*args, _preload_content=False, **kw)
            except ApiException as exc:
                if exc.status == 404:
                    return None
                raise
            doc: dict[str, Any] = json.loads(response.data)
            return doc

    def _list(self, method: Callable[..., Any], *args: object, kind: str, what: str, **kw: object) -> list[dict[str, Any]]:
        """Every item of a LIST, page by page; a `continue` token that expired (410) restarts it."""
        for _ in range(3):
            items: list[dict[str, Any]] = []
            token: str | None = None
            try:
                while True:
                    page_kw = {**kw, "limit": PAGE_SIZE}
                    if token:
                        page_kw["_continue"] = token
                    doc = self._json(method, *args, what=what, **page_kw)
                    items.extend(_items(doc, kind))
                    token = ((doc or {}).get("metadata") or {}).get("continue")
                    if not token:
                        return items
            except OperationFailed as exc:
                cause = exc.__cause__
                if not (token and isinstance(cause, ApiException) and cause.status == 410):
                    raise
                log.warning("%s: the list changed too much while paging (410 Gone); listing again", what)
        raise OperationFailed(f"Kubernetes API error during {what}: the list kept expiring while paging")

    def get_pvc(self, ref: PvcRef) -> dict[str, Any] | None:
        return self._json(self.core.read_namespaced_persistent_volume_claim, ref.name, ref.namespace, what=f"reading PVC {ref}")

    def list_pvcs(self, namespace: str | None = None) -> list[dict[str, Any]]:
        if namespace:
            return self._list(self.core.list_namespaced_persistent_volume_claim, namespace, kind="PersistentVolumeClaim", what=f"listing PVCs in {namespace}")
        return self._list(self.core.list_persistent_volume_claim_for_all_namespaces, kind="PersistentVolumeClaim", what="listing PVCs")

    def get_pv(self, name: str) -> dict[str, Any] | None:
        return self._json(self.core.read_persistent_volume, name, what=f"reading PV {name}")

    def list_pvs(self) -> list[dict[str, Any]]:
        return self._list(self.core.list_persistent_volume, kind="PersistentVolume", what="listing PVs")

    def pods(self, namespace: str, refresh: bool = False) -> list[dict[str, Any]]:
        """Pods of a namespace (cached). Only to say where a PVC named on the command line is mounted
        when it is not mounted here; a node's own run never lists a namespace."""
        if refresh or namespace not in self._pods:
            self._pods[namespace] = self._list(self.core.list_namespaced_pod, namespace, kind="Pod", what=f"listing pods in {namespace}")
        return self._pods[namespace]

    def pods_on_node(self, node: str, namespace: str | None = None, refresh: bool = False) -> list[dict[str, Any]]:
        """Running pods on `node` (of `namespace`): one field-selected LIST, cached for the run."""
        key = (node, namespace)
        if refresh or key not in self._node_pods:
            selector = f"spec.nodeName={node},{RUNNING}"
            what = f"listing pods on node {node}"
            if namespace:
                found = self._list(self.core.list_namespaced_pod, namespace, kind="Pod", what=what, field_selector=selector)
            else:
                found = self._list(self.core.list_pod_for_all_namespaces, kind="Pod", what=what, field_selector=selector)
            self._node_pods[key] = found
        return self._node_pods[key]

    def running_pods(self) -> list[dict[str, Any]]:
        """Every running pod of the cluster, paginated (the volume dispatcher's one pass per cycle)."""
        return self._list(self.core.list_pod_for_all_namespaces, kind="Pod", what="listing running pods", field_selector=RUNNING)

    def create_job(self, namespace: str, body: dict[str, Any]) -> bool:
        """Create a Job; False if one of that name exists already (a dispatcher that ran again)."""
        name = body["metadata"]["name"]
        with _api_errors(f"creating Job {namespace}/{name}"):
            try:
                self.batch.create_namespaced_job(namespace, body, _preload_content=False)
            except ApiException as exc:
                if exc.status == 409:
                    return False
                raise
        return True

    def create_pvc(self, body: dict[str, Any]) -> dict[str, Any]:
        ns = body["metadata"]["namespace"]
        with _api_errors(f"creating PVC {ns}/{body['metadata']['name']}"):
            created: dict[str, Any] = json.loads(self.core.create_namespaced_persistent_volume_claim(ns, body, _preload_content=False).data)
            return created

    def create_pv(self, body: dict[str, Any]) -> dict[str, Any]:
        with _api_errors(f"creating PV {body['metadata']['name']}"):
            created: dict[str, Any] = json.loads(self.core.create_persistent_volume(body, _preload_content=False).data)
            return created

    def exec(self, namespace: str, pod: str, container: str, command: tuple[str, ...], timeout: float) -> tuple[int, str]:
        """Run a command in a container through the API's exec (websocket); (status, output)."""
        with _api_errors(f"exec in {namespace}/{pod}"):
            resp = stream(
                self.core.connect_get_namespaced_pod_exec, pod, namespace, container=container, command=list(command),
                stderr=True, stdin=False, stdout=True, tty=False, _preload_content=False,
            )
            resp.run_forever(timeout=timeout)
            output = resp.read_stdout() + resp.read_stderr()
            status = resp.returncode
            resp.close()
        if status is None:
            raise OperationFailed(f"hook in {namespace}/{pod}[{container}] did not finish within {timeout:g}s")
        return int(status), output


def _items(doc: dict[str, Any] | None, kind: str) -> list[dict[str, Any]]:
    """List items lack kind/apiVersion; put them back so stored objects are complete manifests."""
    items = (doc or {}).get("items") or []
    for item in items:
        item.setdefault("kind", kind)
        item.setdefault("apiVersion", "v1")
    return items
