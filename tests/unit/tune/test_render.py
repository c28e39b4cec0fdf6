"""Every artifact `tune plan --output-dir` writes parses with a real parser and carries the plan."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from kubekeeper.tune.plan import PlanRequest, make_plan
from kubekeeper.tune.render import render_all, split_dotted, write_artifacts

from .configapi import validate_documents

yaml = YAML(typ="safe")
CONTAINERD_DATA = Path(__file__).parents[2] / "data" / "containerd"


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
    assert lines[:2] == ["--max-requests-inflight=3000", "--max-mutating-requests-inflight=1000"]
    assert all(line.startswith("--") and "=" in line for line in lines)
    etcd = files["etcd/flags"].read_text()
    assert "--quota-backend-bytes=8589934592" in etcd


def _kubeadm_docs(files: dict[str, Path]) -> list[dict]:
    return list(yaml.load_all(files["kubeadm/cluster-configuration.yaml"].read_text()))


@pytest.mark.parametrize(("version", "api"), [("1.21", "v1beta2"), ("1.30", "v1beta3"), ("1.31", "v1beta4")])
def test_kubeadm_patch_shape_per_api(tmp_path: Path, version: str, api: str) -> None:
    files = written(tmp_path, nodes=2000, k8s_version=version)
    doc = _kubeadm_docs(files)[0]
    assert doc["apiVersion"] == f"kubeadm.k8s.io/{api}"
    assert doc["kind"] == "ClusterConfiguration"
    args = doc["apiServer"]["extraArgs"]
    if api == "v1beta4":
        assert {"name": "max-requests-inflight", "value": "1500"} in args
    else:
        assert args["max-requests-inflight"] == "1500"
    assert doc["etcd"]["local"]["extraArgs"]


@pytest.mark.parametrize(("version", "containerd"), [("1.30", "1.7"), ("1.31", "2.1"), ("1.34", None), ("1.36", None), ("1.37", None)])
def test_kubeadm_config_validates_against_kubeadm_schema_and_carries_scheduler_and_proxy(
        tmp_path: Path, version: str, containerd: str | None) -> None:
    files = written(tmp_path, nodes=3000, k8s_version=version, containerd_version=containerd)
    docs = _kubeadm_docs(files)
    assert validate_documents(docs) == []
    cluster, kubelet, proxy = docs
    scheduler = cluster["scheduler"]
    args = scheduler["extraArgs"]
    config_arg = next(a["value"] for a in args if a["name"] == "config") if isinstance(args, list) else args["config"]
    volume = scheduler["extraVolumes"][0]
    assert volume["hostPath"] == volume["mountPath"] == config_arg
    scheduler_config = yaml.load(files["kubeadm/kube-scheduler-config.yaml"].read_text())
    assert validate_documents([scheduler_config]) == []
    assert scheduler_config["clientConnection"] == {"qps": 100, "burst": 150, "kubeconfig": "/etc/kubernetes/scheduler.conf"}
    assert kubelet["kind"] == "KubeletConfiguration" and proxy["kind"] == "KubeProxyConfiguration"
    assert proxy["conntrack"]["min"] == 1048576


def test_kubeadm_schema_check_can_fail() -> None:
    """The validator is not a rubber stamp: a v1beta3-shaped extraArgs map, an unknown field and a
    wrong scalar type are each rejected against the v1beta4 reference."""
    base = {"apiVersion": "kubeadm.k8s.io/v1beta4", "kind": "ClusterConfiguration"}
    assert validate_documents([{**base, "scheduler": {"extraArgs": [{"name": "config", "value": "/x"}]}}]) == []
    assert validate_documents([{**base, "scheduler": {"extraArgs": {"config": "/x"}}}])
    assert validate_documents([{**base, "scheduler": {"config": "/x"}}])
    assert validate_documents([{**base, "etcd": {"local": {"extraArgs": [{"name": 3, "value": "x"}]}}}])
    v1beta3 = {"apiVersion": "kubeadm.k8s.io/v1beta3", "kind": "ClusterConfiguration"}
    assert validate_documents([{**v1beta3, "apiServer": {"extraArgs": [{"name": "a", "value": "b"}]}}])


def test_kube_proxy_configuration_and_sysctls_agree(tmp_path: Path) -> None:
    """kube-proxy owns nf_conntrack_*: with kube-proxy the sysctl file leaves them out and the
    KubeProxyConfiguration carries them; without it the host sysctls carry them."""
    files = written(tmp_path / "proxy", nodes=3000, k8s_version="1.31", containerd_version="2.1")
    proxy = yaml.load(files["kube-proxy/config.yaml"].read_text())
    assert validate_documents([proxy]) == []
    assert proxy["conntrack"] == {"maxPerCore": 32768, "min": 1048576, "tcpEstablishedTimeout": "24h0m0s"}
    sysctls = parse_sysctl_conf(files["sysctl.d/90-kubekeeper.conf"].read_text())
    assert not [key for key in sysctls if key.startswith("net.netfilter.nf_conntrack")]
    no_proxy = written(tmp_path / "no-proxy", nodes=3000, k8s_version="1.31", kube_proxy=False)
    assert "kube-proxy/config.yaml" not in no_proxy
    host = parse_sysctl_conf(no_proxy["sysctl.d/90-kubekeeper.conf"].read_text())
    assert host["net.netfilter.nf_conntrack_max"] == "1048576"
    assert host["net.netfilter.nf_conntrack_tcp_timeout_established"] == "86400"
    assert int(host["net.netfilter.nf_conntrack_buckets"]) * 4 == int(host["net.netfilter.nf_conntrack_max"])


def _toml_has(doc: dict, dotted: str) -> bool:
    node = doc
    for part in split_dotted(dotted):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


@pytest.mark.parametrize(("containerd", "reference"), [
    ("1.6", "default-1.6.toml"), ("1.7", "default-1.7.toml"),
    ("2.0", "cri-config-v2.0.0.toml"), ("2.1", "cri-config-v2.1.0.toml"),
])
def test_containerd_fragment_keys_exist_in_containerds_own_config(tmp_path: Path, containerd: str, reference: str) -> None:
    """Every key the fragment sets is a key of containerd's own default config for that line, except
    the transfer plugin (its table is in 1.7's default config; 2.x docs show it separately)."""
    files = written(tmp_path, nodes=3000, k8s_version="1.29" if containerd < "2" else "1.31", containerd_version=containerd)
    fragment = tomllib.loads(files["containerd/config.toml"].read_text())
    own = tomllib.loads((CONTAINERD_DATA / reference).read_text())
    transfer = tomllib.loads((CONTAINERD_DATA / "default-1.7.toml").read_text())
    assert fragment["version"] == own["version"]
    leaves = list(_leaves(fragment))
    assert leaves
    for dotted in leaves:
        target = transfer if "transfer.v1.local" in dotted else own
        assert _toml_has(target, dotted), f"{dotted} is not a containerd {containerd} config key"


def _leaves(tree: dict, prefix: str = ""):
    for key, value in tree.items():
        dotted = f'{prefix}"{key}"' if "." in key else f"{prefix}{key}"
        if isinstance(value, dict):
            yield from _leaves(value, dotted + ".")
        elif key != "version":
            yield dotted
