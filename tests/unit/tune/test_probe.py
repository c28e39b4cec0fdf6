"""probe reads node trees: sysctls, runtimes, kubelet flag precedence, static pods and versions."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubekeeper.errors import BadInput
from kubekeeper.tune.probe import kubelet_unit_flags, probe, toml_line


def test_1_20_docker_node(node_tree) -> None:
    state = probe(node_tree("1.20-docker"))
    assert state.k8s_version == "1.20"
    assert state.runtime == "docker"
    assert state.docker and state.docker["data-root"].value == "/data/docker"
    assert state.containerd is None
    api = state.static_pods["kube-apiserver"]
    assert api.flags["--target-ram-mb"].value == "60000"
    assert api.flags["--target-ram-mb"].source.endswith("kube-apiserver.yaml:27")
    assert set(state.static_pods) == {"kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd"}


def test_kubelet_flags_come_from_dropin_and_env_file(node_tree) -> None:
    root = node_tree("1.20-docker")
    flags = kubelet_unit_flags(root)
    assert flags["--config"].value == "/var/lib/kubelet/config.yaml"
    assert flags["--config"].source == "/etc/systemd/system/kubelet.service.d/10-kubeadm.conf:4"
    assert flags["--max-pods"].value == "250"
    assert flags["--max-pods"].source == "/var/lib/kubelet/kubeadm-flags.env:1"


def test_running_kubelet_overrides_unit_files(node_tree) -> None:
    root = node_tree("1.30-containerd-v3")
    (root / "proc/4242/cmdline").write_bytes(b"/usr/bin/kubelet\0--config=/var/lib/kubelet/config.yaml\0--max-pods=90\0")
    state = probe(root)
    assert state.kubelet and state.kubelet.pid == 4242
    assert state.kubelet.flags["--max-pods"].value == "90"
    assert state.kubelet.flags["--max-pods"].source == "process 4242 (/proc/4242/cmdline)"


@pytest.mark.parametrize(("layout", "version", "path"), [
    ("1.30-containerd-v2", 2, 'plugins."io.containerd.grpc.v1.cri".max_concurrent_downloads'),
    ("1.30-containerd-v3", 3, "plugins.'io.containerd.cri.v1.images'.max_concurrent_downloads"),
])
def test_containerd_versions(node_tree, layout: str, version: int, path: str) -> None:
    state = probe(node_tree(layout))
    assert state.runtime == "containerd"
    assert state.containerd and state.containerd.version == version
    found = state.containerd.get(path)
    assert found is not None and found.line is not None
    assert "max_concurrent_downloads" in state.containerd.text.splitlines()[found.line - 1]


def test_persisted_sysctl_order_etc_sysctl_conf_last(node_tree) -> None:
    root = node_tree("1.30-containerd-v3")
    (root / "etc/sysctl.d/50-other.conf").write_text("fs.file-max = 5\n")
    state = probe(root)
    assert state.sysctl_persisted["fs.file-max"].value == "1000000"
    assert state.sysctl_persisted["fs.file-max"].file == "etc/sysctl.conf"
    assert state.live_sysctl("net.core.netdev_max_backlog").value == "1000"


def test_toml_line_with_dotted_keys() -> None:
    text = "version = 3\n[a]\n  b.c = 1\n[a.'x.y']\n  z = 2\n"
    assert toml_line(text, ["a", "b", "c"]) == 3
    assert toml_line(text, ["a", "x.y", "z"]) == 5


def test_bad_files_are_bad_input(node_tree) -> None:
    root = node_tree("1.20-docker")
    (root / "etc/docker/daemon.json").write_text("{not json")
    with pytest.raises(BadInput, match="daemon.json"):
        probe(root)
    with pytest.raises(BadInput):
        probe(Path("/nonexistent-root"))
