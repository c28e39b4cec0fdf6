"""Realistic node trees (kubeadm static pods 1.20 / 1.30, containerd v2 / v3, docker, kubelet) built
from layered fixtures under fixtures/: later layers add to or replace files of earlier ones."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
LAYOUTS = {
    "1.20-docker": ("common", "k8s-1.20-docker"),
    "1.30-containerd-v2": ("common", "k8s-1.30-containerd", "containerd-v2"),
    "1.30-containerd-v3": ("common", "k8s-1.30-containerd", "containerd-v3"),
}


def build_tree(target: Path, layout: str) -> Path:
    for layer in LAYOUTS[layout]:
        shutil.copytree(FIXTURES / layer, target, dirs_exist_ok=True)
    return target


@pytest.fixture
def node_tree(tmp_path: Path) -> Callable[[str], Path]:
    """node_tree('1.30-containerd-v3') -> a fresh copy of that node under tmp_path."""

    def make(layout: str) -> Path:
        return build_tree(tmp_path / layout, layout)

    return make
