"""`tune plan`: tiers at their boundaries, version boundaries, bad input."""

from __future__ import annotations

import pytest

from kubekeeper.errors import BadInput
from kubekeeper.tune.plan import PlanRequest, make_plan


def value(nodes: int, setting_id: str, version: str = "1.30", **kw: object) -> object:
    return make_plan(PlanRequest(nodes=nodes, k8s_version=version, **kw)).value_of(setting_id)  # type: ignore[arg-type]


def ids(plan) -> set[str]:
    return {s.id for s in plan.settings}


@pytest.mark.parametrize(
    ("nodes", "reads", "mutating"),
    [(999, 400, 200), (1000, 1500, 500), (3000, 1500, 500), (3001, 3000, 1000)],
)
def test_inflight_tiers_at_boundaries(nodes: int, reads: int, mutating: int) -> None:
    assert value(nodes, "kube-apiserver.max-requests-inflight") == reads
    assert value(nodes, "kube-apiserver.max-mutating-requests-inflight") == mutating


@pytest.mark.parametrize(("nodes", "quota_gib"), [(99, 2), (100, 4), (999, 4), (1000, 8), (5000, 8)])
def test_etcd_quota_never_above_8_gib(nodes: int, quota_gib: int) -> None:
    assert value(nodes, "etcd.quota-backend-bytes") == quota_gib * 1024**3


@pytest.mark.parametrize(
    ("nodes", "tier"),
    [(50, "2 vCPU"), (51, "4 vCPU"), (250, "4 vCPU"), (1000, "8 vCPU"), (1001, "16 vCPU"), (3000, "16 vCPU")],
)
def test_etcd_hardware_tiers(nodes: int, tier: str) -> None:
    assert str(value(nodes, "etcd.hardware")).startswith(tier)


def test_target_ram_mb_is_nodes_times_60_before_1_19_without_note() -> None:
    plan = make_plan(PlanRequest(nodes=1000, k8s_version="1.18"))
    rec = next(s for s in plan.settings if s.id == "kube-apiserver.target-ram-mb")
    assert rec.value == 60000
    assert rec.note is None


def test_target_ram_mb_is_flagged_no_op_from_1_19() -> None:
    plan = make_plan(PlanRequest(nodes=1000, k8s_version="1.19"))
    rec = next(s for s in plan.settings if s.id == "kube-apiserver.target-ram-mb")
    assert rec.note and "no-op since 1.19" in rec.note


def test_target_ram_mb_gone_at_1_24_and_named_as_removed() -> None:
    at_1_23 = make_plan(PlanRequest(nodes=1000, k8s_version="1.23"))
    at_1_24 = make_plan(PlanRequest(nodes=1000, k8s_version="1.24"))
    assert "kube-apiserver.target-ram-mb" in ids(at_1_23)
    assert "kube-apiserver.target-ram-mb" not in ids(at_1_24)
    removed = {o.key: o for o in at_1_24.obsolete}
    assert removed["--target-ram-mb"].removed_in == "1.24"
    assert "--watch-cache-sizes" in removed["--target-ram-mb"].replacement


def test_docker_pull_deadline_before_1_24_and_containerd_timeout_after() -> None:
    docker_1_23 = make_plan(PlanRequest(nodes=100, k8s_version="1.23", runtime="docker"))
    assert docker_1_23.value_of("kubelet.image-pull-progress-deadline") == "10m"
    ctd_1_24 = make_plan(PlanRequest(nodes=100, k8s_version="1.24"))
    assert "kubelet.image-pull-progress-deadline" not in ids(ctd_1_24)
    assert "--image-pull-progress-deadline" in {o.key for o in ctd_1_24.obsolete}
    assert ctd_1_24.value_of("containerd.image-pull-progress-timeout") == "10m0s"


def test_max_parallel_image_pulls_from_1_27() -> None:
    assert value(100, "kubelet.max-parallel-image-pulls", "1.26") is None
    assert value(100, "kubelet.max-parallel-image-pulls", "1.27") == 10
    assert value(100, "kubelet.serialize-image-pulls", "1.26") is False


def test_apf_note_on_inflight_from_1_20_and_ga_1_29() -> None:
    for version in ("1.20", "1.29"):
        plan = make_plan(PlanRequest(nodes=2000, k8s_version=version))
        rec = next(s for s in plan.settings if s.id == "kube-apiserver.max-requests-inflight")
        assert rec.note and "Priority and Fairness" in rec.note
    old = make_plan(PlanRequest(nodes=2000, k8s_version="1.19"))
    rec = next(s for s in old.settings if s.id == "kube-apiserver.max-requests-inflight")
    assert rec.note is None


def test_leases_lock_and_no_endpoints_lock_anywhere() -> None:
    for version in ("1.16", "1.23", "1.24", "1.34"):
        plan = make_plan(PlanRequest(nodes=100, k8s_version=version))
        locks = [s.value for s in plan.settings if s.key.endswith("resource-lock") or s.key.endswith("resourceLock")]
        assert locks and set(locks) == {"leases"}, version


def test_scheduler_uses_flags_before_component_config() -> None:
    old = make_plan(PlanRequest(nodes=1000, k8s_version="1.18"))
    keys = {s.key for s in old.for_component("kube-scheduler")}
    assert "--kube-api-qps" in keys and "clientConnection.qps" not in keys
    new = make_plan(PlanRequest(nodes=1000, k8s_version="1.25"))
    assert new.value_of("kube-scheduler.qps") == 100


def test_apiserver_count_never_recommended_on_known_versions() -> None:
    plan = make_plan(PlanRequest(nodes=100, k8s_version="1.16"))
    assert "kube-apiserver.apiserver-count" not in ids(plan)
    assert "--apiserver-count" in {o.key for o in plan.obsolete}


def test_events_override_needs_servers_and_is_rendered_with_them() -> None:
    without = make_plan(PlanRequest(nodes=1000, k8s_version="1.30"))
    assert without.value_of("kube-apiserver.etcd-servers-overrides") is None
    assert any("--events-etcd-servers" in w for w in without.warnings)
    # kube-apiserver: "group/resource#servers, where servers are URLs, semicolon separated"; a comma
    # would start another override, so either separator given is rendered as ';'
    for servers in ("https://ev1:2379,https://ev2:2379", "https://ev1:2379;https://ev2:2379"):
        with_servers = make_plan(PlanRequest(nodes=1000, k8s_version="1.30", events_etcd_servers=servers))
        assert with_servers.value_of("kube-apiserver.etcd-servers-overrides") == "/events#https://ev1:2379;https://ev2:2379"
    with pytest.raises(BadInput, match="--events-etcd-servers 'http://\\[::1'"):
        PlanRequest(nodes=1000, events_etcd_servers="http://[::1")
    small = make_plan(PlanRequest(nodes=100, k8s_version="1.30"))
    assert "kube-apiserver.etcd-servers-overrides" not in ids(small)


def test_runtime_settings_follow_the_runtime() -> None:
    ctd = make_plan(PlanRequest(nodes=10, k8s_version="1.30"))
    assert ctd.for_component("containerd") and not ctd.for_component("docker")
    dock = make_plan(PlanRequest(nodes=10, k8s_version="1.23", runtime="docker"))
    assert dock.for_component("docker") and not dock.for_component("containerd")


def test_containerd_1_6_warns_that_pull_timeout_needs_1_7() -> None:
    plan = make_plan(PlanRequest(nodes=10, k8s_version="1.30", containerd_version="1.6"))
    assert "containerd.image-pull-progress-timeout" not in ids(plan)
    assert any("1.7" in w for w in plan.warnings)


def test_sandbox_image_follows_kubernetes_release() -> None:
    assert value(10, "containerd.sandbox-image", "1.30") == "registry.k8s.io/pause:3.9"
    assert value(10, "containerd.sandbox-image", "1.31") == "registry.k8s.io/pause:3.10"


def test_over_5000_nodes_warns_with_upstream_limits() -> None:
    plan = make_plan(PlanRequest(nodes=5001))
    assert any("beyond the upstream-supported limits" in w and "150000 pods" in w for w in plan.warnings)
    at_limit = make_plan(PlanRequest(nodes=5000)).warnings
    assert not any("beyond the upstream-supported limits" in w for w in at_limit)


@pytest.mark.parametrize(
    ("request_kwargs", "message"),
    [
        ({"nodes": 0}, "--nodes"),
        ({"nodes": 10, "k8s_version": "1.15"}, "unknown Kubernetes version 1.15"),
        ({"nodes": 10, "k8s_version": "2.0"}, "unknown Kubernetes version 2.0"),
        ({"nodes": 10, "runtime": "cri-o"}, "unknown runtime"),
        ({"nodes": 10, "k8s_version": "1.24", "runtime": "docker"}, "dockershim"),
        ({"nodes": 10, "containerd_version": "0.9"}, "containerd"),
    ],
)
def test_bad_input(request_kwargs: dict, message: str) -> None:
    with pytest.raises(BadInput, match=message):
        make_plan(PlanRequest(**request_kwargs))


def test_docker_after_1_24_allowed_with_cri_dockerd() -> None:
    plan = make_plan(PlanRequest(nodes=10, k8s_version="1.30", runtime="docker", cri_dockerd=True))
    assert plan.value_of("docker.max-concurrent-downloads") == 10
