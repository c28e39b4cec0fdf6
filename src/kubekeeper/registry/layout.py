"""The persistent OCI image layout that is both the sync cache and what restic backs up.

    <cache>/layout/oci-layout
    <cache>/layout/index.json          one entry per (repository, tag) or untagged referrer
    <cache>/layout/blobs/sha256/<hex>  every blob and manifest once, shared by all repositories
    <cache>/ingest/<hex>.partial       downloads in flight (never backed up, resumed next run)

A blob enters `blobs/` only by rename after its digest was verified, so the layout never holds a
partial or corrupt blob, and a killed run resumes from `ingest/`. The same holds when the cache's
disk fills up: every write error names the file (an OSError with `filename`), and `holdings` says
what the cache kept for the next run.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubekeeper.errors import VerificationFailed
from kubekeeper.fsutil import write_atomic
from kubekeeper.registry import media
from kubekeeper.registry.media import Descriptor

REPOSITORY_ANNOTATION = "io.kubekeeper.repository"
TAG_ANNOTATION = "org.opencontainers.image.ref.name"
LAYOUT_DIR = "layout"
INGEST_DIR = "ingest"


@dataclass(frozen=True, order=True)
class Entry:
    """One reference the registry had: repository + tag (None for an untagged referrer) -> manifest."""

    repository: str
    tag: str | None
    digest: str
    media_type: str
    size: int

    def to_json(self) -> dict[str, Any]:
        annotations = {REPOSITORY_ANNOTATION: self.repository}
        if self.tag is not None:
            annotations[TAG_ANNOTATION] = self.tag
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size, "annotations": annotations}

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Entry:
        annotations = doc.get("annotations") or {}
        return cls(annotations[REPOSITORY_ANNOTATION], annotations.get(TAG_ANNOTATION), media.check_digest(doc["digest"]),
                   doc.get("mediaType", ""), int(doc.get("size", 0)))


@dataclass(frozen=True)
class Holdings:
    blobs: int
    blob_bytes: int
    partials: int
    partial_bytes: int


class Layout:
    def __init__(self, cache: Path) -> None:
        self.cache = Path(cache)
        self.root = self.cache / LAYOUT_DIR
        self.blobs = self.root / "blobs" / "sha256"
        self.ingest = self.cache / INGEST_DIR

    @classmethod
    def at(cls, root: Path) -> Layout:
        """A layout whose `layout/` directory is `root` (e.g. found inside a restic restore)."""
        return cls(Path(root).parent) if Path(root).name == LAYOUT_DIR else cls(Path(root))

    def ensure(self) -> Layout:
        self.blobs.mkdir(parents=True, exist_ok=True)
        self.ingest.mkdir(parents=True, exist_ok=True)
        marker = self.root / "oci-layout"
        if not marker.exists():
            write_atomic(marker, json.dumps({"imageLayoutVersion": "1.0.0"}))
        return self

    # ------------------------------------------------------------------ blobs
    def blob_path(self, digest: str) -> Path:
        return self.blobs / media.check_digest(digest).split(":", 1)[1]

    def has(self, digest: str) -> bool:
        return self.blob_path(digest).is_file()

    def partial_path(self, digest: str) -> Path:
        return self.ingest / (media.check_digest(digest).split(":", 1)[1] + ".partial")

    def commit(self, digest: str) -> None:
        """Move a verified download from ingest/ into blobs/ (atomic rename, same filesystem)."""
        os.replace(self.partial_path(digest), self.blob_path(digest))

    def put_bytes(self, data: bytes, digest: str) -> None:
        if media.sha256_digest(data) != digest:
            raise VerificationFailed(f"refusing to store {digest}: content does not match")
        if self.has(digest):
            return
        fd, tmp = tempfile.mkstemp(prefix=".manifest-", dir=self.ingest)  # unique: threads may race
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, self.blob_path(digest))
        except OSError as exc:  # disk full: no half-written manifest stays behind, the error names the blob
            Path(tmp).unlink(missing_ok=True)
            raise OSError(exc.errno, exc.strerror, str(self.blob_path(digest))) from exc

    def read(self, digest: str) -> bytes:
        return self.blob_path(digest).read_bytes()

    def verify_blob(self, digest: str) -> None:
        hasher = hashlib.sha256()
        with self.blob_path(digest).open("rb") as handle:
            for piece in iter(lambda: handle.read(1 << 20), b""):
                hasher.update(piece)
        if "sha256:" + hasher.hexdigest() != digest:
            raise VerificationFailed(f"blob {digest} in {self.root} is corrupt")

    def stored_digests(self) -> set[str]:
        if not self.blobs.is_dir():
            return set()
        return {"sha256:" + p.name for p in self.blobs.iterdir() if p.is_file()}

    def stored_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.blobs.iterdir() if p.is_file()) if self.blobs.is_dir() else 0

    def holdings(self) -> Holdings:
        """What the cache keeps for the next run: complete blobs, and downloads that will resume."""
        partials = [p.stat().st_size for p in self.ingest.glob("*.partial")] if self.ingest.is_dir() else []
        return Holdings(len(self.stored_digests()), self.stored_bytes(), len(partials), sum(partials))

    # ------------------------------------------------------------------ index
    def entries(self) -> list[Entry]:
        path = self.root / "index.json"
        if not path.exists():
            return []
        doc = json.loads(path.read_text())
        return [Entry.from_json(d) for d in doc.get("manifests", []) if REPOSITORY_ANNOTATION in (d.get("annotations") or {})]

    def write_index(self, entries: Iterable[Entry]) -> None:
        doc = {"schemaVersion": 2, "mediaType": media.OCI_INDEX,
               "manifests": [e.to_json() for e in sorted(set(entries), key=lambda e: (e.repository, e.tag or "", e.digest))]}
        write_atomic(self.root / "index.json", json.dumps(doc, indent=1))

    # ------------------------------------------------------------------ graph
    def closure(self, digest: str) -> Iterator[tuple[str, Descriptor | None]]:
        """Every (digest, descriptor) reachable from a stored manifest, manifests children-first."""
        parsed = media.parse(self.read(digest))
        for child in parsed.manifests:
            yield from self.closure(child.digest)
        for blob in parsed.blobs:
            yield blob.digest, blob
        yield digest, None

    def gc(self, entries: Iterable[Entry]) -> int:
        """Remove blobs no entry reaches (tags deleted upstream); returns how many were removed."""
        keep: set[str] = set()
        for entry in entries:
            keep.update(d for d, _ in self.closure(entry.digest))
        removed = 0
        for digest in self.stored_digests() - keep:
            self.blob_path(digest).unlink(missing_ok=True)
            removed += 1
        return removed
