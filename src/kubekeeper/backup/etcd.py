"""The etcd source: a verified snapshot from the leader, streamed into restic, and its restore.

The gRPC stream goes into restic with flat memory and no temp file. With restic 0.16+ restic itself
runs a small relay (etcd/relay.py) that passes the stream on and exits 0 only when etcd's SHA-256
trailer and the announced size match; restic commits the snapshot only then. Whatever cuts the
stream - a broken leader, a failed check, kubekeeper killed even with kill -9 (restic and the relay
die with it) - no snapshot is written, and a broken stream starts over from the (new) leader.
restic 0.14/0.15 read `backup --stdin` fed by kubekeeper, which verifies and kills restic before
it can commit a bad stream; only a kill -9 of kubekeeper in the microseconds between the end of the
stream and restic's death is not covered there (restic 0.16+ closes that gap).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from kubekeeper.backup.source import BackupResult
from kubekeeper.errors import BadInput, VerificationFailed
from kubekeeper.etcd import restore as etcd_restore
from kubekeeper.etcd.client import EtcdClient, Endpoint, TLSConfig
from kubekeeper.etcd.relay import RelaySession
from kubekeeper.etcd.snapshot import OpenSnapshot, SnapshotCheck, verify_file, with_leader_retries
from kubekeeper.repository import BackupSummary, Repository, RepositoryError, Snapshot, details_of, selection, snapshot_tags
from kubekeeper.repository import features

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
        relayed = repository.has(features.STDIN_FROM_COMMAND)
        with EtcdClient(self.endpoints, self.tls, self.timeout) as client:

            def store(opened: OpenSnapshot) -> BackupSummary:
                tags = snapshot_tags(KIND, cluster, opened.info.details())
                if relayed:
                    return store_relayed(repository, opened, tags, host=cluster)
                return repository.backup_stream(opened.chunks(), SNAPSHOT_FILENAME, tags, host=cluster)

            summary, info = with_leader_retries(client, store, attempts=self.attempts, leader_wait=self.leader_wait)
        warnings = (f"stored on attempt {info.attempt}, after the stream from an earlier leader broke",) if info.attempt > 1 else ()
        details = info.details()
        if info.check is not None:
            details["sha256"] = info.check.sha256
        details["endpoint"] = info.endpoint
        return BackupResult(KIND, cluster, summary.snapshot_id, details, summary, warnings)


def store_relayed(repository: Repository, opened: OpenSnapshot, tags: list[str], *, host: str) -> BackupSummary:
    """restic runs the relay, kubekeeper writes the stream into its FIFO; the snapshot exists only if
    the relay verified every byte (its verdict is read back for the details)."""
    with RelaySession() as session:

        def pump(_restic: object) -> None:
            with session.open_writer(_restic) as fifo:  # type: ignore[arg-type]
                for chunk in opened.chunks(verify=False):
                    fifo.write(chunk)

        producer = session.argv(opened.info.db_size, f"snapshot from {opened.info.endpoint}")
        try:
            summary = repository.backup_command(producer, SNAPSHOT_FILENAME, tags, pump, host=host)
        except RepositoryError:
            verdict = session.verdict()
            if verdict is not None and not verdict.get("ok"):
                raise VerificationFailed(str(verdict.get("error"))) from None
            raise
        opened.info.check = session.check()
    return summary


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
    bump: int = 0
    #: revisions `snapshot status` reads: of the snapshot file, and of the restored member's db
    snapshot_revision: int | None = None
    restored_revision: int | None = None

    def as_json(self) -> dict:
        return {
            "snapshot_id": self.snapshot.id,
            "data_dir": str(self.data_dir),
            "moved_aside": str(self.moved_aside) if self.moved_aside else None,
            "tool": self.tool,
            "sha256": self.check.sha256,
            "bump_revision": self.bump,
            "snapshot_revision": self.snapshot_revision,
            "restored_revision": self.restored_revision,
            "details": details_of(self.snapshot.tags),
        }


def restore_member(
    repository: Repository,
    snapshot: Snapshot,
    member: etcd_restore.MemberRestore,
    *,
    force: bool = False,
    tool_path: Path | None = None,
    bump: int = etcd_restore.DEFAULT_BUMP,
) -> RestoreOutcome:
    """Fetch, verify, and restore one member's data dir (the temp copy is always removed); the
    revision is moved `bump` ahead when the tool can (see etcd/restore.py)."""
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
    applied = etcd_restore.effective_bump(tool, bump)
    workdir = Path(tempfile.mkdtemp(prefix="kubekeeper-etcd-restore-"))  # mode 0700
    try:
        snapshot_file, check = fetch_snapshot(repository, snapshot, workdir)
        before = etcd_restore.snapshot_revision(tool, snapshot_file)
        moved = etcd_restore.restore_member(tool, snapshot_file, member, force=force, bump=applied)
        etcd_restore.check_restored(member.data_dir)
        after = etcd_restore.snapshot_revision(tool, member.data_dir / "member" / "snap" / "db")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return RestoreOutcome(snapshot, member.data_dir, moved, f"{tool.name} ({tool.kind})", check, applied, before, after)
