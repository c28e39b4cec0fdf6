"""The shipped catalogue is valid and covers every recommendation of the seed."""

from __future__ import annotations

import re

import pytest

from kubekeeper.errors import BadInput
from kubekeeper.knowledge import KubeVersion, load_catalogue, load_versions
from kubekeeper.knowledge.catalogue import parse_catalogue

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
