"""Release numbers (Kubernetes "1.24", containerd "1.7.10", etcd "3.6") and the version facts file."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache, total_ordering
from importlib import resources
from typing import Any, TypeVar

from ruamel.yaml import YAML

from kubekeeper.errors import BadInput

_VERSION_RE = re.compile(r"^v?(\d+)\.(\d+)(?:\.\d+)?(?:[-+~].*)?$")
_RELEASE_RE = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?(?:[-+~].*)?$")


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


#: a release given without a patch level stands for the newest patch of its line
_NEWEST_PATCH = 1 << 30


@total_ordering
@dataclass(frozen=True)
class Release:
    """MAJOR.MINOR[.PATCH] of containerd or etcd, where patch releases change defaults (containerd
    1.7.10 raised image_pull_progress_timeout). Without a patch it means the newest of that line."""

    major: int
    minor: int
    patch: int | None = None

    @classmethod
    def parse(cls, text: str, what: str = "version") -> Release:
        match = _RELEASE_RE.match(str(text).strip())
        if not match:
            raise BadInput(f"not a {what}: {text!r} (expected MAJOR.MINOR or MAJOR.MINOR.PATCH, e.g. 1.7 or 1.7.10)")
        patch = match.group(3)
        return cls(int(match.group(1)), int(match.group(2)), int(patch) if patch is not None else None)

    @property
    def line(self) -> Release:
        return Release(self.major, self.minor)

    def _key(self) -> tuple[int, int, int]:
        return (self.major, self.minor, _NEWEST_PATCH if self.patch is None else self.patch)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Release):
            return NotImplemented
        return self._key() < other._key()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Release) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}" + (f".{self.patch}" if self.patch is not None else "")


def first_of(key: str, kubernetes: bool) -> KubeVersion | Release:
    """The release a table key starts at: a containerd/etcd key "3.6" starts at 3.6.0."""
    if kubernetes:
        return KubeVersion.parse(key)
    release = Release.parse(key)
    return Release(release.major, release.minor, 0) if release.patch is None else release


V = TypeVar("V")


def floor_lookup(table: Mapping[Any, V], version: KubeVersion | Release) -> V | None:
    """The value of the highest key <= version, for tables keyed by the release a value starts at."""
    best: tuple[Any, V] | None = None
    for key, value in table.items():
        start = first_of(str(key), isinstance(version, KubeVersion))
        if start <= version and (best is None or start > best[0]):
            best = (start, value)
    return best[1] if best else None


# kept for callers of the old private name
_floor_lookup = floor_lookup


@dataclass(frozen=True)
class VersionFacts:
    known_kubernetes: tuple[KubeVersion, ...]
    dockershim_removed: KubeVersion
    pause_images: dict[str, str]
    scheduler_config_api: dict[str, str]
    kubeadm_config_api: dict[str, str]
    flowcontrol_api: dict[str, str]
    kubeadm_etcd: dict[str, str]
    limits: dict[str, int]
    known_containerd: tuple[Release, ...]
    containerd_config_version: dict[str, int]
    containerd_for_kubernetes: dict[str, tuple[Release, ...]]
    known_etcd: tuple[Release, ...]
    kubeadm_min_etcd: dict[str, str] = field(default_factory=dict)

    @property
    def newest_kubernetes(self) -> KubeVersion:
        return max(self.known_kubernetes)

    @property
    def newest_containerd(self) -> Release:
        return max(self.known_containerd)

    def kubernetes(self, text: str | None) -> KubeVersion:
        """Parse and check a Kubernetes version (None -> newest known). A minor newer than the newest
        known one is accepted: every fact is looked up by "the highest release <= version", so it is
        planned with the newest known release's facts (see `assumed_for`). Older or other-major
        releases are refused: nothing here says what they need."""
        if text is None:
            return self.newest_kubernetes
        version = KubeVersion.parse(text)
        newest = self.newest_kubernetes
        if version in self.known_kubernetes or (version > newest and version.major == newest.major):
            return version
        known = f"{min(self.known_kubernetes)}..{newest}"
        raise BadInput(f"unknown Kubernetes version {text} (this catalogue knows {known})")

    def assumed_for(self, version: KubeVersion) -> KubeVersion | None:
        """The known release whose facts stand in for a newer, unknown one (None when it is known)."""
        newest = self.newest_kubernetes
        return newest if version > newest else None

    def assumption_warning(self, version: KubeVersion) -> str | None:
        """What an operator must be told when `version` is planned with an older release's facts."""
        assumed = self.assumed_for(version)
        if assumed is None:
            return None
        return (f"Kubernetes {version} is newer than the newest release this catalogue knows ({assumed}): "
                f"defaults, removed flags, the pause image, kubeadm's etcd and the containerd pairing are "
                f"{assumed}'s; read the {version} changelog (urgent upgrade notes, removed flags) before applying")

    def containerd_lines_for(self, version: KubeVersion) -> tuple[Release, ...]:
        """containerd releases (newest line first, with the minimum patch) RELEASES.md pairs with it."""
        return floor_lookup(self.containerd_for_kubernetes, version) or ()

    def containerd(self, text: str | None, kubernetes: KubeVersion | None = None) -> Release:
        """Parse and check a containerd release; None -> the newest line that fits the Kubernetes version."""
        if text is None:
            fitting = self.containerd_lines_for(kubernetes) if kubernetes else ()
            return fitting[0].line if fitting else self.newest_containerd
        version = Release.parse(text, "containerd version")
        if version.line not in self.known_containerd:
            known = ", ".join(str(v) for v in self.known_containerd)
            raise BadInput(f"unknown containerd version {text} (known: {known})")
        return version

    def containerd_fit(self, containerd: Release, kubernetes: KubeVersion) -> str | None:
        """None when containerd's RELEASES.md recommends this containerd for that Kubernetes, else why not."""
        fitting = self.containerd_lines_for(kubernetes)
        if not fitting:
            return None
        row = self.containerd_row_for(kubernetes)
        listed = f"Kubernetes {kubernetes}" if row == kubernetes else f"Kubernetes {row} (it has no row for {kubernetes} yet)"
        for minimum in fitting:
            if minimum.line == containerd.line:
                if minimum.patch is not None and containerd < minimum:
                    return f"containerd {containerd} is older than {minimum}, the first {minimum.line} release recommended for {listed}"
                return None
        lines = ", ".join(f"{m}+" for m in fitting)
        return f"containerd {containerd.line} is not a recommended runtime for Kubernetes {kubernetes} (containerd RELEASES.md lists {lines} for {listed})"

    def containerd_row_for(self, kubernetes: KubeVersion) -> KubeVersion | None:
        """The Kubernetes row of containerd's table that applies (the highest one <= kubernetes)."""
        rows = [KubeVersion.parse(k) for k in self.containerd_for_kubernetes]
        below = [r for r in rows if not kubernetes < r]
        return max(below) if below else None

    def etcd_for(self, kubernetes: KubeVersion) -> Release:
        """The etcd kubeadm runs for this Kubernetes release (the patch its x.y.0 pins)."""
        return Release.parse(floor_lookup(self.kubeadm_etcd, kubernetes) or str(min(self.known_etcd)))

    def kubeadm_supports_etcd(self, etcd: Release, kubernetes: KubeVersion) -> str | None:
        """None when kubeadm of that release still supports this etcd line, else the oldest it does."""
        oldest = floor_lookup(self.kubeadm_min_etcd, kubernetes)
        if oldest and etcd.line < Release.parse(oldest).line:
            return oldest
        return None

    def etcd(self, text: str | None, kubernetes: KubeVersion) -> Release:
        if text is None:
            return self.etcd_for(kubernetes)
        version = Release.parse(text, "etcd version")
        if version.line not in self.known_etcd:
            known = ", ".join(str(v) for v in self.known_etcd)
            raise BadInput(f"unknown etcd version {text} (known: {known})")
        return version

    def pause_image(self, version: KubeVersion) -> str:
        return self.pause_images.get(str(version)) or self.pause_images[str(self.newest_kubernetes)]

    def scheduler_api(self, version: KubeVersion) -> str | None:
        """The KubeSchedulerConfiguration apiVersion, or None before component config existed."""
        return floor_lookup(self.scheduler_config_api, version)

    def kubeadm_api(self, version: KubeVersion) -> str:
        return floor_lookup(self.kubeadm_config_api, version) or "kubeadm.k8s.io/v1beta2"

    def flowcontrol(self, version: KubeVersion) -> str | None:
        return floor_lookup(self.flowcontrol_api, version)

    def containerd_config(self, version: Release) -> int:
        return self.containerd_config_version[str(version.major)]


@cache
def load_versions() -> VersionFacts:
    raw: dict[str, Any] = YAML(typ="safe").load(
        resources.files("kubekeeper.knowledge").joinpath("versions.yaml").read_text("utf-8")
    )
    k8s, ctd, etcd = raw["kubernetes"], raw["containerd"], raw["etcd"]
    return VersionFacts(
        known_kubernetes=tuple(KubeVersion.parse(v) for v in k8s["known"]),
        dockershim_removed=KubeVersion.parse(k8s["dockershim_removed"]),
        pause_images=dict(k8s["pause_image"]),
        scheduler_config_api=dict(k8s["scheduler_config_api"]),
        kubeadm_config_api=dict(k8s["kubeadm_config_api"]),
        flowcontrol_api=dict(k8s["flowcontrol_api"]),
        kubeadm_etcd={str(k): str(v) for k, v in k8s["kubeadm_etcd"].items()},
        kubeadm_min_etcd={str(k): str(v) for k, v in k8s.get("kubeadm_min_etcd", {}).items()},
        limits=dict(k8s["limits"]),
        known_containerd=tuple(Release.parse(v) for v in ctd["known"]),
        containerd_config_version={str(k): int(v) for k, v in ctd["config_version"].items()},
        containerd_for_kubernetes={str(k): tuple(Release.parse(x) for x in v) for k, v in ctd["for_kubernetes"].items()},
        known_etcd=tuple(Release.parse(v) for v in etcd["known"]),
    )
