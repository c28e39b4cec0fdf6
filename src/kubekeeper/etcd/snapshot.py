"""Taking a verified snapshot from the etcd leader.

etcd's Maintenance.Snapshot stream is the bbolt db followed by a SHA-256 of it (see trailer.py). We
check it *while streaming*, and the stream's consumer stores nothing if it does not match.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TypeVar

import grpc

from kubekeeper.errors import OperationFailed, VerificationFailed
from kubekeeper.etcd.client import ClusterView, EtcdClient, EtcdUnreachable, MemberStatus, NoLeader, SnapshotInterrupted
from kubekeeper.etcd.trailer import PAGE, SHA256_SIZE, SnapshotCheck, TrailerVerifier, verify_file

log = logging.getLogger(__name__)

T = TypeVar("T")
__all__ = ["PAGE", "SHA256_SIZE", "OpenSnapshot", "SnapshotCheck", "SnapshotInfo", "TrailerVerifier", "save_snapshot",
           "verify_file", "with_leader_retries"]


@dataclass
class SnapshotInfo:
    """What the snapshot is, recorded as restic tag details (no commas allowed in values)."""

    endpoint: str
    leader: str
    leader_id: int
    members: tuple[str, ...]
    etcd_version: str
    revision: int
    revision_max: int
    db_size: int
    attempt: int = 1
    check: SnapshotCheck | None = None

    def details(self) -> dict[str, object]:
        details: dict[str, object] = {
            "revision": self.revision,
            "db_size": self.db_size,
            "members": ";".join(self.members),
            "member_count": len(self.members),
            "leader": self.leader,
            "etcd_version": self.etcd_version,
        }
        if self.revision_max != self.revision:
            # writes raced the start of the snapshot: its revision lies in [revision, revision_max]
            details["revision_max"] = self.revision_max
        return details


@dataclass
class OpenSnapshot:
    """A snapshot stream opened on the leader; iterate `chunks()` once. Verification runs at its end."""

    info: SnapshotInfo
    first: bytes
    rest: Iterator[Any]  # the gRPC SnapshotResponse messages (pyetcd is untyped)
    verifier: TrailerVerifier = field(default_factory=TrailerVerifier)

    def chunks(self, *, verify: bool = True) -> Iterator[bytes]:
        """The stream's bytes, one gRPC message (32 KiB from etcd) at a time, verified at the end
        unless the consumer verifies them itself (`verify=False`: the relay restic runs does, see
        etcd/relay.py). Pieces are passed on as received - never copied into bigger ones here: a
        consumer that wants fewer, larger writes gathers them (RelaySession.open_writer uses writev)."""
        if verify:
            self.verifier.update(self.first)
        if self.first:
            yield self.first
        for response in self.rest:
            blob = response.blob
            if blob:
                if verify:
                    self.verifier.update(blob)
                yield blob
        if not verify:
            return
        self.info.check = self.verifier.finish(f"snapshot from {self.info.endpoint}")
        if self.info.check.db_size != self.info.db_size:
            raise VerificationFailed(
                f"snapshot from {self.info.endpoint}: got {self.info.check.db_size} db bytes, "
                f"the member announced {self.info.db_size}; not stored as good"
            )


def find_leader(client: EtcdClient, view: ClusterView) -> tuple[str, MemberStatus] | None:
    """A URL on which the leader itself answers (a listed endpoint first, then its advertised URLs)."""
    for url in view.leader_urls():
        try:
            status = client.status(url)
        except grpc.RpcError:
            client.forget(url)
            continue
        if status.member_id == view.leader_id and status.is_leader:
            return url, status
    return None


def wait_for_leader(client: EtcdClient, wait: float, *, fail_fast: bool = False) -> tuple[ClusterView, str, MemberStatus]:
    """Discover the cluster, waiting up to `wait` seconds for an elected leader that answers
    (`fail_fast`: give up at once when no endpoint answers at all, e.g. on the first attempt)."""
    deadline = time.monotonic() + wait
    while True:
        try:
            view = client.discover()
            found = find_leader(client, view) if view.leader_id else None
            if found:
                return view, *found
            problem: OperationFailed = NoLeader(
                "the reachable etcd members know no reachable leader (election in progress or quorum lost)"
            )
        except EtcdUnreachable as exc:
            if fail_fast:
                raise
            problem = exc
        if time.monotonic() >= deadline:
            raise problem
        time.sleep(0.3)


def open_leader_snapshot(client: EtcdClient, *, leader_wait: float = 30.0, attempt: int = 1) -> OpenSnapshot:
    """Find the leader and open its snapshot stream; the first chunk is read before returning, so
    the revision is bracketed by the leader's status before and after the snapshot began."""
    view, url, before = wait_for_leader(client, leader_wait, fail_fast=attempt == 1)
    stream = client.snapshot(url)
    try:
        first = next(stream)
        after = client.status(url)
    except StopIteration as exc:
        raise SnapshotInterrupted(f"{url} sent an empty snapshot stream") from exc
    except grpc.RpcError as exc:
        client.forget(url)
        raise SnapshotInterrupted(f"leader {url} stopped answering as its snapshot began") from exc
    info = SnapshotInfo(
        endpoint=url,
        leader=view.name_of(view.leader_id),
        leader_id=view.leader_id,
        members=tuple(sorted(m.name or f"{m.id:x}" for m in view.members)),
        etcd_version=before.version,
        revision=before.revision,
        revision_max=after.revision,
        db_size=len(first.blob) + first.remaining_bytes,
        attempt=attempt,
    )
    log.info("snapshot from leader %s (%s), revision %d", info.leader, url, info.revision)
    return OpenSnapshot(info, first.blob, stream)


def with_leader_retries(
    client: EtcdClient,
    consume: Callable[[OpenSnapshot], T],
    *,
    attempts: int = 3,
    leader_wait: float = 30.0,
) -> tuple[T, SnapshotInfo]:
    """Run `consume` on a snapshot from the current leader; if the stream breaks (leader died,
    leadership moved, network), start over from the new leader. `consume` must store nothing
    when the stream raises (restic's stdin backup is killed; files are written atomically)."""
    last: OperationFailed | None = None
    for attempt in range(1, attempts + 1):
        try:
            opened = open_leader_snapshot(client, leader_wait=leader_wait, attempt=attempt)
            return consume(opened), opened.info
        except EtcdUnreachable as exc:
            if attempt == 1:
                raise
            last = exc
            log.warning("etcd snapshot attempt %d/%d failed: %s", attempt, attempts, exc.message)
        except (SnapshotInterrupted, NoLeader) as exc:
            last = exc
            log.warning("etcd snapshot attempt %d/%d failed: %s", attempt, attempts, exc.message)
    assert last is not None
    raise OperationFailed(f"etcd snapshot failed after {attempts} attempts, nothing was stored: {last.message}")


def save_snapshot(client: EtcdClient, path: Path, *, attempts: int = 3, leader_wait: float = 30.0) -> SnapshotInfo:
    """Write a verified snapshot file atomically (temp file + rename; removed on any failure)."""
    path = Path(path)

    def write(opened: OpenSnapshot) -> Path:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                _copy(opened.chunks(), handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp_name, path)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        return path

    _, info = with_leader_retries(client, write, attempts=attempts, leader_wait=leader_wait)
    return info


def _copy(chunks: Iterator[bytes], out: IO[bytes]) -> None:
    for chunk in chunks:
        out.write(chunk)
