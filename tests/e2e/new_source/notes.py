"""The `notes` source: a line of text per cluster, stored as one file. Small, but it keeps the
contract of backup/source.py like the real sources do."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from kubekeeper.backup.source import BackupResult, Entry, RestoreResult, Verified, VerifyOptions
from kubekeeper.config.schema import ClusterConfig
from kubekeeper.errors import VerificationFailed
from kubekeeper.progress import Progress
from kubekeeper.repository import Repository, Snapshot, details_of, selection, snapshot_tags

KIND = "notes"
FILENAME = "notes.txt"


@dataclass(frozen=True)
class NotesOrigin:
    text: str


@dataclass(frozen=True)
class NotesTarget:
    path: Path


@dataclass
class NotesSource:
    kind: str = KIND
    part: str = "notes"
    summary_keys: tuple[str, ...] = ("words",)
    verified: list[str] = field(default_factory=list)

    def enabled(self, config: ClusterConfig) -> bool:
        return True

    def from_config(self, config: ClusterConfig) -> NotesOrigin:
        return NotesOrigin(f"notes of cluster {config.cluster}")

    def back_up(self, repository: Repository, origin: NotesOrigin, *, cluster: str, progress: Progress) -> BackupResult:
        progress.phase(f"backing up {len(origin.text)} characters of notes")
        tags = snapshot_tags(KIND, cluster, {"words": len(origin.text.split())})
        summary = repository.backup_stream([origin.text.encode()], FILENAME, tags, host=cluster)
        return BackupResult(KIND, cluster, (summary.snapshot_id,), {"words": len(origin.text.split())}, summary,
                            bytes_added=summary.data_added)

    def find(self, repository: Repository, snapshot: str, *, cluster: str | None, target: NotesTarget | None = None) -> Snapshot:
        return repository.resolve(snapshot, selection(KIND, cluster))

    def restore(self, repository: Repository, snapshot: Snapshot, target: NotesTarget, *, progress: Progress) -> RestoreResult:
        with target.path.open("wb") as out:
            repository.dump(snapshot.id, f"/{FILENAME}", out)
        return RestoreResult(KIND, snapshot.id, str(target.path), {"snapshot_id": snapshot.id, "path": str(target.path)})

    def verify(self, repository: Repository, snapshot: Snapshot, *, scratch: Path, options: VerifyOptions,
               progress: Progress) -> Verified:
        buffer = io.BytesIO()
        repository.dump(snapshot.id, f"/{FILENAME}", buffer)
        words = len(buffer.getvalue().decode().split())
        if str(words) != details_of(snapshot.tags).get("words"):
            raise VerificationFailed(f"{words} words read back, {details_of(snapshot.tags).get('words')} recorded")
        self.verified.append(snapshot.id)
        return Verified(f"{words} words read back", len(buffer.getvalue()))

    def describe(self, snapshot: Snapshot) -> str:
        return f"{details_of(snapshot.tags).get('words', '?')} words"

    def contents(self, repository: Repository, snapshot: Snapshot) -> Iterator[Entry]:
        for node in repository.list_files(snapshot.id):
            yield Entry(str(node["path"]), str(node["type"]), int(node.get("size") or 0))


SOURCE = NotesSource()
