"""Every artifact `tune plan --output-dir` writes parses with a real parser and carries the plan."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from kubekeeper.tune.plan import PlanRequest, make_plan
from kubekeeper.tune.render import render_all, split_dotted, write_artifacts

yaml = YAML(typ="safe")


def written(tmp_path: Path, **kw: object) -> dict[str, Path]:
    plan = make_plan(PlanRequest(**kw))  # type: ignore[arg-type]
    paths = write_artifacts(render_all(plan), tmp_path)
    return {str(p.relative_to(tmp_path)): p for p in paths}


def parse_sysctl_conf(text: str) -> dict[str, str]:
    """sysctl.conf(5) syntax: `key = value`, comments with # or ;, blank lines."""
    values = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        key, sep, val = line.partition("=")
        assert sep, f"not a sysctl line: {line!r}"
        values[key.strip()] = val.strip()
    return values


def test_split_dotted_honours_quotes() -> None:
    assert split_dotted('plugins."io.containerd.grpc.v1.cri".max_concurrent_downloads') == [
        "plugins", "io.containerd.grpc.v1.cri", "max_concurrent_downloads"]
    assert split_dotted("plugins.'io.x'.a.b") == ["plugins", "io.x", "a", "b"]


def test_sysctl_file_parses_and_has_seed_values(tmp_path: Path) -> None:
    files = written(tmp_path, nodes=3000, k8s_version="1.30")
    values = parse_sysctl_conf(files["sysctl.d/90-kubekeeper.conf"].read_text())
    assert values["fs.file-max"] == "1000000"
    assert values["net.ipv4.neigh.default.gc_thresh3"] == "8192"
    assert values["fs.inotify.max_user_watches"] == "524288"


def test_containerd_v3_fragment(tmp_path: Path) -> None:
    files = written(tmp_path, nodes=3000, k8s_version="1.31", containerd_version="2.0")
    doc = tomllib.loads(files["containerd/config.toml"].read_text())
    assert doc["version"] == 3
    images = doc["plugins"]["io.containerd.cri.v1.images"]
    assert images["max_concurrent_downloads"] == 10
    assert images["pinned_images"]["sandbox"] == "registry.k8s.io/pause:3.10"


def test_containerd_v2_fragment(tmp_path: Path) -> None:
    files = written(tmp_path, nodes=3000, k8s_version="1.28", containerd_version="1.7")
    doc = tomllib.loads(files["containerd/config.toml"].read_text())
    assert doc["version"] == 2
    cri = doc["plugins"]["io.containerd.grpc.v1.cri"]
    assert cri["max_concurrent_downloads"] == 10
    assert cri["sandbox_image"] == "registry.k8s.io/pause:3.9"
    assert cri["image_pull_progress_timeout"] == "10m0s"


def test_docker_daemon_json(tmp_path: Path) -> None:
    files = written(tmp_path, nodes=100, k8s_version="1.23", runtime="docker")
    body = json.loads(files["docker/daemon.json"].read_text())
    assert body == {"max-concurrent-downloads": 10}
    assert "containerd/config.toml" not in files
    kubelet_flags = files["kubelet/flags"].read_text()
    assert "--image-pull-progress-deadline=10m" in kubelet_flags


def test_kubelet_configuration(tmp_path: Path) -> None:
    files = written(tmp_path, nodes=500, k8s_version="1.30")
    doc = yaml.load(files["kubelet/config.yaml"].read_text())
    assert doc["kind"] == "KubeletConfiguration"
    assert doc["apiVersion"] == "kubelet.config.k8s.io/v1beta1"
    assert doc["serializeImagePulls"] is False
    assert doc["maxParallelImagePulls"] == 10
    assert doc["maxPods"] == 110


def test_scheduler_configuration_only_where_it_applies(tmp_path: Path) -> None:
    files = written(tmp_path / "new", nodes=1000, k8s_version="1.30")
    doc = yaml.load(files["kube-scheduler/config.yaml"].read_text())
    assert doc["apiVersion"] == "kubescheduler.config.k8s.io/v1"
    assert doc["clientConnection"] == {"qps": 100, "burst": 150}
    assert doc["leaderElection"]["resourceLock"] == "leases"
    old = written(tmp_path / "old", nodes=1000, k8s_version="1.18")
    assert "kube-scheduler/config.yaml" not in old
    assert "--kube-api-qps=100" in old["kube-scheduler/flags"].read_text()


def test_flag_files_are_one_flag_per_line(tmp_path: Path) -> None:
    files = written(tmp_path, nodes=3001, k8s_version="1.30")
    lines = [line for line in files["kube-apiserver/flags"].read_text().splitlines() if not line.startswith("#")]
    assert lines == ["--max-requests-inflight=3000", "--max-mutating-requests-inflight=1000"]
    etcd = files["etcd/flags"].read_text()
    assert "--quota-backend-bytes=8589934592" in etcd


@pytest.mark.parametrize(("version", "api"), [("1.21", "v1beta2"), ("1.30", "v1beta3"), ("1.31", "v1beta4")])
def test_kubeadm_patch_shape_per_api(tmp_path: Path, version: str, api: str) -> None:
    files = written(tmp_path, nodes=2000, k8s_version=version)
    doc = yaml.load(files["kubeadm/cluster-configuration.yaml"].read_text())
    assert doc["apiVersion"] == f"kubeadm.k8s.io/{api}"
    assert doc["kind"] == "ClusterConfiguration"
    args = doc["apiServer"]["extraArgs"]
    if api == "v1beta4":
        assert {"name": "max-requests-inflight", "value": "1500"} in args
    else:
        assert args["max-requests-inflight"] == "1500"
    assert doc["etcd"]["local"]["extraArgs"]


def test_kube_proxy_configuration(tmp_path: Path) -> None:
    files = written(tmp_path, nodes=1000, k8s_version="1.30")
    doc = yaml.load(files["kube-proxy/config.yaml"].read_text())
    assert doc["kind"] == "KubeProxyConfiguration"
    assert doc["conntrack"]["maxPerCore"] == 131072
