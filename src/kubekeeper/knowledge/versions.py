"""Kubernetes/containerd release numbers ("1.24") and the version facts file."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, total_ordering
from importlib import resources
from typing import Any

from ruamel.yaml import YAML

from kubekeeper.errors import BadInput

_VERSION_RE = re.compile(r"^v?(\d+)\.(\d+)(?:\.\d+)?(?:[-+].*)?$")


@total_ordering
@dataclass(frozen=True)
class KubeVersion:
    """A minor release, MAJOR.MINOR; patch levels and v-prefixes are accepted and dropped."""

    major: int
    minor: int

    @classmethod
    def parse(cls, text: str) -> KubeVersion:
        match = _VERSION_RE.match(str(text).strip())
        if not match:
            raise BadInput(f"not a version: {text!r} (expected MAJOR.MINOR, e.g. 1.30)")
        return cls(int(match.group(1)), int(match.group(2)))

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, KubeVersion):
            return NotImplemented
        return (self.major, self.minor) < (other.major, other.minor)

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"


def _floor_lookup(table: dict[str, str], version: KubeVersion) -> str | None:
    """The value of the highest key <= version, for tables keyed by the release a value starts at."""
    best: tuple[KubeVersion, str] | None = None
    for key, value in table.items():
        start = KubeVersion.parse(key)
        if start <= version and (best is None or start > best[0]):
            best = (start, value)
    return best[1] if best else None


@dataclass(frozen=True)
class VersionFacts:
    known_kubernetes: tuple[KubeVersion, ...]
    dockershim_removed: KubeVersion
    pause_images: dict[str, str]
    scheduler_config_api: dict[str, str]
    kubeadm_config_api: dict[str, str]
    limits: dict[str, int]
    known_containerd: tuple[KubeVersion, ...]
    containerd_config_version: dict[str, int]

    @property
    def newest_kubernetes(self) -> KubeVersion:
        return max(self.known_kubernetes)

    @property
    def newest_containerd(self) -> KubeVersion:
        return max(self.known_containerd)

    def kubernetes(self, text: str | None) -> KubeVersion:
        """Parse and check a Kubernetes version against the known releases (None -> newest)."""
        if text is None:
            return self.newest_kubernetes
        version = KubeVersion.parse(text)
        if version not in self.known_kubernetes:
            known = f"{min(self.known_kubernetes)}..{self.newest_kubernetes}"
            raise BadInput(f"unknown Kubernetes version {text} (this catalogue knows {known})")
        return version

    def containerd(self, text: str | None) -> KubeVersion:
        if text is None:
            return self.newest_containerd
        version = KubeVersion.parse(text)
        if version not in self.known_containerd:
            known = ", ".join(str(v) for v in self.known_containerd)
            raise BadInput(f"unknown containerd version {text} (known: {known})")
        return version

    def pause_image(self, version: KubeVersion) -> str:
        return self.pause_images.get(str(version)) or self.pause_images[str(self.newest_kubernetes)]

    def scheduler_api(self, version: KubeVersion) -> str | None:
        """The KubeSchedulerConfiguration apiVersion, or None before component config existed."""
        return _floor_lookup(self.scheduler_config_api, version)

    def kubeadm_api(self, version: KubeVersion) -> str:
        return _floor_lookup(self.kubeadm_config_api, version) or "kubeadm.k8s.io/v1beta2"

    def containerd_config(self, version: KubeVersion) -> int:
        return self.containerd_config_version[str(version.major)]


@cache
def load_versions() -> VersionFacts:
    raw: dict[str, Any] = YAML(typ="safe").load(
        resources.files("kubekeeper.knowledge").joinpath("versions.yaml").read_text("utf-8")
    )
    k8s, ctd = raw["kubernetes"], raw["containerd"]
    return VersionFacts(
        known_kubernetes=tuple(KubeVersion.parse(v) for v in k8s["known"]),
        dockershim_removed=KubeVersion.parse(k8s["dockershim_removed"]),
        pause_images=dict(k8s["pause_image"]),
        scheduler_config_api=dict(k8s["scheduler_config_api"]),
        kubeadm_config_api=dict(k8s["kubeadm_config_api"]),
        limits=dict(k8s["limits"]),
        known_containerd=tuple(KubeVersion.parse(v) for v in ctd["known"]),
        containerd_config_version={str(k): int(v) for k, v in ctd["config_version"].items()},
    )
