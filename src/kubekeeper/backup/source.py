"""The one shape every backup source has, so `backup all` and the CLI treat them alike.

A source knows its kind, describes itself, and stores one snapshot into a repository, tagged per
repository/tags.py. It must store nothing when any part fails (no partial snapshot reported as good).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from kubekeeper.repository import BackupSummary, Repository


@dataclass(frozen=True)
class BackupResult:
    kind: str
    cluster: str
    snapshot_id: str
    details: dict[str, object] = field(default_factory=dict)
    summary: BackupSummary | None = None
    warnings: tuple[str, ...] = ()

    def as_json(self) -> dict:
        doc: dict = {"kind": self.kind, "cluster": self.cluster, "snapshot_id": self.snapshot_id, "details": self.details}
        if self.summary is not None:
            doc["bytes"] = self.summary.total_bytes_processed
            doc["data_added"] = self.summary.data_added
            doc["duration"] = self.summary.total_duration
        if self.warnings:
            doc["warnings"] = list(self.warnings)
        return doc


@runtime_checkable
class Source(Protocol):
    kind: str

    def describe(self) -> str:
        """One line naming what is backed up (for logs and progress)."""
        ...

    def back_up(self, repository: Repository, cluster: str) -> BackupResult:
        """Store one snapshot; raise (and store nothing) if any part fails."""
        ...
