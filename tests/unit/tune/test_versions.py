"""One test per version boundary the catalogue knows of (containerd 1.7.9/1.7.10 and 2.0/2.1;
Kubernetes 1.23/1.24, 1.26/1.27, 1.27/1.28, 1.28/1.29, 1.31/1.32, 1.32/1.33; etcd 3.5/3.6), each
asserting the upstream fact on both sides of the boundary."""

from __future__ import annotations

import pytest

from kubekeeper.errors import BadInput
from kubekeeper.knowledge import Catalogue, Setting, Tier, load_catalogue, load_versions
from kubekeeper.tune.audit import NodeRequest, audit
from kubekeeper.tune.plan import PlanRequest, make_plan
from kubekeeper.tune.render import apf_patches, flags_of, render_containerd


def plan(**kw: object):
    kw.setdefault("nodes", 1000)
    return make_plan(PlanRequest(**kw))  # type: ignore[arg-type]


# ------------------------------------------------------------------------------ containerd
def test_containerd_1_7_9_pull_timeout_default_1m_and_1_7_10_default_5m() -> None:
    """containerd pkg/cri/config: time.Minute up to v1.7.9, 5 * time.Minute from v1.7.10."""
    old = plan(k8s_version="1.28", containerd_version="1.7.9").get("containerd.image-pull-progress-timeout")
    new = plan(k8s_version="1.28", containerd_version="1.7.10").get("containerd.image-pull-progress-timeout")
    assert old and new
    assert (old.default, new.default) == ("1m0s", "5m0s")
    assert old.value == new.value == "10m0s" and old.bound == "floor"


def test_containerd_1_7_9_node_without_the_key_is_audited_against_1m(node_tree) -> None:
    root = node_tree("1.30-containerd-v2")
    found = {f.id: f for f in audit(root, NodeRequest(100, containerd_version="1.7.9")).findings}
    finding = found["containerd.image-pull-progress-timeout"]
    assert finding.problem == "unset" and finding.current == "1m0s"
    found = {f.id: f for f in audit(root, NodeRequest(100, containerd_version="1.7.10")).findings}
    assert found["containerd.image-pull-progress-timeout"].current == "5m0s"


def test_containerd_2_0_sets_downloads_in_cri_and_2_1_in_the_transfer_service() -> None:
    """docs/cri/config.md at v2.1.0: the CRI pulls through plugins."io.containerd.transfer.v1.local",
    and falls back to local pull when the CRI's own max_concurrent_downloads is not 3."""
    v20 = plan(k8s_version="1.31", containerd_version="2.0").get("containerd.max-concurrent-downloads")
    v21 = plan(k8s_version="1.31", containerd_version="2.1").get("containerd.max-concurrent-downloads")
    assert v20 and v20.toml_path == 'plugins."io.containerd.cri.v1.images".max_concurrent_downloads'
    assert v21 and v21.toml_path == 'plugins."io.containerd.transfer.v1.local".max_concurrent_downloads'
    text = render_containerd(plan(k8s_version="1.31", containerd_version="2.1"))
    assert '[plugins."io.containerd.transfer.v1.local"]\nmax_concurrent_downloads = 10' in text
    assert "containerd.cri-max-concurrent-downloads-unset" not in {
        s.id for s in plan(k8s_version="1.31", containerd_version="2.0").settings}


def test_containerd_2_1_node_with_cri_downloads_raised_is_flagged(node_tree) -> None:
    """The v3 fixture raises the CRI key to 10: right for 2.0, a silent fallback on 2.1."""
    root = node_tree("1.30-containerd-v3")
    on_20 = {f.id for f in audit(root, NodeRequest(100, containerd_version="2.0")).findings}
    on_21 = {f.id: f for f in audit(root, NodeRequest(100, containerd_version="2.1")).findings}
    assert "containerd.max-concurrent-downloads" not in on_20
    assert on_21["containerd.cri-max-concurrent-downloads-unset"].current == "10"
    assert on_21["containerd.max-concurrent-downloads"].problem == "unset"


@pytest.mark.parametrize(("k8s", "line"), [("1.18", "1.3"), ("1.23", "1.6"), ("1.29", "1.7"), ("1.30", "2.1"), ("1.34", "2.1")])
def test_containerd_default_line_follows_the_kubernetes_version(k8s: str, line: str) -> None:
    chosen = plan(k8s_version=k8s)
    assert str(chosen.containerd_version) == line
    assert not [w for w in chosen.warnings if "recommended runtime" in w or "older than" in w]


def test_containerd_2_for_kubernetes_1_29_or_older_warns_and_1_30_does_not() -> None:
    """containerd RELEASES.md pairs 2.x with Kubernetes 1.30+ (CRI v1 only)."""
    assert any("not a recommended runtime for Kubernetes 1.29" in w for w in plan(k8s_version="1.29", containerd_version="2.0").warnings)
    assert any("Kubernetes 1.18" in w for w in plan(k8s_version="1.18", containerd_version="2.1").warnings)
    assert not [w for w in plan(k8s_version="1.30", containerd_version="2.0").warnings if "containerd" in w]
    below_minimum = plan(k8s_version="1.29", containerd_version="1.7.10").warnings
    assert any("older than 1.7.11" in w for w in below_minimum)


# ------------------------------------------------------------------------------ Kubernetes
def test_k8s_1_23_apiserver_count_superseded_and_1_24_deprecated() -> None:
    """Not removed: lease reconciler default since 1.11; flag and master-count deprecated in 1.24 (#108062)."""
    at_1_23 = {o.key: o for o in plan(k8s_version="1.23").obsolete}
    at_1_24 = {o.key: o for o in plan(k8s_version="1.24").obsolete}
    assert at_1_23["--apiserver-count"].status == "superseded"
    assert at_1_24["--apiserver-count"].status == "deprecated" and at_1_24["--apiserver-count"].removed_in == "1.24"
    assert at_1_24["--endpoint-reconciler-type"].status == "superseded"


def test_k8s_1_24_docker_needs_cri_dockerds_own_pull_deadline() -> None:
    at_1_23 = plan(k8s_version="1.23", runtime="docker")
    at_1_24 = plan(k8s_version="1.24", runtime="docker", cri_dockerd=True)
    assert at_1_23.value_of("kubelet.image-pull-progress-deadline") == "10m"
    assert at_1_24.value_of("cri-dockerd.image-pull-progress-deadline") == "10m"
    removed = {o.key: o for o in at_1_24.obsolete}["--image-pull-progress-deadline"]
    assert "cri-dockerd" in removed.replacement
    assert flags_of(at_1_24, "cri-dockerd") == [("--image-pull-progress-deadline", "10m")]


def test_k8s_1_26_kubelet_api_qps_default_5_and_1_27_default_50() -> None:
    """kubernetes#116121 raised kubeAPIQPS/Burst from 5/10 to 50/100 in 1.27."""
    qps_26 = plan(k8s_version="1.26").get("kubelet.kube-api-qps")
    qps_27 = plan(k8s_version="1.27").get("kubelet.kube-api-qps")
    assert qps_26 and qps_27 and (qps_26.default, qps_27.default) == (5, 50)
    burst_26 = plan(k8s_version="1.26").get("kubelet.kube-api-burst")
    assert burst_26 and burst_26.default == 10


def test_k8s_1_26_kubelet_unset_qps_is_a_finding_and_1_27_is_not(node_tree) -> None:
    root = node_tree("1.30-containerd-v3")
    on_126 = {f.id: f for f in audit(root, NodeRequest(100, "1.26", "1.7")).findings}
    on_127 = {f.id for f in audit(root, NodeRequest(100, "1.27", "1.7")).findings}
    assert on_126["kubelet.kube-api-qps"].current == "5"
    assert "kubelet.kube-api-qps" not in on_127


def test_k8s_1_27_endpointsleases_lock_accepted_and_1_28_removed(node_tree) -> None:
    """client-go dropped endpointsleases/configmapsleases in v0.28 (kubernetes#117558), i.e. 1.28."""
    root = node_tree("1.30-containerd-v3")
    manifest = root / "etc/kubernetes/manifests/kube-controller-manager.yaml"
    manifest.write_text(manifest.read_text().replace("--leader-elect-resource-lock=endpoints", "--leader-elect-resource-lock=endpointsleases"))
    on_127 = {f.id: f for f in audit(root, NodeRequest(1000, "1.27", "1.7")).findings}
    on_128 = {f.id: f for f in audit(root, NodeRequest(1000, "1.28", "1.7")).findings}
    assert on_127["kube-controller-manager.leader-elect-resource-lock"].problem == "differs"
    assert on_128["kube-controller-manager.leader-elect-resource-lock"].problem == "removed-value"


def test_k8s_1_28_kube_proxy_only_raises_and_1_29_always_sets() -> None:
    """kubernetes#103174 (1.22) made kube-proxy only raise conntrack sysctls; #120448 reverted it (1.29)."""
    note_128 = plan(k8s_version="1.28").get("kube-proxy.conntrack.max-per-core").note  # type: ignore[union-attr]
    note_129 = plan(k8s_version="1.29").get("kube-proxy.conntrack.max-per-core").note  # type: ignore[union-attr]
    assert note_128 and "only raises" in note_128
    assert note_129 and "whenever they differ" in note_129 and "only raises" not in note_129


def _apf_catalogue() -> Catalogue:
    """The shipped catalogue plus one APF share to render: the shipped one recommends no fixed share
    (no upstream basis for one), so the renderer's version facts are checked with an operator's own."""
    shipped = load_catalogue()
    share = Setting(id="test.apf.node-high", component="apf", kind="config", key="node-high.nominalConcurrencyShares",
                    values=[Tier(min_nodes=1000, value=80)], default=40, rationale="test", source="test")
    return Catalogue(settings=[*shipped.settings, share], components=shipped.components)


def test_k8s_1_28_apf_objects_are_v1beta3_and_1_29_v1() -> None:
    """flowcontrol v1beta3 in 1.26-1.28 (nominalConcurrencyShares), v1 from 1.29, v1beta2 before 1.26
    (assuredConcurrencyShares)."""
    catalogue = _apf_catalogue()
    def patches(version: str, nodes: int = 1000):
        return apf_patches(make_plan(PlanRequest(nodes=nodes, k8s_version=version), catalogue))
    assert patches("1.28")[0][1]["apiVersion"] == "flowcontrol.apiserver.k8s.io/v1beta3"
    level, patch = patches("1.29")[0]
    assert level == "node-high" and patch["apiVersion"] == "flowcontrol.apiserver.k8s.io/v1"
    assert patch["spec"] == {"limited": {"nominalConcurrencyShares": 80}}
    assert patch["metadata"]["annotations"] == {"apf.kubernetes.io/autoupdate-spec": "false"}
    assert patches("1.25")[0][1]["spec"] == {"limited": {"assuredConcurrencyShares": 80}}
    assert patches("1.29", nodes=999) == []


def test_apf_shares_are_advice_not_a_fixed_number() -> None:
    """No upstream source doubles node-high/workload-high (kubernetes#101151 sized node-high at 40 for
    large clusters; the 5,000-node jobs run the suggested levels): nothing is patched by default."""
    at_3000 = plan(nodes=3000, k8s_version="1.34")
    for rec_id in ("apf.node-high.shares", "apf.workload-high.shares"):
        rec = at_3000.get(rec_id)
        assert rec and rec.kind == "advice" and "keep the suggested 40" in str(rec.value)
        assert "apiserver_flowcontrol_request_wait_duration_seconds" in str(rec.value)
    assert apf_patches(at_3000) == []


def test_k8s_1_31_node_monitor_grace_default_40s_and_1_32_50s(node_tree) -> None:
    """kubernetes#126287 raised --node-monitor-grace-period's default to 50s in 1.32."""
    root = node_tree("1.30-containerd-v3")
    on_131 = {f.id: f for f in audit(root, NodeRequest(100, "1.31", "1.7")).findings}
    on_132 = {f.id for f in audit(root, NodeRequest(100, "1.32", "1.7")).findings}
    assert on_131["kube-controller-manager.node-monitor-grace-period"].current == "40s"
    assert "kube-controller-manager.node-monitor-grace-period" not in on_132


def test_k8s_1_32_kube_proxy_iptables_and_1_33_nftables() -> None:
    """nftables mode went GA in 1.33 (KEP-3866); IPVS is deprecated from 1.35 (KEP-5495)."""
    assert plan(k8s_version="1.32").value_of("kube-proxy.mode.iptables") == "iptables"
    assert plan(k8s_version="1.32").value_of("kube-proxy.mode") is None
    assert plan(k8s_version="1.33").value_of("kube-proxy.mode") == "nftables"
    assert plan(k8s_version="1.33").value_of("kube-proxy.mode.iptables") is None


# ------------------------------------------------------------------------------------ etcd
@pytest.mark.parametrize(("k8s", "etcd"), [("1.16", "3.3.15"), ("1.21", "3.4.13"), ("1.22", "3.5.0"), ("1.33", "3.5.21"),
                                         ("1.34", "3.6.4"), ("1.36", "3.6.8"), ("1.37", "3.7.0")])
def test_etcd_default_is_the_one_kubeadm_ships(k8s: str, etcd: str) -> None:
    """kubeadm's SupportedEtcdVersion at vX.Y.0 (cross-checked against the whole table in
    tests/unit/knowledge/test_upstream_versions.py)."""
    assert str(plan(k8s_version=k8s).etcd_version) == etcd


def test_etcd_3_5_snapshot_count_10000_and_3_6_drops_the_flag() -> None:
    """etcd DefaultSnapshotCount: 100000 in 3.2-3.5, 10000 in 3.6, where --snapshot-count is
    deprecated (3.6.0-3.6.7; kubeadm 1.34.0 runs 3.6.4)."""
    on_35 = plan(k8s_version="1.33")
    on_36 = plan(k8s_version="1.34")
    rec = on_35.get("etcd.snapshot-count")
    assert rec and rec.value == 10000 and rec.default == 100000 and rec.bound == "ceiling"
    assert on_36.get("etcd.snapshot-count") is None
    deprecated = {o.id: o for o in on_36.obsolete}["etcd.snapshot-count"]
    assert deprecated.status == "deprecated" and deprecated.removed_in == "etcd 3.6.0"
    assert "--snapshot-count" not in dict(flags_of(on_36, "etcd"))


def test_etcd_3_5_experimental_flag_names_and_3_6_new_names() -> None:
    flags_35 = dict(flags_of(plan(k8s_version="1.34", etcd_version="3.5"), "etcd"))
    flags_36 = dict(flags_of(plan(k8s_version="1.34", etcd_version="3.6"), "etcd"))
    assert flags_35["--experimental-watch-progress-notify-interval"] == "5s"
    assert flags_35["--experimental-initial-corrupt-check"] == "true"
    assert flags_36["--watch-progress-notify-interval"] == "5s"
    assert flags_36["--feature-gates"] == "InitialCorruptCheck=true"
    assert "--experimental-initial-corrupt-check" not in flags_36


def test_etcd_version_other_than_kubeadms_warns_and_bad_one_is_bad_input() -> None:
    assert any("kubeadm runs etcd 3.6" in w for w in plan(k8s_version="1.34", etcd_version="3.5").warnings)
    with pytest.raises(BadInput, match="unknown etcd version"):
        plan(k8s_version="1.34", etcd_version="4.0")


def test_versions_facts_are_consistent() -> None:
    facts = load_versions()
    for version in facts.known_kubernetes:
        assert facts.containerd_lines_for(version), version  # every release has a containerd pairing
        assert facts.etcd_for(version).line in facts.known_etcd
        assert facts.etcd_for(version).patch is not None  # the etcd kubeadm pins, not just its line
        assert facts.pause_images.get(str(version)), version
