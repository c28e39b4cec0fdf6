"""Rendered in-cluster manifests: valid against the Kubernetes 1.28 and 1.31 OpenAPI schemas (strict),
least privilege, separate CronJobs with deadlines, no shell, validated inputs.

The PodSecurity check below is written from the Pod Security Standards page
(kubernetes.io/docs/concepts/security/pod-security-standards), independently of the renderer."""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import pytest
from ruamel.yaml import YAML

from kubekeeper.deploy.dispatch import NodeWork, node_job
from kubekeeper.deploy.render import IMAGE, TEMPLATE_KEY, DeployOptions, render, write
from kubekeeper.errors import BadInput
from kubekeeper.volumes.model import PvcRef

VERSIONS = ["1.28.0", "1.31.0"]
FULL = DeployOptions(registry="https://harbor.example", hook_namespaces=("db", "mq"), pushgateway="http://pushgateway.monitoring:9091",
                     backend_secret="s3-credentials", registry_secret="harbor-robot", time_zone="Europe/Berlin", cluster="prod-east",
                     check_schedule="0 5 * * 0", etcd_follow=True, etcd_follower_textfile_dir="/var/lib/node_exporter/textfile_collector")


def by_kind(objects: list[dict], kind: str) -> list[dict]:
    return [o for o in objects if o["kind"] == kind]


def job_template(objects: list[dict]) -> dict:
    config = next(o for o in objects if o["kind"] == "ConfigMap")
    return YAML(typ="safe").load(config["data"][TEMPLATE_KEY])


def a_node_job(options: DeployOptions) -> dict:
    work = NodeWork("worker-17.example.internal", {PvcRef("db", "data")}, {"local-ssd1": "/mnt/disks/ssd1"}, {PvcRef("db", "cold")})
    return node_job(job_template(render(options)), work, "29012345")


def pod_specs(objects: list[dict]) -> list[tuple[str, dict]]:
    """(namespace, pod spec) of every workload: CronJobs, the Job template, a dispatched Job."""
    found = []
    for obj in objects:
        if obj["kind"] == "CronJob":
            found.append((obj["metadata"]["namespace"], obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]))
        if obj["kind"] == "Job":
            found.append((obj["metadata"]["namespace"], obj["spec"]["template"]["spec"]))
    return found


#: custom resources: validated against their own CRD in test_monitoring.py, not the core OpenAPI schema
CUSTOM_KINDS = {"PrometheusRule"}


def everything(options: DeployOptions) -> list[dict]:
    objects = [o for o in render(options) if o["kind"] not in CUSTOM_KINDS]
    return [*objects, job_template(objects), a_node_job(options)]


# ------------------------------------------------------------------ Pod Security Standards (oracle)
BASELINE_CAPS = {"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE", "SETFCAP", "SETGID",
                 "SETPCAP", "SETUID", "SYS_CHROOT"}
RESTRICTED_VOLUMES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"}


def baseline_violations(pod: dict) -> list[str]:
    found = [f"host namespace {k}" for k in ("hostNetwork", "hostPID", "hostIPC") if pod.get(k)]
    found += [f"hostPath volume {v['name']}" for v in pod.get("volumes", []) if "hostPath" in v]
    for c in pod["containers"]:
        sc = c.get("securityContext", {})
        if sc.get("privileged"):
            found.append("privileged")
        found += [f"capability {cap}" for cap in sc.get("capabilities", {}).get("add", []) if cap not in BASELINE_CAPS]
        found += ["hostPort" for p in c.get("ports", []) if p.get("hostPort")]
    if pod.get("securityContext", {}).get("seccompProfile", {}).get("type") == "Unconfined":
        found.append("seccomp Unconfined")
    return found


def restricted_violations(pod: dict) -> list[str]:
    found = baseline_violations(pod)
    found += [f"volume type of {v['name']}" for v in pod.get("volumes", []) if not set(v) - {"name"} <= RESTRICTED_VOLUMES]
    pod_sc = pod.get("securityContext", {})
    for c in pod["containers"]:
        sc = c.get("securityContext", {})
        if sc.get("allowPrivilegeEscalation") is not False:
            found.append("allowPrivilegeEscalation")
        if not sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")):
            found.append("runAsNonRoot")
        if sc.get("runAsUser", pod_sc.get("runAsUser")) == 0:
            found.append("runAsUser 0")
        if sc.get("seccompProfile", pod_sc.get("seccompProfile", {})).get("type") not in ("RuntimeDefault", "Localhost"):
            found.append("seccompProfile")
        caps = sc.get("capabilities", {})
        if "ALL" not in caps.get("drop", []) or set(caps.get("add", [])) - {"NET_BIND_SERVICE"}:
            found.append("capabilities")
    return found


# ------------------------------------------------------------------ tests
@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("options", [DeployOptions(), FULL], ids=["defaults", "every-option"])
def test_every_object_validates_strictly(version: str, options: DeployOptions) -> None:
    for obj in everything(options):
        kubernetes_validate.validate(obj, version, strict=True)


def test_schema_validation_can_fail() -> None:
    bad = a_node_job(DeployOptions())
    bad["spec"]["template"]["spec"]["containers"][0]["volumeMounts"][0]["readOnly"] = "yes"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, VERSIONS[-1], strict=True)


def test_etcd_and_registry_are_separate_cronjobs_with_deadlines() -> None:
    crons = {c["metadata"]["name"]: c for c in by_kind(render(FULL), "CronJob")}
    assert set(crons) == {"kubekeeper-etcd", "kubekeeper-registry", "kubekeeper-volumes", "kubekeeper-check"}
    for name, cron in crons.items():
        spec, job = cron["spec"], cron["spec"]["jobTemplate"]["spec"]
        assert spec["concurrencyPolicy"] == "Forbid" and spec["startingDeadlineSeconds"] > 0, name
        assert job["activeDeadlineSeconds"] > 0 and job["backoffLimit"] >= 1, name
        assert spec["timeZone"] == "Europe/Berlin"
        for container in job["template"]["spec"]["containers"]:
            assert {"cpu", "memory"} <= set(container["resources"]["requests"]) and "memory" in container["resources"]["limits"], name
    etcd_args = crons["kubekeeper-etcd"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"]
    registry_args = crons["kubekeeper-registry"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "etcd" in etcd_args and "registry" not in etcd_args
    assert "registry" in registry_args and "etcd" not in registry_args
    template = job_template(render(FULL))["spec"]
    assert template["activeDeadlineSeconds"] > 0 and template["ttlSecondsAfterFinished"] > 0 and template["backoffLimit"] >= 1


def test_dispatcher_window_fits_its_deadline() -> None:
    cron = next(c for c in by_kind(render(DeployOptions(volume_window_seconds=7200)), "CronJob") if c["metadata"]["name"] == "kubekeeper-volumes")
    assert cron["spec"]["jobTemplate"]["spec"]["activeDeadlineSeconds"] > 7200
    assert cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"][-1] == "7200"


def rules(objects: list[dict]) -> set[tuple[str, str, str, str]]:
    """(role kind, namespace, resource, verb) over every Role and ClusterRole."""
    return {(o["kind"], o["metadata"].get("namespace", ""), r, v)
            for o in objects if o["kind"] in ("Role", "ClusterRole") for rule in o["rules"] for r in rule["resources"] for v in rule["verbs"]}


def test_rbac_without_hooks_has_no_exec_and_is_read_only_cluster_wide() -> None:
    objects = render(DeployOptions())
    granted = rules(objects)
    assert not [g for g in granted if g[2] == "pods/exec"]
    assert {(r, v) for k, _, r, v in granted if k == "ClusterRole"} == {
        ("pods", "list"), ("persistentvolumes", "list"), ("persistentvolumeclaims", "get"), ("persistentvolumes", "get")}
    assert {g for g in granted if g[0] == "Role"} == {("Role", "kubekeeper-node", "jobs", "create")}
    assert "--no-hooks" in job_template(objects)["spec"]["template"]["spec"]["containers"][0]["args"]
    for binding in by_kind(objects, "ClusterRoleBinding") + by_kind(objects, "RoleBinding"):
        assert binding["roleRef"]["name"] == binding["metadata"]["name"]


def test_exec_only_in_the_namespaces_with_hooks() -> None:
    objects = render(FULL)
    assert {(ns, v) for k, ns, r, v in rules(objects) if r == "pods/exec"} == {("db", "create"), ("db", "get"), ("mq", "create"), ("mq", "get")}
    binding = next(b for b in by_kind(objects, "RoleBinding") if b["metadata"]["namespace"] == "db")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "kubekeeper-volume", "namespace": "kubekeeper-node"}]
    args = job_template(objects)["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("--hook-namespace") + 1] == "db" and "--no-hooks" not in args


def host_paths(objects: list[dict]) -> set[tuple[str, str]]:
    return {(v["hostPath"]["path"], v["hostPath"].get("type", "")) for _, pod in pod_specs(objects) for v in pod.get("volumes", []) if "hostPath" in v}


def test_only_three_etcd_files_and_the_kubelet_pods_dir_are_mounted() -> None:
    objects = everything(DeployOptions())
    pki = "/etc/kubernetes/pki/etcd"
    assert host_paths(objects) == {(f"{pki}/ca.crt", "File"), (f"{pki}/healthcheck-client.crt", "File"), (f"{pki}/healthcheck-client.key", "File"),
                                   ("/var/lib/kubelet/pods", "Directory"), ("/mnt/disks/ssd1", "Directory")}
    for _, pod in pod_specs(objects):
        for container in pod["containers"]:
            assert all(m.get("readOnly") for m in container["volumeMounts"] if m["name"].startswith(("etcd-", "kubelet", "node-path")))


def test_node_job_is_pinned_and_mounts_only_its_node_paths() -> None:
    job = a_node_job(DeployOptions())
    pod = job["spec"]["template"]["spec"]
    term = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0]
    assert term == {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["worker-17.example.internal"]}]}
    assert len(job["metadata"]["name"]) <= 63 and "29012345" in job["metadata"]["name"]
    mount = next(m for m in pod["containers"][0]["volumeMounts"] if m["name"] == "node-path-0")
    assert mount == {"name": "node-path-0", "mountPath": "/host/root/mnt/disks/ssd1", "readOnly": True, "mountPropagation": "HostToContainer"}
    assert pod["containers"][0]["args"][-2:] == ["--pvc", "db/cold"]
    assert "nodeName" not in pod  # the scheduler places it (and accounts for its requests)


def env_sources(objects: list[dict]) -> set[str]:
    found = set()
    for _, pod in pod_specs(objects):
        for c in pod["containers"]:
            found |= {e["valueFrom"]["secretKeyRef"]["name"] for e in c.get("env", []) if "secretKeyRef" in e.get("valueFrom", {})}
            found |= {e["secretRef"]["name"] for e in c.get("envFrom", [])}
        found |= {v["secret"]["secretName"] for v in pod.get("volumes", []) if "secret" in v}
    return found


def test_credentials_only_from_secrets_named_on_the_command_line() -> None:
    objects = everything(FULL)
    assert env_sources(objects) == {"kubekeeper-repository", "s3-credentials", "harbor-robot"}
    assert not by_kind(objects, "Secret")
    registry = next(c for c in by_kind(objects, "CronJob") if c["metadata"]["name"] == "kubekeeper-registry")
    env = {e["name"]: e for e in registry["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["KUBEKEEPER_REGISTRY_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": "harbor-robot", "key": "password"}


def test_registry_cache_is_a_persistent_volume_claim() -> None:
    objects = render(DeployOptions(registry="https://harbor.example", registry_cache_size="200Gi", registry_cache_storage_class="fast"))
    claim = next(o for o in objects if o["kind"] == "PersistentVolumeClaim")
    assert claim["spec"]["resources"]["requests"]["storage"] == "200Gi" and claim["spec"]["storageClassName"] == "fast"
    cron = next(c for c in by_kind(objects, "CronJob") if c["metadata"]["name"] == "kubekeeper-registry")
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert {"name": "cache", "persistentVolumeClaim": {"claimName": claim["metadata"]["name"]}} in pod["volumes"]
    args = pod["containers"][0]["args"]
    assert args[args.index("--cache") + 1] == "/cache/registry"


def test_no_priority_class_unless_asked() -> None:
    assert not [pod for _, pod in pod_specs(everything(DeployOptions())) if "priorityClassName" in pod]
    assert {pod["priorityClassName"] for _, pod in pod_specs(everything(DeployOptions(priority_class="backup")))} == {"backup"}


def test_pod_security_levels_are_as_strict_as_each_workload_allows() -> None:
    objects = everything(FULL)
    levels = {o["metadata"]["name"]: o["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] for o in by_kind(objects, "Namespace")}
    assert levels == {"kubekeeper": "restricted", "kubekeeper-node": "privileged"}
    for namespace, pod in pod_specs(objects):
        if levels[namespace] == "restricted":
            assert restricted_violations(pod) == [], pod["serviceAccountName"]
        else:  # privileged only because it must be: each of these needs something baseline forbids
            assert baseline_violations(pod), pod["serviceAccountName"]
    assert {pod["serviceAccountName"] for ns, pod in pod_specs(objects) if levels[ns] == "privileged"} == {"kubekeeper-etcd", "kubekeeper-volume"}


def test_privileged_pods_keep_what_least_privilege_allows() -> None:
    for _, pod in pod_specs(everything(DeployOptions())):
        for c in pod["containers"]:
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False and sc["readOnlyRootFilesystem"] is True and "ALL" in sc["capabilities"]["drop"]
            assert set(sc["capabilities"].get("add", [])) <= {"DAC_READ_SEARCH"}
        assert pod["automountServiceAccountToken"] == (pod["serviceAccountName"] in ("kubekeeper-dispatch", "kubekeeper-volume"))


@pytest.mark.parametrize("field, value", [("cluster", 'prod east"; rm -rf / #$(id)'), ("registry", "https://harbor.example/x y"),
                                          ("etcd_endpoints", "https://10.0.0.1:2379;id")])
def test_values_a_shell_would_split_are_refused_before_rendering(field: str, value: str) -> None:
    with pytest.raises(BadInput):
        DeployOptions(**{field: value})


def test_no_shell_every_value_is_one_argument() -> None:
    nasty = "prod-east.example"
    objects = everything(DeployOptions(cluster=nasty, registry="https://harbor.example:5000"))
    backups = 0
    for _, pod in pod_specs(objects):
        for c in pod["containers"]:
            assert "command" not in c  # the image's ENTRYPOINT is kubekeeper; argv, never `sh -c`
            assert not [a for a in c["args"] if a in ("sh", "/bin/sh", "bash", "-c")]
            if c["args"][0] == "backup":
                backups += 1
                assert c["args"][c["args"].index("--cluster") + 1] == nasty
    assert backups == 4  # etcd, registry, the volume Job template, a node's Job; and the registry URL kept whole:
    registry = next(c for c in by_kind(objects, "CronJob") if c["metadata"]["name"] == "kubekeeper-registry")
    assert "https://harbor.example:5000" in registry["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"]


def test_failures_are_visible() -> None:
    objects = everything(FULL)
    for _, pod in pod_specs(objects):
        assert pod["restartPolicy"] == "Never"
        for c in pod["containers"]:
            assert c["terminationMessagePolicy"] == "FallbackToLogsOnError"
            assert c["args"][:3] == ["deploy", "run", "--pushgateway"]


def test_every_container_runs_the_built_image() -> None:
    assert {c["image"] for _, pod in pod_specs(everything(FULL)) for c in pod["containers"]} == {IMAGE}
    assert IMAGE.startswith("localhost/kubekeeper:")
    other = DeployOptions(image="registry.example:5000/ops/kubekeeper@sha256:" + "a" * 64)
    assert {c["image"] for _, pod in pod_specs(everything(other)) for c in pod["containers"]} == {other.image}


@pytest.mark.parametrize("schedule", ["61 * * * *", "* * *", "0 0 32 * *", "0 0 * 13 *", "0 0 * * 8", "*/0 * * * *", "5-1 * * * *",
                                      "@every 1h", "TZ=UTC 0 1 * * *", "0 ? * * *", "0 1 * * MON-FUNDAY"])
def test_bad_schedule_is_refused(cli, schedule: str) -> None:
    result = cli("deploy", "render", "--etcd-schedule", schedule)
    assert result.code == 2 and result.err.count("\n") == 1 and "--etcd-schedule" in result.err and not result.out


@pytest.mark.parametrize("schedule", ["*/15 1-5 * JAN-MAR MON-FRI", "@daily", "0 3 ? * sun", "0,30 */2 1,15 * *"])
def test_good_schedule_is_accepted(cli, schedule: str) -> None:
    result = cli("deploy", "render", "--volume-schedule", schedule)
    assert result.code == 0, result.err
    assert f"schedule: {schedule}" in result.out or f"schedule: '{schedule}'" in result.out


@pytest.mark.parametrize("args", [["--namespace", "Kube_Keeper"], ["--image", "not an image"], ["--priority-class", "system-node-critical"],
                                  ["--time-zone", "Mars/Olympus"], ["--registry-secret", "robot"], ["--namespace", "x", "--node-namespace", "x"],
                                  ["--pushgateway", "ftp://x"], ["--registry-cache-size", "lots"]])
def test_bad_values_are_one_line_errors(cli, args: list[str]) -> None:
    result = cli("deploy", "render", *args)
    assert result.code == 2 and result.err.startswith("kubekeeper: error:") and "Traceback" not in result.err


def test_cli_writes_one_file_per_object(tmp_path: Path, cli) -> None:
    result = cli("deploy", "render", "--output-dir", str(tmp_path), "--namespace", "backup", "--node-namespace", "backup-node",
                 "--registry", "https://harbor.example", "--cluster", "prod-east")
    assert result.code == 0, result.err
    files = sorted(tmp_path.glob("*.yaml"))
    docs = [YAML(typ="safe").load(f.read_text()) for f in files]
    assert len(files) == len(render(DeployOptions(registry="x"))) and docs[0]["metadata"]["name"] == "backup"
    for doc in docs:
        if doc["kind"] not in CUSTOM_KINDS:
            kubernetes_validate.validate(doc, VERSIONS[-1], strict=True)
    assert "create the Secret kubekeeper-repository" in result.err and "backup-node and backup" in result.err


def test_write_is_stable(tmp_path: Path) -> None:
    first = [p.read_text() for p in write(render(FULL), tmp_path)]
    second = [p.read_text() for p in write(render(FULL), tmp_path)]
    assert first == second and not [t for t in first if "&id" in t]


def test_the_etcd_follower_is_one_replica_never_two_at_once_with_the_same_three_files() -> None:
    objects = render(FULL)
    follower = by_kind(objects, "Deployment")
    assert len(follower) == 1 and not by_kind(render(DeployOptions()), "Deployment")
    spec = follower[0]["spec"]
    assert spec["replicas"] == 1 and spec["strategy"] == {"type": "Recreate"}
    pod = spec["template"]["spec"]
    args = pod["containers"][0]["args"]
    assert args[args.index("backup"):args.index("backup") + 3] == ["backup", "etcd", "--follow"]
    assert args[args.index("--delta-interval") + 1] == "5s" and args[args.index("--full-interval") + 1] == "24h"
    assert args[args.index("--metrics-file") + 1].startswith("/metrics/")
    host_paths = sorted(v["hostPath"]["path"] for v in pod["volumes"] if "hostPath" in v)
    assert host_paths == ["/etc/kubernetes/pki/etcd/ca.crt", "/etc/kubernetes/pki/etcd/healthcheck-client.crt",
                          "/etc/kubernetes/pki/etcd/healthcheck-client.key", "/var/lib/node_exporter/textfile_collector"]
    assert pod["automountServiceAccountToken"] is False and pod["hostNetwork"] is True
    assert "restartPolicy" not in pod  # a Deployment's pod restarts
    with pytest.raises(BadInput, match="--etcd-delta-interval"):
        DeployOptions(etcd_follow=True, etcd_delta_interval="soon")
