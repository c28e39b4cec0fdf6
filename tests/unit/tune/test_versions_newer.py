"""Kubernetes 1.35-1.37 and the etcd releases they bring (3.6.x, 3.7), one test per boundary, each
asserting the upstream fact on both sides; and what happens with a Kubernetes release newer than the
catalogue knows (planned with the newest known release's facts, with a warning naming it)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from kubekeeper.errors import BadInput
from kubekeeper.tune.apply import apply
from kubekeeper.tune.audit import NodeRequest, audit
from kubekeeper.tune.plan import PlanRequest, make_plan
from kubekeeper.tune.render import flags_of, kubeadm_cluster_configuration, render_containerd

MANIFESTS = "etc/kubernetes/manifests"


def plan(**kw: object):
    kw.setdefault("nodes", 1000)
    return make_plan(PlanRequest(**kw))  # type: ignore[arg-type]


def obsolete(p) -> dict:
    return {o.id: o for o in p.obsolete}


def retag(root: Path, kubernetes: str | None = None, etcd: str | None = None) -> None:
    """Make the fixture's static pods run other releases (image tags are how a node tells)."""
    for path in (root / MANIFESTS).glob("*.yaml"):
        text = path.read_text()
        if kubernetes:
            text = re.sub(r"(image: registry\.k8s\.io/kube-[a-z-]+):v[0-9.]+", rf"\1:v{kubernetes}", text)
        if etcd:
            text = re.sub(r"(image: registry\.k8s\.io/etcd):[0-9][0-9a-z.-]*", rf"\1:{etcd}", text)
        path.write_text(text)


def add_etcd_flag(root: Path, flag: str) -> None:
    path = root / MANIFESTS / "etcd.yaml"
    path.write_text(path.read_text().replace("    - --snapshot-count=10000\n", f"    - --snapshot-count=10000\n    - {flag}\n"))


# ------------------------------------------------------------------------------- pause image
def test_k8s_1_35_pause_3_10_1_and_1_36_pause_3_10_2() -> None:
    """kubeadm constants.PauseVersion: 3.10.1 for 1.34-1.35, 3.10.2 from 1.36."""
    assert 'sandbox = "registry.k8s.io/pause:3.10.1"' in render_containerd(plan(k8s_version="1.35"))
    assert 'sandbox = "registry.k8s.io/pause:3.10.2"' in render_containerd(plan(k8s_version="1.36"))
    assert 'sandbox = "registry.k8s.io/pause:3.10.2"' in render_containerd(plan(k8s_version="1.37"))


# --------------------------------------------------------------------------------- containerd
def test_k8s_1_35_pairs_containerd_2_2_2_1_1_7_and_1_36_drops_1_7() -> None:
    """containerd RELEASES.md: 1.35 -> 2.2.0+, 2.1.5+, 1.7.28+; 1.36 -> 2.3.0+, 2.2.0+."""
    assert str(plan(k8s_version="1.35").containerd_version) == "2.2"
    assert str(plan(k8s_version="1.36").containerd_version) == "2.3"
    assert not [w for w in plan(k8s_version="1.35", containerd_version="1.7.28").warnings if "containerd" in w]
    assert any("not a recommended runtime for Kubernetes 1.36" in w
               for w in plan(k8s_version="1.36", containerd_version="1.7.28").warnings)
    assert any("older than 2.1.5" in w for w in plan(k8s_version="1.35", containerd_version="2.1.4").warnings)


def test_k8s_1_37_uses_the_1_36_containerd_row_and_says_so() -> None:
    """RELEASES.md has no 1.37 row yet: the 1.36 row stands in, and a misfit names both."""
    assert str(plan(k8s_version="1.37").containerd_version) == "2.3"
    misfit = [w for w in plan(k8s_version="1.37", containerd_version="1.7").warnings if "containerd" in w]
    assert misfit and "Kubernetes 1.36 (it has no row for 1.37 yet)" in misfit[0]


# ------------------------------------------------------------------------------------ etcd
def test_k8s_1_36_kubeadm_runs_etcd_3_6_8_and_1_37_etcd_3_7() -> None:
    """kubeadm SupportedEtcdVersion: 3.6.8 at v1.36.0, 3.7.0 from 1.37 (kubernetes#139427)."""
    assert str(plan(k8s_version="1.36").etcd_version) == "3.6.8"
    assert str(plan(k8s_version="1.37").etcd_version) == "3.7.0"
    assert any("kubeadm runs etcd 3.7.0 for Kubernetes 1.37" in w
               for w in plan(k8s_version="1.37", etcd_version="3.6").warnings)


def test_etcd_3_6_7_snapshot_count_deprecated_and_3_6_8_not() -> None:
    """etcd-io/etcd#21163 (v3.6.8) revoked the 3.6.0 deprecation of --snapshot-count; 3.7 keeps it.
    10,000 is the default from 3.6, so the flag is unneeded there either way."""
    on_367 = obsolete(plan(k8s_version="1.36", etcd_version="3.6.7"))["etcd.snapshot-count"]
    on_368 = obsolete(plan(k8s_version="1.36", etcd_version="3.6.8"))["etcd.snapshot-count"]
    on_37 = obsolete(plan(k8s_version="1.37"))["etcd.snapshot-count"]
    assert (on_367.status, on_367.removed_in) == ("deprecated", "etcd 3.6.0")
    assert (on_368.status, on_368.removed_in) == ("superseded", "etcd 3.6")
    assert on_37.status == "superseded"


def test_etcd_3_6_node_with_snapshot_count_is_a_warning_on_3_6_4_and_a_note_on_3_6_8(node_tree) -> None:
    root = node_tree("1.30-containerd-v3")  # its etcd manifest passes --snapshot-count=10000, as kubeadm does
    retag(root, kubernetes="1.34.3", etcd="3.6.4-0")
    assert {f.id: f for f in audit(root, 1000).findings}["etcd.snapshot-count"].severity == "warning"
    retag(root, etcd="3.6.8-0")
    finding = {f.id: f for f in audit(root, 1000).findings}["etcd.snapshot-count"]
    assert (finding.severity, finding.problem) == ("note", "superseded")


def test_etcd_3_4_10_has_no_watch_progress_flag_and_3_4_11_the_experimental_one() -> None:
    """--experimental-watch-progress-notify-interval first appears in etcd v3.4.11: kubeadm 1.19.0's
    etcd 3.4.9 would refuse to start with it."""
    assert "--experimental-watch-progress-notify-interval" not in dict(flags_of(plan(k8s_version="1.19"), "etcd"))
    assert "--experimental-watch-progress-notify-interval" not in dict(flags_of(plan(k8s_version="1.20", etcd_version="3.4.10"), "etcd"))
    assert dict(flags_of(plan(k8s_version="1.20", etcd_version="3.4.11"), "etcd"))["--experimental-watch-progress-notify-interval"] == "5s"


def test_etcd_3_6_deprecates_the_experimental_flags_and_3_7_removes_them() -> None:
    on_36 = plan(k8s_version="1.36")
    on_37 = plan(k8s_version="1.37")
    for rec_id in ("etcd.initial-corrupt-check", "etcd.watch-progress-notify-interval-experimental"):
        assert obsolete(on_36)[rec_id].status == "deprecated" and obsolete(on_36)[rec_id].removed_in == "etcd 3.6"
        assert obsolete(on_37)[rec_id].status == "removed" and obsolete(on_37)[rec_id].removed_in == "etcd 3.7"
    flags = dict(flags_of(on_37, "etcd"))
    assert flags["--watch-progress-notify-interval"] == "5s"
    assert flags["--feature-gates"] == "InitialCorruptCheck=true"  # still alpha, off by default in 3.7
    assert not [key for key in flags if key.startswith("--experimental-")]


def test_etcd_3_7_node_with_experimental_flags_is_an_error(node_tree) -> None:
    root = node_tree("1.30-containerd-v3")
    retag(root, kubernetes="1.37.1", etcd="3.7.0-0")
    add_etcd_flag(root, "--experimental-initial-corrupt-check=true")
    found = {f.id: f for f in audit(root, 1000).findings}
    assert (found["etcd.initial-corrupt-check"].severity, found["etcd.initial-corrupt-check"].problem) == ("error", "removed")
    retag(root, kubernetes="1.36.2", etcd="3.6.8-0")
    found = {f.id: f for f in audit(root, 1000).findings}
    assert found["etcd.initial-corrupt-check"].severity == "warning"


def test_etcd_3_6_apply_renames_the_experimental_watch_flag_instead_of_adding_a_second(node_tree) -> None:
    """etcd 3.6 refuses to start with both names set (server/embed/config.go Validate)."""
    root = node_tree("1.30-containerd-v3")
    retag(root, kubernetes="1.36.2", etcd="3.6.8-0")
    add_etcd_flag(root, "--experimental-watch-progress-notify-interval=5s")
    apply(root, 1000, only="control-plane")
    text = (root / MANIFESTS / "etcd.yaml").read_text()
    assert "--watch-progress-notify-interval=5s" in text
    assert "--experimental-watch-progress-notify-interval" not in text


# -------------------------------------------------------------------------------- GOMAXPROCS
def test_k8s_1_34_needs_gomaxprocs_and_1_35_sizes_it_from_the_cgroup() -> None:
    """kubernetes#134120: Go language version 1.25 (container-aware GOMAXPROCS) from 1.35."""
    assert plan(k8s_version="1.34").get("control-plane.gomaxprocs")
    assert plan(k8s_version="1.35").get("control-plane.gomaxprocs") is None
    assert "control-plane.gomaxprocs" not in obsolete(plan(k8s_version="1.35"))


@pytest.mark.parametrize(("etcd", "needed"), [
    ("3.3.15", True), ("3.4.41", True), ("3.4.42", False), ("3.5.27", True), ("3.5.28", False),
    ("3.6.8", True), ("3.6.9", False), ("3.7.0", False),
])
def test_etcd_gomaxprocs_until_its_go_mod_says_1_25(etcd: str, needed: bool) -> None:
    """etcd's go.mod moved to Go 1.25 in v3.4.42, v3.5.28 and v3.6.9; 3.7 was released with it."""
    assert (plan(k8s_version="1.36", etcd_version=etcd).get("etcd.gomaxprocs") is not None) is needed


def test_kubeadm_1_36_etcd_needs_gomaxprocs_and_1_37_does_not() -> None:
    """The advice follows kubeadm's own etcd: 3.6.8 with 1.36 (go 1.24), 3.7.0 with 1.37."""
    assert plan(k8s_version="1.36").get("etcd.gomaxprocs")
    assert plan(k8s_version="1.37").get("etcd.gomaxprocs") is None


# ------------------------------------------------------------------------------- kube-proxy
def test_k8s_1_35_conntrack_uncapped_and_1_36_capped_at_1048576() -> None:
    """kubernetes#137002 (1.36): the automatic nf_conntrack_max is capped at 1,048,576."""
    note_135 = plan(k8s_version="1.35").get("kube-proxy.conntrack.max-per-core").note  # type: ignore[union-attr]
    note_136 = plan(k8s_version="1.36").get("kube-proxy.conntrack.max-per-core").note  # type: ignore[union-attr]
    assert note_135 and "1,048,576" not in note_135
    assert note_136 and "sets exactly 1,048,576 and ignores min" in note_136
    min_136 = plan(k8s_version="1.36").get("kube-proxy.conntrack.min")
    assert min_136 and min_136.value == 1048576 and "caps at 1,048,576" in str(min_136.note)


def test_conntrack_min_is_labelled_as_kubekeepers_judgement() -> None:
    """No upstream figure sizes conntrack by cluster size: the catalogue must say the number is its own."""
    rec = plan(nodes=1000, k8s_version="1.36").get("kube-proxy.conntrack.min")
    assert rec and "kubekeeper's judgement" in rec.rationale and "#137002" in rec.source


# ---------------------------------------------------------------------- removed kubelet/KCM flags
def test_k8s_1_28_pod_infra_image_advice_1_29_unneeded_1_35_removed() -> None:
    """Deprecated 1.24 (#108045), a no-op from 1.29 (#118544), removed in 1.35 (#133779)."""
    assert plan(k8s_version="1.28").get("kubelet.pod-infra-container-image")
    assert obsolete(plan(k8s_version="1.29"))["kubelet.pod-infra-container-image"].status == "superseded"
    assert obsolete(plan(k8s_version="1.34"))["kubelet.pod-infra-container-image"].status == "superseded"
    assert obsolete(plan(k8s_version="1.35"))["kubelet.pod-infra-container-image"].status == "removed"


def test_k8s_1_35_node_with_pod_infra_image_is_an_error_and_apply_drops_it(node_tree) -> None:
    """The kubelet 1.35 refuses to start with --pod-infra-container-image; kubeadm wrote it into
    kubeadm-flags.env for years (the 1.30 fixture has it)."""
    root = node_tree("1.30-containerd-v3")
    on_134 = {f.id: f for f in audit(root, NodeRequest(None, "1.34")).findings}
    assert on_134["kubelet.pod-infra-container-image"].severity == "note"
    on_135 = {f.id: f for f in audit(root, NodeRequest(None, "1.35")).findings}
    assert (on_135["kubelet.pod-infra-container-image"].severity, on_135["kubelet.pod-infra-container-image"].problem) == ("error", "removed")
    apply(root, NodeRequest(None, "1.35"), only="kubelet")
    env = (root / "var/lib/kubelet/kubeadm-flags.env").read_text()
    assert "--pod-infra-container-image" not in env and "--container-runtime-endpoint=" in env
    # the running kubelet keeps the flag until its restart; the unit no longer passes it
    assert "kubelet.pod-infra-container-image" not in {f.id for f in audit(root, NodeRequest(None, "1.35")).findings}


def test_k8s_1_36_concurrent_service_syncs_unneeded_and_1_37_removed(node_tree) -> None:
    """kubernetes#138002: a no-op since 1.31, removed from kube-controller-manager in 1.37."""
    assert obsolete(plan(k8s_version="1.36"))["kube-controller-manager.concurrent-service-syncs"].status == "superseded"
    assert obsolete(plan(k8s_version="1.37"))["kube-controller-manager.concurrent-service-syncs"].status == "removed"
    root = node_tree("1.30-containerd-v3")
    retag(root, kubernetes="1.37.0", etcd="3.7.0-0")
    path = root / MANIFESTS / "kube-controller-manager.yaml"
    text = path.read_text()
    path.write_text(text.replace("    - --kubeconfig=", "    - --concurrent-service-syncs=10\n    - --kubeconfig=", 1))
    finding = {f.id: f for f in audit(root, 1000).findings}["kube-controller-manager.concurrent-service-syncs"]
    assert (finding.severity, finding.problem) == ("error", "removed")


# ----------------------------------------------------------------------- kubeadm config API
@pytest.mark.parametrize("version", ["1.35", "1.36", "1.37"])
def test_kubeadm_keeps_v1beta4_through_1_37(version: str) -> None:
    """1.37 removed v1beta3 and added an experimental v1 that cannot be used yet (kubernetes#136016)."""
    assert kubeadm_cluster_configuration(plan(k8s_version=version))["apiVersion"] == "kubeadm.k8s.io/v1beta4"


# ------------------------------------------------------------------ a release newer than known
def test_newer_kubernetes_is_planned_with_the_newest_known_facts_and_says_so() -> None:
    newer = plan(k8s_version="1.38")
    newest = plan(k8s_version="1.37")
    warning = [w for w in newer.warnings if "newer than the newest release this catalogue knows" in w]
    assert warning and "Kubernetes 1.38" in warning[0] and "(1.37)" in warning[0] and "1.37's" in warning[0]
    assert not [w for w in newest.warnings if "newer than the newest" in w]
    assert str(newer.k8s_version) == "1.38"
    assert (str(newer.etcd_version), str(newer.containerd_version)) == (str(newest.etcd_version), str(newest.containerd_version))
    assert [(s.id, s.value) for s in newer.settings] == [(s.id, s.value) for s in newest.settings]
    assert kubeadm_cluster_configuration(newer)["kubernetesVersion"] == "v1.38.0"


@pytest.mark.parametrize("version", ["1.15", "2.0", "0.9"])
def test_older_or_other_major_kubernetes_is_bad_input(version: str) -> None:
    with pytest.raises(BadInput, match=f"unknown Kubernetes version {version} \\(this catalogue knows 1.16..1.37\\)"):
        plan(k8s_version=version)


def test_audit_of_a_newer_node_warns_instead_of_failing(node_tree, cli) -> None:
    root = node_tree("1.30-containerd-v3")
    retag(root, kubernetes="1.38.1", etcd="3.7.1-0")
    report = audit(root, 1000)
    assert report.k8s_version == "1.38"
    assert any("Kubernetes 1.38 is newer" in w for w in report.warnings)
    text = cli("tune", "audit", "--root", str(root), "--nodes", "1000")
    assert text.code == 1 and "warning: Kubernetes 1.38 is newer" in text.out
    as_json = cli("tune", "audit", "--root", str(root), "--nodes", "1000", "--format", "json")
    assert any("1.37's" in w for w in json.loads(as_json.out)["warnings"])
    sarif = cli("tune", "audit", "--root", str(root), "--nodes", "1000", "--format", "sarif")
    json.loads(sarif.out)  # stdout stays one document; the warning goes to stderr
    assert "warning: Kubernetes 1.38 is newer" in sarif.err


def test_apply_on_a_newer_node_warns_on_stderr(node_tree, cli) -> None:
    root = node_tree("1.30-containerd-v3")
    retag(root, kubernetes="1.38.0", etcd="3.7.1-0")
    result = cli("tune", "apply", "--root", str(root), "--only", "sysctl,kubelet", "--dry-run")
    assert result.code == 0 and "warning: Kubernetes 1.38 is newer" in result.err
    as_json = cli("tune", "apply", "--root", str(root), "--only", "sysctl", "--dry-run", "--format", "json")
    assert any("Kubernetes 1.38" in w for w in json.loads(as_json.out)["warnings"])


def test_containerd_2_1_0_with_a_patch_pulls_through_the_transfer_service() -> None:
    """A line key ("2.1") starts at 2.1.0: a node whose binary says 2.1.0 gets the 2.1 path too."""
    rec = plan(k8s_version="1.31", containerd_version="2.1.0").get("containerd.max-concurrent-downloads")
    assert rec and rec.toml_path == 'plugins."io.containerd.transfer.v1.local".max_concurrent_downloads'


def test_kubeadm_1_35_still_runs_etcd_3_5_and_1_36_does_not() -> None:
    """kubernetes#135701: kubeadm 1.36 dropped etcd < 3.6 (and with it the experimental flags)."""
    assert not [w for w in plan(k8s_version="1.35", etcd_version="3.5").warnings if "no longer supports etcd" in w]
    on_136 = [w for w in plan(k8s_version="1.36", etcd_version="3.5.21").warnings if "no longer supports etcd" in w]
    assert on_136 and "kubeadm 1.36 no longer supports etcd older than 3.6" in on_136[0]
    assert not [w for w in plan(k8s_version="1.37", etcd_version="3.6").warnings if "no longer supports etcd" in w]
