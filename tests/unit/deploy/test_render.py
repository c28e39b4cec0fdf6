"""Rendered in-cluster manifests: valid against the Kubernetes OpenAPI schemas, least privilege."""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import pytest
from ruamel.yaml import YAML

from kubekeeper.deploy.render import DeployOptions, render, write

VERSIONS = ["1.28.0", "1.31.0"]


@pytest.mark.parametrize("version", VERSIONS)
def test_every_object_validates_strictly(version: str) -> None:
    for obj in render(DeployOptions(registry="https://harbor.example")):
        kubernetes_validate.validate(obj, version, strict=True)


def test_schema_validation_can_fail() -> None:
    bad = render(DeployOptions())[-1]
    bad["spec"]["template"]["spec"]["containers"][0]["volumeMounts"][0]["readOnly"] = "yes"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, VERSIONS[-1], strict=True)


def test_rbac_is_read_only_plus_exec() -> None:
    role = next(o for o in render(DeployOptions()) if o["kind"] == "ClusterRole")
    verbs = {(r, v) for rule in role["rules"] for r in rule["resources"] for v in rule["verbs"]}
    assert verbs == {(r, v) for r in ("persistentvolumeclaims", "persistentvolumes", "pods") for v in ("get", "list")} | {("pods/exec", "create"), ("pods/exec", "get")}


def test_daemonset_mounts_kubelet_read_only_with_propagation() -> None:
    ds = next(o for o in render(DeployOptions(kubelet_root="/data/kubelet")) if o["kind"] == "DaemonSet")
    pod = ds["spec"]["template"]["spec"]
    mount = next(m for m in pod["containers"][0]["volumeMounts"] if m["name"] == "kubelet")
    assert mount["readOnly"] is True and mount["mountPropagation"] == "HostToContainer"
    assert next(v for v in pod["volumes"] if v["name"] == "kubelet")["hostPath"]["path"] == "/data/kubelet"
    env = {e["name"] for e in pod["containers"][0]["env"]}
    assert {"NODE_NAME", "RESTIC_REPOSITORY", "RESTIC_PASSWORD_FILE"} <= env
    assert "--all-pvcs" in pod["containers"][0]["command"][-1]
    assert pod["tolerations"] == [{"operator": "Exists"}]


def test_cronjob_runs_etcd_and_registry_on_control_plane() -> None:
    cron = next(o for o in render(DeployOptions(registry="https://harbor.example")) if o["kind"] == "CronJob")
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    script = pod["containers"][0]["command"][-1]
    assert "backup etcd" in script and "backup registry --registry https://harbor.example" in script
    assert "node-role.kubernetes.io/control-plane" in pod["nodeSelector"]


def test_cli_writes_one_file_per_object(tmp_path: Path, cli) -> None:
    result = cli("deploy", "render", "--output-dir", str(tmp_path), "--namespace", "backup")
    assert result.code == 0, result.err
    files = sorted(tmp_path.glob("*.yaml"))
    assert len(files) == 6
    docs = [YAML(typ="safe").load(f.read_text()) for f in files]
    assert docs[0] == {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "backup", "labels": {"pod-security.kubernetes.io/enforce": "privileged"}}}
    for doc in docs:
        kubernetes_validate.validate(doc, VERSIONS[-1], strict=True)


def test_write_is_stable(tmp_path: Path) -> None:
    first = [p.read_text() for p in write(render(DeployOptions()), tmp_path)]
    second = [p.read_text() for p in write(render(DeployOptions()), tmp_path)]
    assert first == second
