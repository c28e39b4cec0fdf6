"""The shipped catalogue is valid and covers every recommendation of the seed."""

from __future__ import annotations

import re

import pytest

from kubekeeper.errors import BadInput
from kubekeeper.knowledge import KubeVersion, Setting, VersionRange, load_catalogue, load_versions
from kubekeeper.knowledge.catalogue import Versions, parse_catalogue
from kubekeeper.knowledge.versions import Release

SEED_KEYS = {
    # sysctls from the seed's /etc/sysctl.conf block
    "fs.file-max", "net.ipv4.neigh.default.gc_thresh1", "net.ipv4.neigh.default.gc_thresh2",
    "net.ipv4.neigh.default.gc_thresh3", "net.netfilter.nf_conntrack_max",
    "net.netfilter.nf_conntrack_tcp_timeout_established", "net.netfilter.nf_conntrack_buckets",
    "net.core.netdev_max_backlog", "fs.inotify.max_user_instances", "fs.inotify.max_user_watches",
    # etcd, apiserver, controller-manager, kubelet, runtime
    "--quota-backend-bytes", "--etcd-servers-overrides", "--max-requests-inflight",
    "--max-mutating-requests-inflight", "--target-ram-mb", "--apiserver-count",
    "--endpoint-reconciler-type", "--leader-elect-resource-lock", "--kube-api-qps", "--kube-api-burst",
    "serializeImagePulls", "maxPods", "--image-pull-progress-deadline", "max-concurrent-downloads",
    "max_concurrent_downloads", "sandbox_image", "conntrack.maxPerCore", "clientConnection.qps",
}


def test_catalogue_loads_and_covers_the_seed() -> None:
    keys = {s.key for s in load_catalogue().settings}
    assert SEED_KEYS <= keys, SEED_KEYS - keys


UPSTREAM = re.compile(r"https://|\b(kubernetes|kubernetes-sigs|containerd|etcd-io|Mirantis|k3s-io)/[\w.-]+|KEP-\d+")


def test_every_setting_has_rationale_and_an_upstream_source() -> None:
    for setting in load_catalogue().settings:
        assert setting.rationale.strip(), setting.id
        assert UPSTREAM.search(setting.source), setting.id


def test_invalid_catalogue_names_the_field() -> None:
    raw = {"settings": [{"id": "x", "component": "sysctl", "kind": "sysctl", "key": "k", "values": [{}],
                         "rationale": "r", "source": "s"}]}
    with pytest.raises(BadInput, match="settings.0.values.0"):
        parse_catalogue(raw)


def test_duplicate_ids_rejected() -> None:
    one = {"id": "x", "component": "sysctl", "kind": "sysctl", "key": "k", "values": [{"value": 1}],
           "rationale": "r", "source": "s"}
    with pytest.raises(BadInput, match="duplicate"):
        parse_catalogue({"settings": [one, one]})


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1.24", (1, 24)), ("v1.30.2", (1, 30)), ("1.29.0-rc.1", (1, 29))],
)
def test_version_parse(text: str, expected: tuple[int, int]) -> None:
    version = KubeVersion.parse(text)
    assert (version.major, version.minor) == expected


def test_version_order_is_numeric_not_lexical() -> None:
    assert KubeVersion.parse("1.9") < KubeVersion.parse("1.10")


def test_bad_version_is_bad_input() -> None:
    with pytest.raises(BadInput):
        KubeVersion.parse("one.two")


def test_scheduler_api_by_release() -> None:
    facts = load_versions()
    assert facts.scheduler_api(KubeVersion.parse("1.18")) is None
    assert facts.scheduler_api(KubeVersion.parse("1.24")) == "kubescheduler.config.k8s.io/v1beta3"
    assert facts.scheduler_api(KubeVersion.parse("1.25")) == "kubescheduler.config.k8s.io/v1"


def _setting(**kw: object) -> Setting:
    base = {"id": "x", "component": "etcd", "kind": "flag", "key": "--x", "values": [{"value": 1}],
            "rationale": "r", "source": "s"}
    return Setting.model_validate({**base, **kw})


def _versions(k8s: str = "1.36", etcd: str = "3.6", containerd: str = "2.2") -> Versions:
    return Versions(KubeVersion.parse(k8s), Release.parse(containerd), Release.parse(etcd))


def test_range_max_with_a_patch_excludes_the_line_without_one() -> None:
    """max "3.6.7": 3.6.7 holds, 3.6.8 does not, and "3.6" (the newest 3.6.x) does not either."""
    upto = VersionRange(max="3.6.7")
    assert upto.holds(Release.parse("3.6.7")) and upto.holds(Release.parse("3.5"))
    assert not upto.holds(Release.parse("3.6.8")) and not upto.holds(Release.parse("3.6"))
    assert VersionRange(max="3.6").holds(Release.parse("3.6.99"))


def test_status_that_starts_at_a_line_starts_at_its_first_patch() -> None:
    setting = _setting(superseded_in={"etcd": "3.6"}, replacement="r")
    assert setting.superseded_for(_versions(etcd="3.6.0")) == "etcd 3.6"
    assert setting.superseded_for(_versions(etcd="3.5.99")) is None


def test_deprecation_window_revoked_later() -> None:
    setting = _setting(deprecated={"etcd": {"min": "3.6.0", "max": "3.6.7"}}, replacement="r")
    assert setting.deprecated_for(_versions(etcd="3.6.7")) == "etcd 3.6.0"
    assert setting.deprecated_for(_versions(etcd="3.6.8")) is None
    assert setting.deprecated_for(_versions(etcd="3.5.20")) is None


def test_removed_in_takes_a_kubernetes_release_or_another_axis() -> None:
    assert _setting(removed_in="1.35", replacement="r").removed_for(_versions(k8s="1.35")) == "1.35"
    assert _setting(removed_in="1.35", replacement="r").removed_for(_versions(k8s="1.34")) is None
    assert _setting(removed_in={"etcd": "3.7"}, replacement="r").removed_for(_versions(etcd="3.7.0")) == "etcd 3.7"


@pytest.mark.parametrize(("etcd", "fixed"), [
    ("3.3.27", False), ("3.4.41", False), ("3.4.42", True), ("3.5", True), ("3.6.8", False), ("3.6.9", True), ("3.7.0", True),
])
def test_fixed_in_one_release_per_line(etcd: str, fixed: bool) -> None:
    setting = _setting(fixed_in={"etcd": ["3.4.42", "3.5.28", "3.6.9"]})
    assert setting.fixed_for(_versions(etcd=etcd)) is fixed
