"""The etcd source: a verified snapshot from the leader, streamed into restic; restored into one
member's data dir; verified by a restore into a scratch data dir.

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
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from kubekeeper.backup.source import BackupResult, Entry, RestoreResult, Verified, VerifyOptions
from kubekeeper.errors import BadInput, VerificationFailed
from kubekeeper.etcd import restore as etcd_restore
from kubekeeper.etcd.client import Endpoint, EtcdClient, TLSConfig, parse_endpoints
from kubekeeper.etcd.relay import RelaySession
from kubekeeper.etcd.snapshot import OpenSnapshot, SnapshotCheck, SnapshotInfo, verify_file, with_leader_retries
from kubekeeper.progress import Progress
from kubekeeper.repository import (
    BackupSummary,
    Repository,
    RepositoryError,
    Snapshot,
    details_of,
    features,
    selection,
    snapshot_tags,
)
from kubekeeper.repository.tags import cluster_of

if TYPE_CHECKING:  # cluster.yaml's schema (pydantic) is loaded by `backup all`, not by every backup
    from kubekeeper.config.schema import ClusterConfig

log = logging.getLogger(__name__)

KIND = "etcd"
SNAPSHOT_FILENAME = "etcd-snapshot.db"


@dataclass(frozen=True)
class EtcdOrigin:
    """The cluster to snapshot, and how patiently."""

    endpoints: tuple[Endpoint, ...]
    tls: TLSConfig = field(default_factory=TLSConfig)
    attempts: int = 3
    leader_wait: float = 30.0
    timeout: float = 5.0


@dataclass(frozen=True)
class EtcdTarget:
    """One member of the new cluster: every member restores the same snapshot with the same bump."""

    member: etcd_restore.MemberRestore
    force: bool = False
    tool: Path | None = None  # etcdutl/etcdctl to restore with; default: found on PATH for the snapshot's version
    #: None: the default bump, plus (after a replay) the distance to the newest revision the repository knows
    bump: int | None = None
    #: point in time: replay the snapshot's chain of deltas up to this revision or this time (None: all of it)
    revision: int | None = None
    at: datetime | None = None
    #: False: restore the full snapshot alone, even if the follower stored deltas after it
    replay: bool = True


class EtcdSource:
    kind = KIND
    part = "etcd"
    summary_keys = ("revision", "db_size", "member_count", "leader", "etcd_version")

    def enabled(self, config: ClusterConfig) -> bool:
        return config.etcd.enabled

    def from_config(self, config: ClusterConfig) -> EtcdOrigin:
        section = config.etcd
        tls = TLSConfig(cacert=section.cacert, cert=section.cert, key=section.key)
        return EtcdOrigin(tuple(parse_endpoints(section.endpoints, tls)), tls)

    def back_up(self, repository: Repository, origin: EtcdOrigin, *, cluster: str, progress: Progress,
                on_open: Callable[[SnapshotInfo], None] | None = None) -> BackupResult:
        """`on_open` learns the snapshot's revision as its stream opens (the follower starts its watch
        then, not after the upload, which may outlast the cluster's compaction interval)."""
        relayed = repository.has(features.STDIN_FROM_COMMAND)
        repository = repository.reporting(progress)
        with EtcdClient(list(origin.endpoints), origin.tls, origin.timeout) as client:

            def store(opened: OpenSnapshot) -> BackupSummary:
                if on_open is not None:
                    on_open(opened.info)
                tags = snapshot_tags(KIND, cluster, opened.info.details())
                if relayed:
                    return store_relayed(repository, opened, tags, host=cluster)
                return repository.backup_stream(opened.chunks(), SNAPSHOT_FILENAME, tags, host=cluster)

            summary, info = with_leader_retries(client, store, attempts=origin.attempts, leader_wait=origin.leader_wait)
        warnings = (f"stored on attempt {info.attempt}, after the stream from an earlier leader broke",) if info.attempt > 1 else ()
        details = info.details()
        if info.check is not None:
            details["sha256"] = info.check.sha256
        details["endpoint"] = info.endpoint
        return BackupResult(KIND, cluster, (summary.snapshot_id,), details, summary, warnings, summary.data_added)

    def find(self, repository: Repository, snapshot: str, *, cluster: str | None, target: EtcdTarget | None = None) -> Snapshot:
        return repository.resolve(snapshot, selection(KIND, cluster))

    def restore(self, repository: Repository, snapshot: Snapshot, target: EtcdTarget, *, progress: Progress) -> RestoreResult:
        """Fetch, verify, and restore one member's data dir (the temp copy is always removed); the
        revision is moved `target.bump` ahead when the tool can (see etcd/restore.py). When the
        follower stored deltas after the snapshot, they are replayed first (backup/etcd_chain.py)."""
        from kubekeeper.backup import etcd_chain  # it builds on this module

        details = details_of(snapshot.tags)
        member = target.member
        recorded = details.get("members", "")
        if recorded and len(member.initial_cluster) != int(details.get("member_count", len(recorded.split(";")))):
            log.warning(
                "the snapshot came from a %s-member cluster (%s); restoring into %d member(s)",
                details.get("member_count"), recorded, len(member.initial_cluster),
            )
        if member.data_dir.exists() and not target.force and not etcd_restore.is_empty_dir(member.data_dir):
            raise BadInput(f"--data-dir {member.data_dir} is not empty; pass --force to move it aside (it is never deleted)")
        tool = etcd_restore.find_tool(details.get("etcd_version", ""), target.tool)
        found = etcd_chain.chains(repository, cluster_of(snapshot.tags)) if target.replay else []
        chain = next((c for c in found if c.full.id == snapshot.id), None)
        workdir = Path(tempfile.mkdtemp(prefix="kubekeeper-etcd-restore-"))  # mode 0700
        point: dict[str, object] | None = None
        try:
            if chain is not None and (chain.deltas or target.revision is not None or target.at is not None):
                replayed = etcd_chain.replay(repository, etcd_chain.Target(chain, target.revision, target.at), tool, workdir, found)
                etcd_chain.check_replayed(replayed)
                snapshot_file, sha256 = replayed.snapshot_file, replayed.info.check.sha256 if replayed.info and replayed.info.check else ""
                point = {"chain": chain.full.short_id, "target_revision": replayed.target_revision, "deltas": replayed.deltas,
                         "events": replayed.events, "keys": replayed.keys, "highest_known_revision": replayed.highest_known}
                if not sha256:
                    sha256 = verify_file(snapshot_file).sha256
                before = etcd_restore.snapshot_revision(tool, snapshot_file)
                wanted = target.bump if target.bump is not None else etcd_chain.auto_bump(replayed.highest_known)
            else:
                snapshot_file, check = fetch_snapshot(repository.reporting(progress), snapshot, workdir)
                sha256 = check.sha256
                before = etcd_restore.snapshot_revision(tool, snapshot_file)
                wanted = target.bump if target.bump is not None else etcd_restore.DEFAULT_BUMP
            applied = etcd_restore.effective_bump(tool, wanted)
            moved = etcd_restore.restore_member(tool, snapshot_file, member, force=target.force, bump=applied)
            etcd_restore.check_restored(member.data_dir)
            after = etcd_restore.snapshot_revision(tool, member.data_dir / "member" / "snap" / "db")
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        report = {
            "snapshot_id": snapshot.id,
            "data_dir": str(member.data_dir),
            "moved_aside": str(moved) if moved else None,
            "tool": f"{tool.name} ({tool.kind})",
            "sha256": sha256,
            "bump_revision": applied,
            "snapshot_revision": before,  # as `snapshot status` reads them: of the snapshot file,
            "restored_revision": after,  # and of the restored member's db
            "details": details,
            "point_in_time": point,
        }
        return RestoreResult(KIND, snapshot.id, str(member.data_dir), report)

    def verify(self, repository: Repository, snapshot: Snapshot, *, scratch: Path, options: VerifyOptions,
               progress: Progress) -> Verified:
        """The SHA-256 trailer checked, a restore into a scratch data dir with the matching tool (revision
        bumped as a real restore would), and the revisions compared with the one recorded at backup time."""
        details = details_of(snapshot.tags)
        snapshot_file, check = fetch_snapshot(repository.reporting(progress), snapshot, scratch)
        member = etcd_restore.MemberRestore.build("verify", "verify=http://127.0.0.1:2380", scratch / "data")
        tool = etcd_restore.find_tool(details.get("etcd_version", ""), options.etcdutl)
        bump = etcd_restore.effective_bump(tool, etcd_restore.DEFAULT_BUMP)
        stored = etcd_restore.snapshot_revision(tool, snapshot_file)
        etcd_restore.restore_member(tool, snapshot_file, member, bump=bump)
        etcd_restore.check_restored(member.data_dir)
        restored = etcd_restore.snapshot_revision(tool, member.data_dir / "member" / "snap" / "db")
        recorded = int(details["revision"]) if details.get("revision", "").isdigit() else None
        revision_problem(stored, restored, recorded, bump)
        message = (f"sha256 {check.sha256[:12]}… ok, restored with {tool.name}, revision {stored} (recorded {recorded}), "
                   f"{restored:,} after a bump of {bump:,}")
        return Verified(message + verify_chain(repository, snapshot, tool, scratch), check.size)

    def describe(self, snapshot: Snapshot) -> str:
        return details_of(snapshot.tags).get("revision", "")

    def contents(self, repository: Repository, snapshot: Snapshot) -> Iterator[Entry]:
        """The one file: etcd's db, fingerprinted by the revision it holds (keys need a restore to list)."""
        revision = details_of(snapshot.tags).get("revision", "")
        for node in repository.list_files(snapshot.id):
            if node.get("type") == "file":
                yield Entry(str(node.get("path", "")), "file", int(node.get("size") or 0), f"revision {revision}")


SOURCE = EtcdSource()


def store_relayed(repository: Repository, opened: OpenSnapshot, tags: list[str], *, host: str) -> BackupSummary:
    """restic runs the relay, kubekeeper writes the stream into its FIFO; the snapshot exists only if
    the relay verified every byte (its verdict is read back for the details)."""
    with RelaySession() as session:

        def pump(restic: subprocess.Popen[bytes]) -> None:
            with session.open_writer(restic) as fifo:
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


def fetch_snapshot(repository: Repository, snapshot: Snapshot, directory: Path) -> tuple[Path, SnapshotCheck]:
    """`restic dump` the db into a private directory and check its SHA-256 trailer."""
    target = directory / SNAPSHOT_FILENAME
    with open(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
        repository.dump(snapshot.id, f"/{SNAPSHOT_FILENAME}", out)
    return target, verify_file(target)


def verify_chain(repository: Repository, snapshot: Snapshot, tool: etcd_restore.RestoreTool, scratch: Path) -> str:
    """Replay the snapshot's chain of deltas (if the follower stored any) in a scratch etcd: no revision
    may be missing, and the result must hold the revision and the key count the last delta recorded."""
    from kubekeeper.backup import etcd_chain  # it builds on this module

    found = etcd_chain.chains(repository, cluster_of(snapshot.tags))
    chain = next((c for c in found if c.full.id == snapshot.id), None)
    if chain is None or not chain.deltas:
        return ""
    workdir = scratch / "chain"
    workdir.mkdir(mode=0o700)
    replayed = etcd_chain.replay(repository, etcd_chain.Target(chain), tool, workdir, found)
    last = details_of(chain.deltas[-1].tags)
    if replayed.target_revision != int(last["to"]):
        raise VerificationFailed(f"chain of {snapshot.short_id}: replayed to revision {replayed.target_revision}, "
                                 f"the last delta recorded {last['to']}")
    if "keys" in last and int(last["keys"]) != replayed.keys:
        raise VerificationFailed(f"chain of {snapshot.short_id}: {replayed.keys} keys after the replay, the last delta "
                                 f"recorded {last['keys']} at revision {last['to']}")
    return (f"; chain of {len(chain.deltas)} delta(s), {replayed.events:,} events replayed to revision "
            f"{replayed.target_revision}, {replayed.keys:,} keys (recorded {last.get('keys', '?')})")


def revision_problem(stored: int | None, restored: int | None, recorded: int | None, bump: int) -> None:
    """Raise VerificationFailed unless the revisions agree.

    `snapshot status` reports the highest revision a key carries; an etcd that never had a write
    is at revision 1 yet reports 0, so 0 stands for 1 here (a backup of an empty etcd verifies)."""
    if stored is None or restored is None:
        raise VerificationFailed("cannot read the revision of the snapshot or of the restored db (snapshot status failed)")
    effective = max(stored, 1)
    if recorded is not None and effective < recorded:
        raise VerificationFailed(f"the snapshot's revision {stored} is older than the {recorded} recorded at backup time")
    if restored != stored + bump:
        raise VerificationFailed(f"the restored revision {restored} is not the snapshot's {stored} plus the bump {bump}")
