"""The settings catalogue: scale recommendations kept as data (YAML), loaded into typed models."""

from kubekeeper.knowledge.catalogue import (
    Catalogue,
    Setting,
    Tier,
    VersionRange,
    load_catalogue,
)
from kubekeeper.knowledge.versions import KubeVersion, VersionFacts, load_versions

__all__ = [
    "Catalogue",
    "KubeVersion",
    "Setting",
    "Tier",
    "VersionFacts",
    "VersionRange",
    "load_catalogue",
    "load_versions",
]
