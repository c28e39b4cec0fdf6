"""Chains of etcd snapshots in a repository: a full snapshot (`kind:etcd`) and the deltas the
follower stored after it (`kind:etcd-delta`, `chain=<the full's short id>`), and how they come back.

- `RepositoryChainStore` is what the follower (etcd/follow.py) stores through: fulls with the etcd
  source's own back_up, deltas as one restic run each, streamed from memory (no temp file).
- `chains` reads the chains of a cluster from snapshot tags alone; `choose` picks the chain and the
  revision for a target (`--revision`, `--at`, or the newest state).
- `replay` rebuilds the store at the target revision: the full snapshot restored into a scratch
  etcd, the deltas folded and written into it, a verified snapshot taken back out
  (etcd/scratch.py says why a scratch etcd).
"""

from __future__ import annotations

import logging
import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from io import BytesIO
from itertools import islice
from pathlib import Path

from kubekeeper.backup.sources.etcd import SOURCE, EtcdOrigin, fetch_snapshot
from kubekeeper.errors import BadInput, VerificationFailed
from kubekeeper.etcd import delta as delta_format
from kubekeeper.etcd.client import EtcdClient
from kubekeeper.etcd.delta import Delta, Folded
from kubekeeper.etcd.follow import Follower, FollowSettings, FollowSummary, FullSnapshot
from kubekeeper.etcd.restore import DEFAULT_BUMP, RestoreTool
from kubekeeper.etcd.scratch import ScratchEtcd
from kubekeeper.etcd.snapshot import SnapshotInfo
from kubekeeper.progress import SILENT
from kubekeeper.repository import Repository, Snapshot, details_of, selection, snapshot_tags
from kubekeeper.repository.retention import DELTA_KIND

log = logging.getLogger(__name__)

#: restic dumps run side by side when a chain's deltas are fetched (each mostly waits: on the backend, on its index)
FETCH_WORKERS = 8


class RepositoryChainStore:
    """The follower's ChainStore: fulls and deltas of `cluster` in `repository`."""

    def __init__(self, repository: Repository, origin: EtcdOrigin, cluster: str) -> None:
        self.repository = repository
        self.origin = origin
        self.cluster = cluster

    def store_full(self, on_open: Callable[[int], None] | None = None) -> FullSnapshot:
        opened = (lambda info: on_open(info.revision)) if on_open is not None else None
        result = SOURCE.back_up(self.repository, self.origin, cluster=self.cluster, progress=SILENT, on_open=opened)
        return FullSnapshot(result.snapshot_id, int(result.details["revision"]))

    def store_delta(self, delta: Delta, lag: float) -> str:
        details: dict[str, object] = {"chain": delta.chain, "from": delta.first, "to": delta.last,
                                      "events": len(delta.events), "lag": f"{lag:.3f}"}
        if delta.keys is not None:
            details["keys"] = delta.keys
        tags = snapshot_tags(DELTA_KIND, self.cluster, details)
        summary = self.repository.backup_stream(delta.lines(), delta_format.FILENAME, tags, host=self.cluster)
        return summary.snapshot_id


def follow(repository: Repository, origin: EtcdOrigin, cluster: str, settings: FollowSettings,
           stop: threading.Event) -> FollowSummary:
    """Run the follower until `stop` is set: a full snapshot, then deltas (see etcd/follow.py)."""
    repository.require()
    with EtcdClient(list(origin.endpoints), origin.tls, origin.timeout) as client:
        return Follower(client, RepositoryChainStore(repository, origin, cluster), settings, stop).run()


@dataclass
class Chain:
    """A full snapshot and its deltas (ordered by revision)."""

    full: Snapshot
    deltas: list[Snapshot] = field(default_factory=list)

    @property
    def revision(self) -> int:
        """The revision the full snapshot was taken at (the leader's, as the stream began)."""
        return int(details_of(self.full.tags).get("revision", "0") or 0)

    @property
    def revision_max(self) -> int:
        """The snapshot's revision lies in [revision, revision_max] (writes can race its start)."""
        details = details_of(self.full.tags)
        return int(details.get("revision_max", details.get("revision", "0")) or 0)

    @property
    def last(self) -> int:
        """The newest revision this chain restores to."""
        return max([self.revision] + [int(details_of(d.tags)["to"]) for d in self.deltas])

    def deltas_upto(self, revision: int | None) -> list[Snapshot]:
        return [d for d in self.deltas if revision is None or int(details_of(d.tags)["from"]) <= revision]


def chains(repository: Repository, cluster: str | None) -> list[Chain]:
    """Every chain of the cluster, oldest full snapshot first (a full without deltas is a chain too)."""
    fulls = repository.snapshots(selection("etcd", cluster))
    found = [Chain(full) for full in fulls]
    by_id = {}
    for chain in found:
        by_id[chain.full.id[:8]] = chain
        if chain.full.original:  # a copy (restic copy) keeps the source repository's id there
            by_id.setdefault(chain.full.original[:8], chain)
    for delta in repository.snapshots(selection(DELTA_KIND, cluster)):
        details = details_of(delta.tags)
        owner = by_id.get(details.get("chain", ""))
        if owner is not None and details.get("from", "").isdigit() and details.get("to", "").isdigit():
            owner.deltas.append(delta)
    for chain in found:
        chain.deltas.sort(key=lambda d: (int(details_of(d.tags)["from"]), d.time))
    return found


def chain_of(repository: Repository, full: Snapshot) -> Chain:
    cluster = next((t.split(":", 1)[1] for t in full.tags if t.startswith("cluster:")), None)
    return next((c for c in chains(repository, cluster) if c.full.id == full.id), Chain(full))


@dataclass(frozen=True)
class Target:
    """What to restore: a chain, and the revision to replay it to (None: all of it)."""

    chain: Chain
    revision: int | None = None
    at: datetime | None = None


def choose(found: Sequence[Chain], *, revision: int | None = None, at: datetime | None = None) -> Target:
    """The newest chain whose full snapshot is at or before the target, and the target within it."""
    if not found:
        raise BadInput("no etcd snapshots to restore from")
    if revision is not None:
        candidates = [c for c in found if c.revision_max <= revision]
        if not candidates:
            raise BadInput(f"no etcd snapshot at or before revision {revision}: the oldest is at revision {found[0].revision}")
        chain = candidates[-1]
        if revision > chain.last:
            later = [c for c in found if c.revision_max > revision]
            hint = f"; the next full snapshot is at revision {later[0].revision}" if later else ""
            raise BadInput(f"revision {revision} is not in the repository: the chain of {chain.full.short_id} ends at "
                           f"revision {chain.last}{hint}")
        return Target(chain, revision)
    if at is not None:
        candidates = [c for c in found if c.full.time <= at]
        if not candidates:
            raise BadInput(f"no etcd snapshot at or before {at.isoformat()}: the oldest is from {found[0].full.time.isoformat()}")
        return Target(candidates[-1], None, at)
    return Target(found[-1])


def auto_bump(highest_known: int) -> int:
    """The bump of a replayed restore: the usual one plus the newest revision the source is known to have
    handed out, so the restored revision is past it whatever revision the replay ended at (a replay
    folds many revisions into few transactions). Depends only on the repository's tags, so every member
    gets the same value - `--print-commands` pins it anyway."""
    return DEFAULT_BUMP + highest_known


def highest_known(found: Sequence[Chain]) -> int:
    return max([c.last for c in found] + [c.revision_max for c in found] + [0])


def resolve(repository: Repository, target: Target) -> int:
    """The source revision the target stands for (`--at` becomes the newest revision seen by then)."""
    if target.revision is not None:
        return target.revision
    if target.at is None:
        return target.chain.last
    at = target.at.timestamp()
    reached = target.chain.revision
    for delta in iter_deltas(repository, target.chain.deltas):
        for event in delta.events:
            if event.seen > at:
                return reached
            reached = event.revision
    return reached


def iter_deltas(repository: Repository, snapshots: Sequence[Snapshot]) -> Iterator[Delta]:
    """The deltas' contents in order, fetched FETCH_WORKERS at a time a little ahead of the reader (one
    `restic dump` each, into memory, never to disk); only the look-ahead is held, whatever the chain's length."""

    def one(snapshot: Snapshot) -> Delta:
        out = BytesIO()
        repository.dump(snapshot.id, f"/{delta_format.FILENAME}", out)
        return delta_format.parse(out.getvalue(), name=f"delta {snapshot.short_id}")

    remaining = iter(snapshots)
    with ThreadPoolExecutor(max_workers=FETCH_WORKERS) as pool:
        ahead: deque[Future[Delta]] = deque(pool.submit(one, s) for s in islice(remaining, 2 * FETCH_WORKERS))
        try:
            while ahead:
                delta = ahead.popleft().result()
                following = next(remaining, None)
                if following is not None:
                    ahead.append(pool.submit(one, following))
                yield delta
        finally:
            for future in ahead:
                future.cancel()


def fetch_deltas(repository: Repository, snapshots: Sequence[Snapshot]) -> list[Delta]:
    return list(iter_deltas(repository, snapshots))


@dataclass
class Replayed:
    """A chain replayed to its target: the snapshot file to restore members from, and the figures."""

    snapshot_file: Path
    info: SnapshotInfo | None
    full: Snapshot
    target_revision: int  # the source's revision the keyspace now equals
    events: int
    deltas: int
    keys: int
    store_revision: int  # the scratch etcd's revision after the replay
    #: the newest revision the repository knows the source handed out (for the bump)
    highest_known: int
    recorded_keys: int | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass
class FoldReport:
    """What folding a chain read: deltas, and the last one folded in whole (its recorded key count)."""

    deltas: int = 0
    last_whole: Delta | None = None


def fold_chain(chain: Chain, deltas: Iterable[Delta], target: Target, report: FoldReport | None = None) -> Folded:
    """The chain's deltas folded up to the target as they arrive; a revision missing in the chain is an error."""
    report = report if report is not None else FoldReport()
    folded = Folded()
    at = target.at.timestamp() if target.at is not None else None
    expected = chain.revision + 1
    names = iter(chain.deltas)
    for delta in deltas:
        name = next(names).short_id
        delta_format.check_contiguous([(name, delta.first, delta.last)], expected - 1)
        expected = delta.last + 1
        report.deltas += 1
        events = delta.events if at is None else [e for e in delta.events if e.seen <= at]
        folded.leases.update(delta.leases)
        whole = folded.add(events, upto=target.revision) and len(events) == len(delta.events)
        if not whole:
            break
        report.last_whole = delta
    return folded


def replay(repository: Repository, target: Target, tool: RestoreTool, workdir: Path, found: Sequence[Chain]) -> Replayed:
    """Rebuild the keyspace at the target in a scratch etcd; the result's snapshot file is in `workdir`."""
    chain = target.chain
    wanted = chain.deltas_upto(target.revision)
    report = FoldReport()
    with ThreadPoolExecutor(max_workers=1) as side:  # the deltas are fetched and folded while the scratch etcd starts
        folding = side.submit(fold_chain, chain, iter_deltas(repository, wanted), target, report)
        full_file, _ = fetch_snapshot(repository, chain.full, workdir)
        replayed_file = workdir / "etcd-replayed.db"
        with ScratchEtcd(tool, full_file, workdir) as scratch:
            folded = folding.result()
            reached = folded.revision or chain.revision
            if target.revision is not None and reached < target.revision:
                raise VerificationFailed(f"the chain of {chain.full.short_id} holds revisions up to {reached}, not {target.revision}")
            store_revision = scratch.apply(folded, folded.leases)
            with scratch.client() as client:
                keys = client.count_keys(scratch.url)[0]
            info = scratch.save(replayed_file) if folded.events else None
    if info is None:  # nothing to replay: the full snapshot as it is
        os.replace(full_file, replayed_file)
    else:
        full_file.unlink(missing_ok=True)
    recorded = report.last_whole.keys if report.last_whole is not None and report.last_whole.last == reached else None
    highest = max(highest_known(found), reached)
    return Replayed(replayed_file, info, chain.full, reached, folded.events, report.deltas, keys, store_revision, highest, recorded)


def check_replayed(replayed: Replayed) -> None:
    """The replayed keyspace must hold the number of keys the follower counted at that revision."""
    if replayed.recorded_keys is not None and replayed.recorded_keys != replayed.keys:
        raise VerificationFailed(f"replayed to revision {replayed.target_revision}: {replayed.keys} keys, the follower counted "
                                 f"{replayed.recorded_keys} at that revision")
