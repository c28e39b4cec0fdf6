"""versions.yaml against upstream's own tables, kept under tests/data with their origin:
kubeadm's pinned etcd and pause images per release (tests/data/config-api/kubeadm-images.tsv) and
containerd's Kubernetes support matrix (tests/data/containerd/RELEASES-kubernetes-support.md)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kubekeeper.knowledge import KubeVersion, load_versions
from kubekeeper.knowledge.versions import Release

DATA = Path(__file__).parents[2] / "data"


def kubeadm_images() -> list[tuple[str, str, str]]:
    rows = []
    for line in (DATA / "config-api" / "kubeadm-images.tsv").read_text().splitlines():
        if line and not line.startswith("#"):
            kubernetes, etcd, pause, _origin = line.split("\t")
            rows.append((kubernetes, etcd, pause))
    return rows


def containerd_matrix() -> dict[str, list[str]]:
    """The current "Kubernetes Support" table: Kubernetes minor -> ["2.1.0", "2.0.1", ...]."""
    text = (DATA / "containerd" / "RELEASES-kubernetes-support.md").read_text()
    table = text.split("| Kubernetes Version |", 1)[1].split("\n\n", 1)[0]
    rows = {}
    for match in re.finditer(r"^\| (1\.\d+) +\| ([^|]+)\|", table, re.M):
        rows[match.group(1)] = [v.strip().rstrip("+") for v in match.group(2).split(",")]
    return rows


@pytest.mark.parametrize(("kubernetes", "etcd", "pause"), kubeadm_images())
def test_pause_image_and_etcd_are_the_ones_kubeadm_pins(kubernetes: str, etcd: str, pause: str) -> None:
    facts = load_versions()
    version = KubeVersion.parse(kubernetes)
    assert version in facts.known_kubernetes
    assert facts.pause_image(version).rsplit(":", 1)[1] == pause
    assert facts.etcd_for(version) == Release.parse(etcd)  # "3.4.9-1" -> 3.4.9


def test_every_known_release_is_in_the_kubeadm_table() -> None:
    assert {v for v, _, _ in kubeadm_images()} == {str(v) for v in load_versions().known_kubernetes}


@pytest.mark.parametrize(("kubernetes", "lines"), sorted(containerd_matrix().items()))
def test_containerd_pairing_is_containerds_table(kubernetes: str, lines: list[str]) -> None:
    facts = load_versions()
    assert [str(r) for r in facts.containerd_lines_for(KubeVersion.parse(kubernetes))] == lines


def test_a_release_past_containerds_table_uses_its_newest_row() -> None:
    facts = load_versions()
    newest_row = max(containerd_matrix(), key=KubeVersion.parse)
    assert str(facts.containerd_row_for(KubeVersion.parse("1.37"))) == newest_row == "1.36"
    assert facts.containerd_lines_for(KubeVersion.parse("1.37")) == facts.containerd_lines_for(KubeVersion.parse("1.36"))
