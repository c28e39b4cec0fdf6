"""Render the in-cluster deployment: namespace, ServiceAccount with the least RBAC, a CronJob for etcd
and registry backups on a control-plane node, and a DaemonSet that backs up the volumes mounted on
each node (so thousands of nodes back up in parallel on the engine the cluster already runs).

Pure: options in, a list of API objects (dicts) out; `write` puts them in files.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from ruamel.yaml import YAML

from kubekeeper import urls
from kubekeeper.errors import BadInput
from kubekeeper.fsutil import write_atomic
from kubekeeper.names import check_cluster_name

APP = "kubekeeper"
SECRET = "kubekeeper-repository"  # keys: repository, password (created by the operator, never rendered)


@dataclass(frozen=True)
class DeployOptions:
    namespace: str = "kubekeeper-system"
    image: str = "ghcr.io/kubekeeper/kubekeeper:0.1.0"
    cluster: str = "default"
    schedule: str = "30 1 * * *"
    volume_interval_seconds: int = 86400
    etcd_endpoints: str = "https://127.0.0.1:2379"
    registry: str | None = None
    kubelet_root: str = "/var/lib/kubelet"
    concurrency: int = 2

    def __post_init__(self) -> None:
        """Values that go into the jobs' shell command lines are checked (and normalised) here, so a typo
        is exit 2 now rather than a CronJob failing in the cluster at night."""
        check_cluster_name(self.cluster)
        endpoints = [urls.parse_http_url(item, "--etcd-endpoints").origin
                     for item in self.etcd_endpoints.split(",") if item.strip()]
        if not endpoints:
            raise BadInput("--etcd-endpoints is empty")
        object.__setattr__(self, "etcd_endpoints", ",".join(endpoints))
        if self.registry is not None:
            from kubekeeper.registry.client import normalize_url

            object.__setattr__(self, "registry", normalize_url(self.registry)[0])


def _labels(component: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": APP, "app.kubernetes.io/component": component}


def _repo_env() -> list[dict]:
    return [
        {"name": "RESTIC_REPOSITORY", "valueFrom": {"secretKeyRef": {"name": SECRET, "key": "repository"}}},
        {"name": "RESTIC_PASSWORD_FILE", "value": "/etc/kubekeeper/repository/password"},
        {"name": "RESTIC_CACHE_DIR", "value": "/cache"},
    ]


def _security(read_any_file: bool) -> dict:
    caps = {"drop": ["ALL"]}
    if read_any_file:
        caps["add"] = ["DAC_READ_SEARCH"]  # read every volume's files whatever their owner
    return {"runAsUser": 0, "runAsNonRoot": False, "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "capabilities": caps}


def _common_volumes() -> list[dict]:
    return [
        {"name": "repository", "secret": {"secretName": SECRET, "items": [{"key": "password", "path": "password"}], "defaultMode": 0o400}},
        {"name": "cache", "emptyDir": {}},
        {"name": "tmp", "emptyDir": {}},
    ]


def _common_mounts() -> list[dict]:
    return [
        {"name": "repository", "mountPath": "/etc/kubekeeper/repository", "readOnly": True},
        {"name": "cache", "mountPath": "/cache"},
        {"name": "tmp", "mountPath": "/tmp"},
    ]


def namespace(o: DeployOptions) -> dict:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": o.namespace, "labels": {"pod-security.kubernetes.io/enforce": "privileged"}}}


def service_account(o: DeployOptions) -> dict:
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": APP, "namespace": o.namespace, "labels": _labels("rbac")}}


def cluster_role(o: DeployOptions) -> dict:
    """Read PVCs, PVs and pods to find volumes; exec into pods only for pre/post-backup hooks."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": APP, "labels": _labels("rbac")},
        "rules": [
            {"apiGroups": [""], "resources": ["persistentvolumeclaims", "persistentvolumes", "pods"], "verbs": ["get", "list"]},
            {"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create", "get"]},
        ],
    }


def cluster_role_binding(o: DeployOptions) -> dict:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": APP, "labels": _labels("rbac")},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": APP},
        "subjects": [{"kind": "ServiceAccount", "name": APP, "namespace": o.namespace}],
    }


def control_plane_cronjob(o: DeployOptions) -> dict:
    """etcd (+ registry) backups on a control-plane node, where kubeadm keeps the etcd client certs."""
    pki = "/etc/kubernetes/pki/etcd"
    script = [
        f"kubekeeper backup etcd --endpoints {o.etcd_endpoints} --cacert {pki}/ca.crt --cert {pki}/healthcheck-client.crt --key {pki}/healthcheck-client.key --cluster {o.cluster}",
    ]
    if o.registry:
        script.append(f"kubekeeper backup registry --registry {o.registry} --cluster {o.cluster}")
    container = {
        "name": "backup",
        "image": o.image,
        "command": ["/bin/sh", "-ec", " && ".join(script)],
        "env": _repo_env(),
        "volumeMounts": [*_common_mounts(), {"name": "etcd-pki", "mountPath": pki, "readOnly": True}],
        "securityContext": _security(False),
        "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}},
    }
    pod_spec = {
        "serviceAccountName": APP,
        "restartPolicy": "OnFailure",
        "hostNetwork": True,  # etcd listens on the node's loopback in kubeadm clusters
        "nodeSelector": {"node-role.kubernetes.io/control-plane": ""},
        "tolerations": [{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"}],
        "containers": [container],
        "volumes": [*_common_volumes(), {"name": "etcd-pki", "hostPath": {"path": pki, "type": "Directory"}}],
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": f"{APP}-control-plane", "namespace": o.namespace, "labels": _labels("control-plane-backup")},
        "spec": {
            "schedule": o.schedule,
            "concurrencyPolicy": "Forbid",
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 3,
            "jobTemplate": {"spec": {"backoffLimit": 2, "template": {"metadata": {"labels": _labels("control-plane-backup")}, "spec": pod_spec}}},
        },
    }


def volume_daemonset(o: DeployOptions) -> dict:
    """One pod per node backs up the PVCs mounted there; kubelet dir read-only with HostToContainer
    propagation so volumes mounted after the pod started are visible."""
    loop = (
        f"while true; do kubekeeper backup volume --all-pvcs --kubelet-root /host/kubelet --concurrency {o.concurrency} "
        f"--cluster {o.cluster} || echo 'volume backup failed; see above' >&2; sleep {o.volume_interval_seconds}; done"
    )
    container = {
        "name": "volume-backup",
        "image": o.image,
        "command": ["/bin/sh", "-c", loop],
        "env": [*_repo_env(), {"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
        "volumeMounts": [
            *_common_mounts(),
            {"name": "kubelet", "mountPath": "/host/kubelet", "readOnly": True, "mountPropagation": "HostToContainer"},
        ],
        "securityContext": _security(True),
        "resources": {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"memory": "2Gi"}},
    }
    pod_spec = {
        "serviceAccountName": APP,
        "priorityClassName": "system-node-critical",
        "tolerations": [{"operator": "Exists"}],
        "containers": [container],
        "volumes": [*_common_volumes(), {"name": "kubelet", "hostPath": {"path": o.kubelet_root, "type": "Directory"}}],
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": f"{APP}-volumes", "namespace": o.namespace, "labels": _labels("volume-backup")},
        "spec": {
            "selector": {"matchLabels": _labels("volume-backup")},
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "10%"}},
            "template": {"metadata": {"labels": _labels("volume-backup")}, "spec": pod_spec},
        },
    }


def render(o: DeployOptions) -> list[dict]:
    return [namespace(o), service_account(o), cluster_role(o), cluster_role_binding(o), control_plane_cronjob(o), volume_daemonset(o)]


def to_yaml(objects: list[dict]) -> str:
    yaml = YAML()
    yaml.default_flow_style = False
    out = io.StringIO()
    yaml.dump_all(objects, out)
    return out.getvalue()


def write(objects: list[dict], output_dir: Path) -> list[Path]:
    """One file per object (NN-kind-name.yaml), written atomically."""
    written = []
    for index, obj in enumerate(objects):
        path = output_dir / f"{index:02d}-{obj['kind'].lower()}-{obj['metadata']['name']}.yaml"
        write_atomic(path, to_yaml([obj]))
        written.append(path)
    return written
