"""The etcd source: a verified snapshot from the leader, streamed into restic, and its restore.

restic 0.14 already reads `backup --stdin`, so the gRPC stream goes straight into restic with flat
memory and no temp file; if the stream breaks or fails verification, restic is killed before it
writes a snapshot, and the whole backup starts over from the (new) leader.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from kubekeeper.backup.source import BackupResult
from kubekeeper.errors import BadInput
from kubekeeper.etcd import restore as etcd_restore
from kubekeeper.etcd.client import EtcdClient, Endpoint, TLSConfig
from kubekeeper.etcd.snapshot import OpenSnapshot, SnapshotCheck, verify_file, with_leader_retries
from kubekeeper.repository import BackupSummary, Repository, Snapshot, details_of, selection, snapshot_tags

log = logging.getLogger(__name__)

KIND = "etcd"
SNAPSHOT_FILENAME = "etcd-snapshot.db"


@dataclass
class EtcdSource:
    endpoints: list[Endpoint]
    tls: TLSConfig = field(default_factory=TLSConfig)
    attempts: int = 3
    leader_wait: float = 30.0
    timeout: float = 5.0
    kind: str = KIND

    def describe(self) -> str:
        return f"etcd at {', '.join(e.url for e in self.endpoints)}"

    def back_up(self, repository: Repository, cluster: str) -> BackupResult:
        repository.ensure()
        with EtcdClient(self.endpoints, self.tls, self.timeout) as client:

            def store(opened: OpenSnapshot) -> BackupSummary:
                tags = snapshot_tags(KIND, cluster, opened.info.details())
                return repository.backup_stream(opened.chunks(), SNAPSHOT_FILENAME, tags, host=cluster)

            summary, info = with_leader_retries(client, store, attempts=self.attempts, leader_wait=self.leader_wait)
        warnings = (f"stored on attempt {info.attempt}, after the stream from an earlier leader broke",) if info.attempt > 1 else ()
        details = info.details()
        if info.check is not None:
            details["sha256"] = info.check.sha256
        details["endpoint"] = info.endpoint
        return BackupResult(KIND, cluster, summary.snapshot_id, details, summary, warnings)


def find_snapshot(repository: Repository, snapshot: str, cluster: str | None) -> Snapshot:
    return repository.resolve(snapshot, selection(KIND, cluster))


def fetch_snapshot(repository: Repository, snapshot: Snapshot, directory: Path) -> tuple[Path, SnapshotCheck]:
    """`restic dump` the db into a private directory and check its SHA-256 trailer."""
    target = directory / SNAPSHOT_FILENAME
    with open(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
        repository.dump(snapshot.id, f"/{SNAPSHOT_FILENAME}", out)
    return target, verify_file(target)


@dataclass(frozen=True)
class RestoreOutcome:
    snapshot: Snapshot
    data_dir: Path
    moved_aside: Path | None
    tool: str
    check: SnapshotCheck

    def as_json(self) -> dict:
        return {
            "snapshot_id": self.snapshot.id,
            "data_dir": str(self.data_dir),
            "moved_aside": str(self.moved_aside) if self.moved_aside else None,
            "tool": self.tool,
            "sha256": self.check.sha256,
            "details": details_of(self.snapshot.tags),
        }


def restore_member(
    repository: Repository,
    snapshot: Snapshot,
    member: etcd_restore.MemberRestore,
    *,
    force: bool = False,
    tool_path: Path | None = None,
) -> RestoreOutcome:
    """Fetch, verify, and restore one member's data dir (the temp copy is always removed)."""
    details = details_of(snapshot.tags)
    recorded = details.get("members", "")
    if recorded and len(member.initial_cluster) != int(details.get("member_count", len(recorded.split(";")))):
        log.warning(
            "the snapshot came from a %s-member cluster (%s); restoring into %d member(s)",
            details.get("member_count"), recorded, len(member.initial_cluster),
        )
    if member.data_dir.exists() and not force and not etcd_restore.is_empty_dir(member.data_dir):
        raise BadInput(f"--data-dir {member.data_dir} is not empty; pass --force to move it aside (it is never deleted)")
    tool = etcd_restore.find_tool(details.get("etcd_version", ""), tool_path)
    workdir = Path(tempfile.mkdtemp(prefix="kubekeeper-etcd-restore-"))  # mode 0700
    try:
        snapshot_file, check = fetch_snapshot(repository, snapshot, workdir)
        moved = etcd_restore.restore_member(tool, snapshot_file, member, force=force)
        etcd_restore.check_restored(member.data_dir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return RestoreOutcome(snapshot, member.data_dir, moved, f"{Path(tool.path).name} ({tool.kind})", check)
