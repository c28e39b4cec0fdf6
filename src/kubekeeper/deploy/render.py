"""Render the in-cluster deployment (docs/in-cluster.md): what an admin applies to run kubekeeper in
the cluster it protects.

- Two namespaces, each with the strictest PodSecurity level its pods pass: `restricted` for the
  pods that need nothing from the node (the volume dispatcher, the registry backup), `privileged`
  for the ones that read node files (etcd client certificates, the kubelet's volume directories).
- etcd and registry backups as separate CronJobs: one failing never skips the other.
- Volume backups: a dispatcher CronJob lists running pods and PVs once per cycle (paginated) and
  creates one Job per node that has volumes, pinned to it, at a per-node slot in a window (jitter);
  the Job template is a ConfigMap the dispatcher mounts, so what runs on the nodes is in this output.
- RBAC only for what the features in use need (`pods/exec` only in the namespaces given with
  --hook-namespace); credentials only from Secrets named on the command line; no shell anywhere:
  every container gets an argv list (ENTRYPOINT is kubekeeper).

Pure: options in, a list of API objects (dicts) out; `write` puts them in files.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.scalarstring import LiteralScalarString

from kubekeeper import __version__, metrics, urls
from kubekeeper.deploy import monitoring
from kubekeeper.errors import BadInput
from kubekeeper.etcd.follow import parse_duration
from kubekeeper.fsutil import write_atomic
from kubekeeper.names import check_cluster_name

APP = "kubekeeper"
#: the image `make image` builds
IMAGE = f"localhost/kubekeeper:{__version__}"
NONROOT = 65532  # the image's user
#: where the volume Job template is mounted in the dispatcher
TEMPLATE_DIR = "/etc/kubekeeper/volume-job"
TEMPLATE_KEY = "job.yaml"
#: mount points inside the volume Jobs: the kubelet's pods directory, and hostPath/local PV paths
KUBELET_MOUNT = "/host/kubelet"
HOST_ROOT_MOUNT = "/host/root"
ETCD_CLIENT_DIR = "/etc/kubekeeper/etcd"
PSA = "pod-security.kubernetes.io"


@dataclass(frozen=True)
class DeployOptions:
    namespace: str = "kubekeeper"                 # restricted: volume dispatcher, registry backup
    node_namespace: str = "kubekeeper-node"       # privileged: etcd backup, per-node volume Jobs
    image: str = IMAGE
    cluster: str = "default"
    etcd_schedule: str = "30 1 * * *"
    registry_schedule: str = "0 2 * * *"
    volume_schedule: str = "0 3 * * *"
    time_zone: str | None = None
    volume_window_seconds: int = 4 * 3600         # per-node start times spread over this window
    etcd_endpoints: str = "https://127.0.0.1:2379"
    etcd_pki_dir: str = "/etc/kubernetes/pki/etcd"
    etcd_files: tuple[str, str, str] = ("ca.crt", "healthcheck-client.crt", "healthcheck-client.key")
    registry: str | None = None
    repository_secret: str = "kubekeeper-repository"   # keys: repository, password
    backend_secret: str | None = None                   # every key becomes an env var (AWS_ACCESS_KEY_ID, ...)
    registry_secret: str | None = None                  # keys: username, password
    registry_cache_size: str = "50Gi"
    registry_cache_storage_class: str | None = None
    kubelet_root: str = "/var/lib/kubelet"
    concurrency: int = 2
    hook_namespaces: tuple[str, ...] = ()
    pushgateway: str | None = None
    priority_class: str | None = None
    etcd_deadline_seconds: int = 3600
    registry_deadline_seconds: int = 6 * 3600
    volume_deadline_seconds: int = 6 * 3600
    starting_deadline_seconds: int = 3600
    volume_memory_limit: str = "2Gi"
    #: the etcd follower (`backup etcd --follow`) as a Deployment next to the nightly CronJob
    etcd_follow: bool = False
    etcd_delta_interval: str = "5s"
    etcd_full_interval: str = "24h"
    #: node-exporter's textfile directory on control-plane nodes, for the follower's lag (None: not written)
    etcd_follower_textfile_dir: str | None = None
    monitoring: bool = True                             # PrometheusRule + Grafana dashboard ConfigMap
    check_schedule: str | None = None                   # a `repo check` CronJob (feeds the check alert)
    check_deadline_seconds: int = 6 * 3600

    def __post_init__(self) -> None:
        """Values that go into the jobs' shell command lines are checked (and normalised) here, so a typo
        is exit 2 now rather than a CronJob failing in the cluster at night."""
        check_cluster_name(self.cluster)
        endpoints = [urls.parse_http_url(item, "--etcd-endpoints").origin
                     for item in self.etcd_endpoints.split(",") if item.strip()]
        if not endpoints:
            raise BadInput("--etcd-endpoints is empty")
        object.__setattr__(self, "etcd_endpoints", ",".join(endpoints))
        parse_duration(self.etcd_delta_interval, "--etcd-delta-interval")
        parse_duration(self.etcd_full_interval, "--etcd-full-interval")
        if self.registry is not None:
            from kubekeeper.registry.client import normalize_url

            object.__setattr__(self, "registry", normalize_url(self.registry)[0])


def _labels(component: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": APP, "app.kubernetes.io/component": component, "app.kubernetes.io/version": __version__}


def _meta(name: str, component: str, namespace: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": _labels(component)}
    if namespace:
        meta["namespace"] = namespace
    return meta


# ------------------------------------------------------------------------------------------ pieces
def _repo_env(o: DeployOptions) -> list[dict[str, Any]]:
    return [
        {"name": "RESTIC_REPOSITORY", "valueFrom": {"secretKeyRef": {"name": o.repository_secret, "key": "repository"}}},
        {"name": "RESTIC_PASSWORD_FILE", "value": "/etc/kubekeeper/repository/password"},
        {"name": "RESTIC_CACHE_DIR", "value": "/cache/restic"},
        {"name": "KUBEKEEPER_CLUSTER", "value": o.cluster},
    ]


def _env_from(o: DeployOptions) -> list[dict[str, Any]]:
    """Backend credentials (AWS_*, B2_*, AZURE_*, ...) from one Secret, whatever the backend."""
    return [{"secretRef": {"name": o.backend_secret}}] if o.backend_secret else []


def _repo_volumes(o: DeployOptions) -> list[dict[str, Any]]:
    return [{"name": "repository-password", "secret": {"secretName": o.repository_secret, "items": [{"key": "password", "path": "password"}], "defaultMode": 0o400}}]


def _repo_mounts() -> list[dict[str, Any]]:
    return [{"name": "repository-password", "mountPath": "/etc/kubekeeper/repository", "readOnly": True}]


def _scratch(cache: bool = True) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    volumes = [{"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}}]
    mounts = [{"name": "tmp", "mountPath": "/tmp"}]
    if cache:
        volumes.append({"name": "cache", "emptyDir": {"sizeLimit": "10Gi"}})
        mounts.append({"name": "cache", "mountPath": "/cache"})
    return volumes, mounts


def _restricted_pod() -> dict[str, Any]:
    return {"runAsNonRoot": True, "runAsUser": NONROOT, "runAsGroup": NONROOT, "fsGroup": NONROOT, "seccompProfile": {"type": "RuntimeDefault"}}


def _restricted_container() -> dict[str, Any]:
    return {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]}}


def _root_container(add: tuple[str, ...] = ()) -> dict[str, Any]:
    """uid 0 to read root-owned node files, every capability dropped but `add`, no escalation."""
    caps: dict[str, Any] = {"drop": ["ALL"]}
    if add:
        caps["add"] = list(add)
    return {"runAsUser": 0, "runAsGroup": 0, "runAsNonRoot": False, "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True, "capabilities": caps}


def wrap(o: DeployOptions, part: str, args: list[str]) -> list[str]:
    """With --pushgateway, run the command under `deploy run` so every run pushes its metrics."""
    if not o.pushgateway:
        return args
    return ["deploy", "run", "--pushgateway", o.pushgateway, "--part", part, "--cluster", o.cluster, "--", *args]


def _container(o: DeployOptions, name: str, args: list[str], *, env: list[dict[str, Any]], mounts: list[dict[str, Any]], security: dict[str, Any], resources: dict[str, Any]) -> dict[str, Any]:
    container = {
        "name": name,
        "image": o.image,
        "imagePullPolicy": "IfNotPresent",
        "args": args,  # argv for the image's ENTRYPOINT (kubekeeper): no shell, nothing to quote
        "env": env,
        "volumeMounts": mounts,
        "securityContext": security,
        "resources": resources,
        "terminationMessagePolicy": "FallbackToLogsOnError",  # the failure's last lines in the pod status
    }
    if o.backend_secret:
        container["envFrom"] = _env_from(o)
    return container


def _pod_spec(o: DeployOptions, service_account: str, containers: list[dict[str, Any]], volumes: list[dict[str, Any]], *, automount: bool, security: dict[str, Any], **extra: object) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "serviceAccountName": service_account,
        "automountServiceAccountToken": automount,
        "restartPolicy": "Never",  # each retry is a new pod: its logs stay for the post-mortem
        "securityContext": security,
        "containers": containers,
        "volumes": volumes,
        **extra,
    }
    if o.priority_class:
        spec["priorityClassName"] = o.priority_class
    return spec


def _cronjob(o: DeployOptions, name: str, namespace: str, component: str, schedule: str, deadline: int, pod_spec: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "schedule": schedule,
        "concurrencyPolicy": "Forbid",  # never two at once; activeDeadlineSeconds ends a hung one
        "startingDeadlineSeconds": o.starting_deadline_seconds,
        "successfulJobsHistoryLimit": 3,
        "failedJobsHistoryLimit": 5,
        "jobTemplate": {
            "metadata": {"labels": _labels(component)},
            "spec": {
                "backoffLimit": 2,
                "activeDeadlineSeconds": deadline,
                "template": {"metadata": {"labels": _labels(component)}, "spec": pod_spec},
            },
        },
    }
    if o.time_zone:
        spec["timeZone"] = o.time_zone
    return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": _meta(name, component, namespace), "spec": spec}


# ------------------------------------------------------------------------------------------ objects
def namespaces(o: DeployOptions) -> list[dict[str, Any]]:
    """PodSecurity: `restricted` where the pods need nothing from the node; `privileged` only where
    they must mount node files (hostPath is not allowed below `privileged`)."""
    def ns(name: str, level: str, component: str) -> dict[str, Any]:
        labels = {**_labels(component), f"{PSA}/enforce": level, f"{PSA}/enforce-version": "latest",
                  f"{PSA}/audit": level, f"{PSA}/warn": level}
        return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}

    return [ns(o.namespace, "restricted", "cluster-level"), ns(o.node_namespace, "privileged", "node-level")]


def service_accounts(o: DeployOptions) -> list[dict[str, Any]]:
    def sa(name: str, namespace: str, automount: bool) -> dict[str, Any]:
        return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(name, "rbac", namespace), "automountServiceAccountToken": automount}

    accounts = [sa(f"{APP}-dispatch", o.namespace, True), sa(f"{APP}-volume", o.node_namespace, True), sa(f"{APP}-etcd", o.node_namespace, False)]
    if o.registry:
        accounts.append(sa(f"{APP}-registry", o.namespace, False))
    if o.check_schedule:
        accounts.append(sa(f"{APP}-check", o.namespace, False))
    return accounts


def _rule(resources: list[str], verbs: list[str], group: str = "") -> dict[str, Any]:
    return {"apiGroups": [group], "resources": resources, "verbs": verbs}


def _binding(kind: str, name: str, subject: tuple[str, str], namespace: str | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": f"{kind}Binding",
        "metadata": _meta(name, "rbac", namespace),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": subject[0], "namespace": subject[1]}],
    }


def _role(kind: str, name: str, rules: list[dict[str, Any]], namespace: str | None = None) -> dict[str, Any]:
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, "metadata": _meta(name, "rbac", namespace), "rules": rules}


def rbac(o: DeployOptions) -> list[dict[str, Any]]:
    """Read-only, per feature: the dispatcher lists running pods and PVs and creates Jobs in the node
    namespace only; a node's volume Job lists pods (field-selected to its node) and GETs PVCs/PVs;
    `pods/exec` (create: POST, get: websocket upgrade) only in the namespaces that have hooks."""
    dispatch, volume = (f"{APP}-dispatch", o.namespace), (f"{APP}-volume", o.node_namespace)
    objects = [
        _role("ClusterRole", f"{APP}-dispatch", [_rule(["pods", "persistentvolumes"], ["list"])]),
        _binding("ClusterRole", f"{APP}-dispatch", dispatch),
        _role("Role", f"{APP}-dispatch", [_rule(["jobs"], ["create"], "batch")], o.node_namespace),
        _binding("Role", f"{APP}-dispatch", dispatch, o.node_namespace),
        _role("ClusterRole", f"{APP}-volume", [_rule(["pods"], ["list"]), _rule(["persistentvolumeclaims", "persistentvolumes"], ["get"])]),
        _binding("ClusterRole", f"{APP}-volume", volume),
    ]
    for namespace in o.hook_namespaces:
        objects += [
            _role("Role", f"{APP}-hooks", [_rule(["pods/exec"], ["create", "get"])], namespace),
            _binding("Role", f"{APP}-hooks", volume, namespace),
        ]
    return objects


def etcd_cronjob(o: DeployOptions) -> dict[str, Any]:
    """`backup etcd` on a control-plane node with kubeadm's etcd client certificate: the three files
    it needs, each mounted alone (never the pki directory with the CA and server keys)."""
    ca, cert, key = (f"{ETCD_CLIENT_DIR}/{name}" for name in o.etcd_files)
    args = wrap(o, "etcd", ["backup", "etcd", "--endpoints", o.etcd_endpoints, "--cacert", ca, "--cert", cert, "--key", key, "--cluster", o.cluster])
    scratch_volumes, scratch_mounts = _scratch()
    files = [(f"etcd-{i}", name) for i, name in enumerate(o.etcd_files)]
    mounts = [*_repo_mounts(), *scratch_mounts, *({"name": v, "mountPath": f"{ETCD_CLIENT_DIR}/{name}", "readOnly": True} for v, name in files)]
    volumes = [*_repo_volumes(o), *scratch_volumes, *({"name": v, "hostPath": {"path": f"{o.etcd_pki_dir}/{name}", "type": "File"}} for v, name in files)]
    container = _container(o, "etcd-backup", args, env=_repo_env(o), mounts=mounts, security=_root_container(),
                           resources={"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}})
    pod = _pod_spec(
        o, f"{APP}-etcd", [container], volumes, automount=False, security={"seccompProfile": {"type": "RuntimeDefault"}},
        hostNetwork=True,  # kubeadm's etcd listens on the node's 127.0.0.1
        dnsPolicy="ClusterFirstWithHostNet",
        nodeSelector={"node-role.kubernetes.io/control-plane": ""},
        tolerations=[{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"}],
    )
    return _cronjob(o, f"{APP}-etcd", o.node_namespace, "etcd-backup", o.etcd_schedule, o.etcd_deadline_seconds, pod)


def etcd_follower(o: DeployOptions) -> dict[str, Any]:
    """`backup etcd --follow` as a Deployment with one replica on a control-plane node (why not a
    sidecar of etcd: docs/in-cluster.md). `Recreate`: a rollout never runs two followers at once."""
    cronjob = etcd_cronjob(o)
    pod = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    pod.pop("restartPolicy", None)  # a Deployment's pods always restart
    container = pod["containers"][0]
    container["name"] = "etcd-follower"
    ca, cert, key = (f"{ETCD_CLIENT_DIR}/{name}" for name in o.etcd_files)
    # a delta's restic run normally takes about a second: one stuck for a minute is stopped, the changes stay buffered
    args = ["--stall-timeout", "60", "backup", "etcd", "--follow", "--endpoints", o.etcd_endpoints, "--cacert", ca, "--cert", cert,
            "--key", key, "--cluster", o.cluster, "--delta-interval", o.etcd_delta_interval, "--full-interval", o.etcd_full_interval]
    if o.etcd_follower_textfile_dir:
        args += ["--metrics-file", f"/metrics/kubekeeper-etcd-follower-{o.cluster}.prom"]
        container["volumeMounts"].append({"name": "textfile", "mountPath": "/metrics"})
        pod["volumes"].append({"name": "textfile", "hostPath": {"path": o.etcd_follower_textfile_dir, "type": "Directory"}})
    container["args"] = args
    container["resources"] = {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}}
    pod["terminationGracePeriodSeconds"] = 60  # SIGTERM: the last changes are stored before it exits
    labels = _labels("etcd-follower")
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(f"{APP}-etcd-follower", "etcd-follower", o.node_namespace),
        "spec": {
            "replicas": 1,
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": {"app.kubernetes.io/name": APP, "app.kubernetes.io/component": "etcd-follower"}},
            "template": {"metadata": {"labels": labels}, "spec": pod},
        },
    }


def registry_cache(o: DeployOptions) -> dict[str, Any]:
    """The OCI layout cache survives between runs: only new blobs are fetched each night."""
    spec: dict[str, Any] = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": o.registry_cache_size}}}
    if o.registry_cache_storage_class:
        spec["storageClassName"] = o.registry_cache_storage_class
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": _meta(f"{APP}-registry-cache", "registry-backup", o.namespace), "spec": spec}


def registry_cronjob(o: DeployOptions) -> dict[str, Any]:
    """`backup registry` as the image's non-root user, under the `restricted` PodSecurity level."""
    assert o.registry
    # progress lines (every 10 s) go to the pod's log: a long sync shows that it moves
    args = wrap(o, "registry", ["backup", "registry", "--registry", o.registry, "--cache", "/cache/registry", "--cluster", o.cluster])
    env = _repo_env(o)
    if o.registry_secret:
        env += [{"name": f"KUBEKEEPER_REGISTRY_{key.upper()}", "valueFrom": {"secretKeyRef": {"name": o.registry_secret, "key": key}}}
                for key in ("username", "password")]
    scratch_volumes, scratch_mounts = _scratch(cache=False)
    mounts = [*_repo_mounts(), *scratch_mounts, {"name": "cache", "mountPath": "/cache"}]
    volumes = [*_repo_volumes(o), *scratch_volumes, {"name": "cache", "persistentVolumeClaim": {"claimName": f"{APP}-registry-cache"}}]
    container = _container(o, "registry-backup", args, env=env, mounts=mounts, security=_restricted_container(),
                           resources={"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"cpu": "2", "memory": "2Gi"}})
    pod = _pod_spec(o, f"{APP}-registry", [container], volumes, automount=False, security=_restricted_pod())
    return _cronjob(o, f"{APP}-registry", o.namespace, "registry-backup", o.registry_schedule, o.registry_deadline_seconds, pod)


def check_cronjob(o: DeployOptions) -> dict[str, Any]:
    """`repo check` (the repository's structure) as the image's non-root user; under `deploy run`
    with --pushgateway its outcome is kubekeeper_job_success{part="check"}, which the
    KubekeeperRepositoryCheckFailed alert watches."""
    assert o.check_schedule
    scratch_volumes, scratch_mounts = _scratch()
    container = _container(o, "repository-check", wrap(o, metrics.CHECK_PART, ["repo", "check"]), env=_repo_env(o),
                           mounts=[*_repo_mounts(), *scratch_mounts], security=_restricted_container(),
                           resources={"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "2Gi"}})
    pod = _pod_spec(o, f"{APP}-check", [container], [*_repo_volumes(o), *scratch_volumes], automount=False, security=_restricted_pod())
    return _cronjob(o, f"{APP}-check", o.namespace, "repository-check", o.check_schedule, o.check_deadline_seconds, pod)


def volume_args(o: DeployOptions) -> list[str]:
    args = ["backup", "volume", "--all-pvcs", "--kubelet-root", KUBELET_MOUNT, "--host-root", HOST_ROOT_MOUNT,
            "--concurrency", str(o.concurrency), "--cluster", o.cluster]
    if o.hook_namespaces:
        for namespace in o.hook_namespaces:
            args += ["--hook-namespace", namespace]
    else:
        args.append("--no-hooks")
    return wrap(o, "volume", args)


def volume_job_template(o: DeployOptions) -> dict[str, Any]:
    """The Job the dispatcher creates for each node with volumes (it sets the name, pins it to the
    node, mounts the node's hostPath/local PV paths read-only and adds `--pvc` for unmounted local PVs).

    uid 0 with only DAC_READ_SEARCH (read any file, write none), read-only mounts, and only the
    kubelet's `pods` directory: not its keys, not the host's root."""
    scratch_volumes, scratch_mounts = _scratch()
    pods_dir = f"{o.kubelet_root.rstrip('/')}/pods"
    mounts = [*_repo_mounts(), *scratch_mounts,
              {"name": "kubelet-pods", "mountPath": f"{KUBELET_MOUNT}/pods", "readOnly": True, "mountPropagation": "HostToContainer"}]
    volumes = [*_repo_volumes(o), *scratch_volumes, {"name": "kubelet-pods", "hostPath": {"path": pods_dir, "type": "Directory"}}]
    env = [*_repo_env(o), {"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}]
    container = _container(o, "volume-backup", volume_args(o), env=env, mounts=mounts, security=_root_container(("DAC_READ_SEARCH",)),
                           resources={"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "2", "memory": o.volume_memory_limit}})
    pod = _pod_spec(
        o, f"{APP}-volume", [container], volumes, automount=True, security={"seccompProfile": {"type": "RuntimeDefault"}},
        tolerations=[{"operator": "Exists"}],  # pinned to one node: reach tainted nodes too
        affinity={"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["NODE"]}]}]}}},
    )
    labels = _labels("volume-backup")
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": f"{APP}-volume", "namespace": o.node_namespace, "labels": labels},
        "spec": {
            "backoffLimit": 2,
            "activeDeadlineSeconds": o.volume_deadline_seconds,
            "ttlSecondsAfterFinished": 3 * 86400,  # failed Jobs stay visible for days, then go
            "template": {"metadata": {"labels": labels}, "spec": pod},
        },
    }


def volume_template_configmap(o: DeployOptions) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta(f"{APP}-volume-job", "volume-backup", o.namespace),
            "data": {TEMPLATE_KEY: LiteralScalarString(to_yaml([volume_job_template(o)]))}}


def dispatch_cronjob(o: DeployOptions) -> dict[str, Any]:
    """Once per cycle: list running pods and PVs (paginated), create the per-node Jobs over the window."""
    args = ["deploy", "dispatch", "--template", f"{TEMPLATE_DIR}/{TEMPLATE_KEY}", "--window", str(o.volume_window_seconds)]
    env = [{"name": "JOB_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['job-name']"}}}]
    scratch_volumes, scratch_mounts = _scratch(cache=False)
    mounts = [*scratch_mounts, {"name": "template", "mountPath": TEMPLATE_DIR, "readOnly": True}]
    volumes = [*scratch_volumes, {"name": "template", "configMap": {"name": f"{APP}-volume-job"}}]
    container = _container(o, "dispatch", wrap(o, "dispatch", args), env=env, mounts=mounts, security=_restricted_container(),
                           resources={"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}})
    container.pop("envFrom", None)  # no repository access
    pod = _pod_spec(o, f"{APP}-dispatch", [container], volumes, automount=True, security=_restricted_pod())
    return _cronjob(o, f"{APP}-volumes", o.namespace, "volume-dispatch", o.volume_schedule, o.volume_window_seconds + 3600, pod)


def render(o: DeployOptions) -> list[dict[str, Any]]:
    objects = [*namespaces(o), *service_accounts(o), *rbac(o), etcd_cronjob(o)]
    if o.etcd_follow:
        objects.append(etcd_follower(o))
    if o.registry:
        objects += [registry_cache(o), registry_cronjob(o)]
    objects += [volume_template_configmap(o), dispatch_cronjob(o)]
    if o.check_schedule:
        objects.append(check_cronjob(o))
    if o.monitoring:
        objects += monitoring_objects(o)
    return objects


def monitoring_objects(o: DeployOptions) -> list[dict[str, Any]]:
    """Alerts (a prometheus-operator PrometheusRule) and a Grafana dashboard (a ConfigMap for the
    dashboard sidecar), both in the restricted namespace, built from the exported metric names."""
    return [monitoring.prometheus_rule(APP, o.namespace, _labels("monitoring"), o.cluster),
            monitoring.dashboard_configmap(f"{APP}-dashboard", o.namespace, _labels("monitoring"))]


def images(objects: list[dict[str, Any]]) -> set[str]:
    """Every container image the objects run (the volume Job template included)."""
    found: set[str] = set()
    for obj in objects:
        if obj["kind"] == "ConfigMap" and TEMPLATE_KEY in obj.get("data", {}):
            found |= images(list(YAML(typ="safe").load_all(obj["data"][TEMPLATE_KEY])))
            continue
        spec = obj.get("spec", {})
        pod = (spec.get("jobTemplate", {}).get("spec", {}) or spec).get("template", {}).get("spec", {})
        found |= {c["image"] for c in [*pod.get("containers", []), *pod.get("initContainers", [])]}
    return found


def to_yaml(objects: list[dict[str, Any]]) -> str:
    yaml = YAML()
    yaml.default_flow_style = False
    yaml.width = 4096
    yaml.representer.ignore_aliases = lambda *args: True  # shared label dicts: written out, never &anchors
    out = io.StringIO()
    yaml.dump_all(objects, out)
    return out.getvalue()


def write(objects: list[dict[str, Any]], output_dir: Path) -> list[Path]:
    """One file per object (NN-kind-namespace-name.yaml), written atomically."""
    written = []
    for index, obj in enumerate(objects):
        meta = obj["metadata"]
        scope = f"{meta['namespace']}-" if meta.get("namespace") else ""
        path = output_dir / f"{index:02d}-{obj['kind'].lower()}-{scope}{meta['name']}.yaml"
        write_atomic(path, to_yaml([obj]))
        written.append(path)
    return written
