"""Media types and the few facts we read from manifests: which blobs and child manifests they name.

Manifests are stored and pushed as their exact bytes; parsing here is only for walking the graph.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
MANIFEST_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST, OCI_INDEX, DOCKER_LIST)
#: Accept header for manifest GET/HEAD: every kind we can store, so the registry never converts
ACCEPT = ", ".join(MANIFEST_TYPES)
HELM_CONFIG = "application/vnd.cncf.helm.config.v1+json"

DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Descriptor:
        return cls(str(doc.get("mediaType", "")), check_digest(str(doc["digest"])), int(doc.get("size", 0)))


@dataclass(frozen=True)
class Parsed:
    """What one manifest references: child manifests (indexes), blobs (config + layers), subject."""

    media_type: str
    manifests: tuple[Descriptor, ...]
    blobs: tuple[Descriptor, ...]
    subject: Descriptor | None


def check_digest(digest: str) -> str:
    """Only sha256 digests, strictly formatted: they become file names in the layout."""
    if not DIGEST_RE.match(digest):
        raise ValueError(f"unsupported or malformed digest {digest!r}")
    return digest


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def parse(data: bytes, content_type: str = "") -> Parsed:
    doc = json.loads(data)
    media_type = doc.get("mediaType") or content_type.split(";")[0].strip()
    if not media_type:
        media_type = OCI_INDEX if "manifests" in doc else OCI_MANIFEST
    manifests = tuple(Descriptor.from_json(d) for d in doc.get("manifests", []) or [])
    blobs: list[Descriptor] = []
    if isinstance(doc.get("config"), dict):
        blobs.append(Descriptor.from_json(doc["config"]))
    blobs.extend(Descriptor.from_json(d) for d in doc.get("layers", []) or [])
    blobs.extend(Descriptor.from_json(d) for d in doc.get("blobs", []) or [])  # OCI artifact manifest
    subject = Descriptor.from_json(doc["subject"]) if isinstance(doc.get("subject"), dict) else None
    return Parsed(media_type, manifests, tuple(blobs), subject)


def fallback_tag(digest: str) -> str:
    """The OCI 1.1 referrers tag schema: `sha256-<hex>` (cosign adds `.sig`, `.att`, `.sbom`)."""
    algorithm, hexpart = check_digest(digest).split(":", 1)
    return f"{algorithm}-{hexpart}"
