"""apply on copies of node trees: audit is clean afterwards, a second run changes nothing, comments,
modes and unrelated settings survive, dry runs change nothing, backups are made first."""

from __future__ import annotations

import os
import tomllib

import pytest
from ruamel.yaml import YAML

from kubekeeper.errors import BadInput
from kubekeeper.tune.apply import apply
from kubekeeper.tune.audit import audit

LAYOUTS = ["1.20-docker", "1.30-containerd-v2", "1.30-containerd-v3"]


def _snapshot(root):
    return {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize("layout", LAYOUTS)
def test_apply_then_audit_is_clean_and_second_apply_is_a_no_op(node_tree, layout: str) -> None:
    root = node_tree(layout)
    assert audit(root, 1000).findings
    first = apply(root, 1000)
    assert first.changed and first.backups
    assert audit(root, 1000).findings == []
    state = _snapshot(root)
    second = apply(root, 1000)
    assert not second.changed and second.backups == []
    assert _snapshot(root) == state


def test_dry_run_prints_diffs_and_changes_nothing(cli, node_tree) -> None:
    root = node_tree("1.30-containerd-v3")
    before = _snapshot(root)
    result = cli("tune", "apply", "--root", str(root), "--nodes", "1000", "--dry-run")
    assert result.code == 0
    assert "--- /etc/containerd/config.toml" in result.out and "+    image_pull_progress_timeout = " in result.out
    assert "-    - --target-ram-mb=60000" in result.out
    assert _snapshot(root) == before


def test_cli_second_run_says_nothing_changed_and_names_restarts(cli, node_tree) -> None:
    root = node_tree("1.30-containerd-v2")
    first = cli("tune", "apply", "--root", str(root), "--nodes", "1000")
    assert "restart needed (not done by kubekeeper): containerd, kubelet" in first.out
    second = cli("tune", "apply", "--root", str(root), "--nodes", "1000")
    assert second.code == 0 and "nothing changed" in second.out


def test_toml_merge_keeps_comments_and_unrelated_tables(node_tree) -> None:
    root = node_tree("1.30-containerd-v2")
    apply(root, 1000, only="runtime")
    text = (root / "etc/containerd/config.toml").read_text()
    assert "# pause image pinned for the kubelet" in text
    data = tomllib.loads(text)
    cri = data["plugins"]["io.containerd.grpc.v1.cri"]
    assert cri["max_concurrent_downloads"] == 10 and cri["image_pull_progress_timeout"] == "10m0s"
    assert cri["containerd"]["runtimes"]["runc"]["options"]["SystemdCgroup"] is True
    assert data["grpc"]["max_recv_message_size"] == 16777216


def test_yaml_merge_keeps_comments_order_mode_and_backs_up(node_tree) -> None:
    root = node_tree("1.30-containerd-v3")
    manifest = root / "etc/kubernetes/manifests/kube-apiserver.yaml"
    os.chmod(manifest, 0o600)
    original = manifest.read_text()
    result = apply(root, 1000, only="control-plane")
    text = manifest.read_text()
    assert "# 2019 field-report tuning for a 1000-node cluster" in text
    assert "creationTimestamp: null" in text and "--target-ram-mb" not in text
    assert text.index("--advertise-address") < text.index("--max-requests-inflight")
    assert manifest.stat().st_mode & 0o777 == 0o600
    backups = [b for b in result.backups if b.name.startswith("kube-apiserver.yaml.kubekeeper-")]
    assert backups and backups[0].read_text() == original
    assert backups[0].parent.name == "kubekeeper-backup"  # never inside the static-pod directory
    assert not list((root / "etc/kubernetes/manifests").glob("*.kubekeeper-*"))
    kubelet_config = root / "var/lib/kubelet/config.yaml"
    assert "maxPods: 250" in kubelet_config.read_text()  # --only kept the kubelet untouched


def test_kubelet_flag_override_removed_from_env_file(node_tree) -> None:
    root = node_tree("1.20-docker")
    apply(root, 1000, only="kubelet")
    env = (root / "var/lib/kubelet/kubeadm-flags.env").read_text()
    assert "--max-pods" not in env and "--network-plugin=cni" in env
    assert "--image-pull-progress-deadline=10m" in env  # a docker-era kubelet flag on 1.20
    # maxPods' default (110) is the recommendation: with the overriding flag gone, nothing to write
    assert not [f for f in audit(root, 1000).findings if f.component == "kubelet"]


def test_sysctl_apply_writes_file_and_live_values(node_tree) -> None:
    root = node_tree("1.30-containerd-v3")
    (root / "etc/sysctl.conf").write_text("fs.file-max = 5\n")  # would override ours at boot
    result = apply(root, 1000, only="sysctl")
    assert {c.key for c in result.live} >= {"net.core.netdev_max_backlog"}
    assert "fs.file-max" not in {c.key for c in result.live}  # live LONG_MAX is above the floor: never lowered
    assert (root / "proc/sys/fs/file-max").read_text().strip() == "9223372036854775807"
    assert (root / "proc/sys/net/core/netdev_max_backlog").read_text().strip() == "10000"
    assert "net.core.netdev_max_backlog = 10000" in (root / "etc/sysctl.d/90-kubekeeper.conf").read_text()
    assert (root / "etc/sysctl.conf").read_text() == "fs.file-max = 1000000\n"
    assert not [f for f in audit(root, 1000).findings if f.component == "sysctl"]


def test_unknown_only_group_is_bad_input(node_tree) -> None:
    with pytest.raises(BadInput, match="unknown group"):
        apply(node_tree("1.20-docker"), 1000, only="sysctl,kernel")


def test_apply_never_lowers_a_limit(node_tree) -> None:
    """inotify at 1,048,576 and file-max at LONG_MAX stay as they are; nothing persists a lower value."""
    root = node_tree("1.30-containerd-v3")
    (root / "etc/sysctl.conf").write_text("")
    (root / "etc/sysctl.d/99-kubernetes-cri.conf").write_text("")
    (root / "proc/sys/fs/inotify/max_user_watches").write_text("1048576\n")
    apply(root, 1000, only="sysctl")
    assert (root / "proc/sys/fs/inotify/max_user_watches").read_text().strip() == "1048576"
    assert (root / "proc/sys/fs/file-max").read_text().strip() == "9223372036854775807"
    ours = (root / "etc/sysctl.d/90-kubekeeper.conf").read_text()
    assert "fs.inotify.max_user_watches" not in ours and "fs.file-max" not in ours
    assert "net.core.netdev_max_backlog = 10000" in ours  # below its floor: raised


def test_apply_keeps_higher_flag_values(node_tree) -> None:
    root = node_tree("1.30-containerd-v3")
    manifest = root / "etc/kubernetes/manifests/kube-apiserver.yaml"
    manifest.write_text(manifest.read_text().replace("--max-requests-inflight=1500", "--max-requests-inflight=5000"))
    apply(root, 1000, only="control-plane")
    text = manifest.read_text()
    assert "--max-requests-inflight=5000" in text and "--max-requests-inflight=1500" not in text


def test_apply_on_a_kubeadm_node_gives_the_scheduler_its_config(node_tree) -> None:
    """kubeadm starts the scheduler without --config; apply does what the kubeadm configuration from
    `tune plan` does: the KubeSchedulerConfiguration file, --config, and a hostPath volume."""
    root = node_tree("1.30-containerd-v3")
    result = apply(root, 1000, only="control-plane")
    config = root / "etc/kubernetes/kubekeeper/kube-scheduler-config.yaml"
    body = YAML(typ="safe").load(config.read_text())
    assert body["clientConnection"]["qps"] == 100 and body["clientConnection"]["kubeconfig"] == "/etc/kubernetes/scheduler.conf"
    pod = YAML(typ="safe").load((root / "etc/kubernetes/manifests/kube-scheduler.yaml").read_text())
    container = pod["spec"]["containers"][0]
    assert "--config=/etc/kubernetes/kubekeeper/kube-scheduler-config.yaml" in container["command"]
    assert any(m["mountPath"] == "/etc/kubernetes/kubekeeper/kube-scheduler-config.yaml" for m in container["volumeMounts"])
    assert any("kubeadm node" in note for note in result.notes)
    assert not [f for f in audit(root, 1000).findings if f.component == "kube-scheduler"]


def test_readme_apply_without_nodes(cli, node_tree, tmp_path) -> None:
    """`tune apply --only sysctl,kubelet --dry-run` needs no --nodes; control-plane settings do."""
    root = node_tree("1.30-containerd-v3")
    result = cli("tune", "apply", "--root", str(root), "--only", "sysctl,kubelet", "--dry-run")
    assert result.code == 0, result.err
    assert "dry run: nothing was changed" in result.out
    refused = cli("tune", "apply", "--root", str(root), "--dry-run")
    assert refused.code == 2 and "--nodes N is required" in refused.err and "Traceback" not in refused.err
    short = cli("tune", "apply", "--root", str(root), "-N", "1000", "--dry-run")
    assert short.code == 0
    assert cli("tune", "plan", "-n", "1000").code == 2  # -n is kubectl's namespace, never --nodes
