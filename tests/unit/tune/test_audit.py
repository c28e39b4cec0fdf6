"""audit: findings against realistic node trees, exit codes, and the JSON contract."""

from __future__ import annotations

import json

import pytest

from kubekeeper.errors import BadInput
from kubekeeper.tune.audit import NodeRequest, audit, normalize
from kubekeeper.tune.plan import PlanRequest, make_plan


def _by_id(report):
    return {f.id: f for f in report.findings}


def test_1_20_node_findings(node_tree) -> None:
    report = audit(node_tree("1.20-docker"), 1000)
    found = _by_id(report)
    assert report.k8s_version == "1.20" and report.runtime == "docker"
    superseded = found["kube-apiserver.apiserver-count"]  # still accepted in 1.20, unneeded since 1.11
    assert superseded.severity == "note" and superseded.problem == "superseded"
    assert superseded.source == "/etc/kubernetes/manifests/kube-apiserver.yaml:28"
    lock = found["kube-controller-manager.leader-elect-resource-lock"]
    assert (lock.current, lock.recommended, lock.severity) == ("endpoints", "leases", "warning")  # still valid in 1.20
    max_pods = found["kubelet.max-pods"]  # the flag in kubeadm-flags.env wins over the config file
    assert max_pods.current == "250" and max_pods.source == "/var/lib/kubelet/kubeadm-flags.env:1"
    assert found["docker.max-concurrent-downloads"].problem == "unset"
    assert "kube-apiserver.target-ram-mb" not in found  # 60000 == 1000 nodes x 60, and not removed in 1.20
    assert "kubelet.serialize-image-pulls" in report.passed


def test_1_30_node_removed_flags_and_values(node_tree) -> None:
    found = _by_id(audit(node_tree("1.30-containerd-v3"), NodeRequest(1000, containerd_version="2.0")))
    assert found["kube-apiserver.target-ram-mb"].problem == "removed"
    lock = found["kube-controller-manager.leader-elect-resource-lock"]
    assert lock.problem == "removed-value" and lock.severity == "error"
    assert found["containerd.image-pull-progress-timeout"].current == "5m0s"
    assert found["containerd.image-pull-progress-timeout"].source == "/etc/containerd/config.toml:15"
    assert "containerd.max-concurrent-downloads" not in found  # already 10 in the CRI config, which 2.0 reads


def test_live_vs_persisted_sysctl_findings(node_tree) -> None:
    root = node_tree("1.30-containerd-v3")
    (root / "proc/sys/net/core/netdev_max_backlog").write_text("500\n")  # persisted below the floor too
    (root / "etc/sysctl.d/95-local.conf").write_text("net.core.netdev_max_backlog = 600\nnet.ipv4.neigh.default.gc_thresh2 = 9000\n")
    (root / "proc/sys/fs/inotify/max_user_instances").write_text("100\n")
    (root / "etc/sysctl.d/96-inotify.conf").write_text("fs.inotify.max_user_instances = 600000\n")  # persisted, never applied
    (root / "etc/sysctl.d/97-thresh.conf").write_text("net.ipv4.neigh.default.gc_thresh3 = 100\n")
    (root / "proc/sys/net/ipv4/neigh/default/gc_thresh3").write_text("20000\n")  # live fine, next boot lowers it
    found = _by_id(audit(root, 1000))
    assert found["sysctl.net.core.netdev_max_backlog"].problem == "differs"
    assert found["sysctl.fs.inotify.max_user_instances"].problem == "persisted-not-live"
    assert found["sysctl.net.ipv4.neigh.default.gc_thresh2"].problem == "persisted-not-live"  # live 512 < 4096
    assert found["sysctl.net.ipv4.neigh.default.gc_thresh3"].problem == "persisted-differs"
    assert "sysctl.fs.file-max" not in found  # live LONG_MAX and persisted 1,000,000 both meet the floor


def test_ids_and_keys_match_the_plan(node_tree) -> None:
    report = audit(node_tree("1.30-containerd-v2"), 500)
    plan = make_plan(PlanRequest(nodes=500, k8s_version="1.30", containerd_version="1.7"))
    keys = {s.id: s.key for s in plan.settings} | {o.id: o.key for o in plan.obsolete}
    for finding in report.findings:
        assert keys[finding.id] == finding.key


def test_without_nodes_only_size_independent_settings_are_audited(node_tree, tmp_path) -> None:
    report = audit(node_tree("1.20-docker"), None)
    ids = {f.id for f in report.findings} | set(report.passed)
    assert "kubelet.max-pods" in ids and "sysctl.net.core.netdev_max_backlog" in ids
    assert "kube-apiserver.max-requests-inflight" not in ids and "etcd.quota-backend-bytes" not in ids
    assert any("--nodes" in s["reason"] for s in report.skipped)
    assert report.nodes is None


def test_version_required_when_the_node_cannot_tell(tmp_path) -> None:
    (tmp_path / "worker").mkdir()
    with pytest.raises(BadInput, match="--k8s-version"):
        audit(tmp_path / "worker", 10)
    worker = audit(tmp_path / "worker", 10, "1.30")  # a bare worker: control plane skipped, not failed
    assert {"component": "kube-apiserver", "reason": "no static pod manifest on this node"} in worker.skipped


def test_normalize_durations_and_booleans() -> None:
    assert normalize("10m0s") == normalize("10m") == normalize("600s")
    assert normalize(True) == normalize("True") == "true"


def test_cli_json_and_exit_codes(cli, node_tree) -> None:
    root = node_tree("1.30-containerd-v3")
    result = cli("tune", "audit", "--root", str(root), "--nodes", "1000", "--format", "json")
    assert result.code == 1
    body = json.loads(result.out)
    assert body["k8s_version"] == "1.30" and body["nodes"] == 1000
    for finding in body["findings"]:
        assert {"id", "component", "key", "source", "current", "recommended", "severity", "fix"} <= set(finding)
    bad = cli("tune", "audit", "--root", str(root), "--nodes", "1000", "--k8s-version", "banana")
    assert bad.code == 2 and "Traceback" not in bad.err


def test_audit_changes_nothing(node_tree) -> None:
    root = node_tree("1.20-docker")
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    audit(root, 1000)
    assert before == {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_limits_above_the_plan_are_not_findings(node_tree) -> None:
    """fs.file-max at LONG_MAX (systemd >= 240) and inotify watches at 1,048,576 (Linux >= 5.11 on a
    big node) are above the floors, persisted or not: nothing to report."""
    root = node_tree("1.30-containerd-v3")
    (root / "etc/sysctl.conf").write_text("")
    (root / "etc/sysctl.d/99-kubernetes-cri.conf").write_text("net.ipv4.ip_forward = 1\n")
    (root / "proc/sys/fs/file-max").write_text("9223372036854775807\n")
    (root / "proc/sys/fs/inotify/max_user_watches").write_text("1048576\n")
    report = audit(root, 1000)
    ids = {f.id for f in report.findings}
    assert "sysctl.fs.file-max" not in ids and "sysctl.fs.inotify.max_user_watches" not in ids
    assert {"sysctl.fs.file-max", "sysctl.fs.inotify.max_user_watches"} <= set(report.passed)
    (root / "proc/sys/fs/inotify/max_user_watches").write_text("8192\n")  # the pre-5.11 default
    low = {f.id: f for f in audit(root, 1000).findings}["sysctl.fs.inotify.max_user_watches"]
    assert low.current == "8192" and low.recommended == "at least 524288"


def test_kubernetes_version_of_a_worker_from_the_kubelet_package(tmp_path) -> None:
    worker = tmp_path / "worker"
    (worker / "var/lib/dpkg").mkdir(parents=True)
    (worker / "var/lib/dpkg/status").write_text(
        "Package: kubelet\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.29.4-1.1\n\n"
        "Package: containerd.io\nStatus: install ok installed\nVersion: 1.7.9-1\n\n")
    (worker / "etc/containerd").mkdir(parents=True)
    (worker / "etc/containerd/config.toml").write_text("version = 2\n")
    report = audit(worker, None)
    assert report.k8s_version == "1.29"
    assert report.versions["kubernetes_from"] == "kubelet version from /var/lib/dpkg/status (package kubelet)"
    assert report.versions["containerd"] == "1.7.9"
    timeout = {f.id: f for f in report.findings}["containerd.image-pull-progress-timeout"]
    assert timeout.current == "1m0s"  # the 1.7.9 default


def test_kubernetes_version_from_the_kubelet_binary_version_stamp(tmp_path) -> None:
    """A stand-in for a kubelet binary: the bytes Go records for `-ldflags -X ...gitVersion=...`
    (no Go toolchain here to build a real one); the probe reads them without executing anything."""
    worker = tmp_path / "worker"
    (worker / "usr/bin").mkdir(parents=True)
    (worker / "usr/bin/kubelet").write_bytes(
        b"\x7fELF" + b"\0" * 5000 + b"build\t-ldflags=\"-X 'k8s.io/component-base/version.gitVersion=v1.31.6' "
        b"-X 'k8s.io/component-base/version.gitMajor=1'\"" + b"\0" * 5000)
    report = audit(worker, None)
    assert report.k8s_version == "1.31" and report.versions["kubernetes_from"] == "kubelet version from /usr/bin/kubelet"
