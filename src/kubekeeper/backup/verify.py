"""`kubekeeper verify`: a restore drill over one backup set (or one snapshot).

By default every byte of the set is read back (restic decrypts and authenticates each blob), so a
damaged pack holding any of the set's data is found every time, not by sampling. Each snapshot is
checked by its data source (backup/sources/; a kind without one is read back in full):

- etcd: the snapshot is fetched, its SHA-256 trailer checked, restored into a scratch data dir with
  the matching etcdutl/etcdctl (revision bumped as a real restore would), and its revision compared
  with the one recorded at backup time; the deltas the follower stored after it are replayed and
  checked against what the last one recorded (`latest` never picks a delta; naming one checks its chain);
- registry: the stored OCI layout is restored and every blob and manifest digest recomputed, and
  every manifest the index names must be present;
- volumes: every file is read (`restic dump` of the whole snapshot, no disk space needed), and a
  sample is also restored with `restic restore --verify` and compared with the snapshot's listing;
- repository: `restic check` (structure), plus `--read-data-subset` of all pack files when asked.

`--quick` reads volume data only for the sample, and says exactly what share of bytes that was.
Nothing outside a private temp directory is touched.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path

from kubekeeper.backup import sources
from kubekeeper.backup.source import DEFAULT_SAMPLE, AnySource, Verified, VerifyOptions
from kubekeeper.errors import BadInput, KubekeeperError
from kubekeeper.progress import SILENT, Progress
from kubekeeper.repository import Repository, Snapshot, details_of, selection
from kubekeeper.repository.retention import DELTA_KIND
from kubekeeper.repository.tags import kind_of

log = logging.getLogger(__name__)

__all__ = ["DEFAULT_SAMPLE", "Check", "VerifyOptions", "VerifyReport", "select_snapshots", "verify"]


@dataclass
class Check:
    part: str
    subject: str
    ok: bool
    message: str
    bytes_read: int = 0


@dataclass
class VerifyReport:
    snapshots: list[str] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    #: what share of the set's data was read back: "all" or an exact "x of y bytes (p%)"
    coverage: str = ""

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    def as_json(self) -> dict[str, object]:
        return {"ok": self.ok, "snapshots": self.snapshots, "coverage": self.coverage, "checks": [asdict(c) for c in self.checks]}


def select_snapshots(repo: Repository, snapshot: str, cluster: str | None) -> list[Snapshot]:
    """The backup set of `snapshot` (latest: the newest set), or that snapshot alone if it has no set.
    Incomplete snapshots are never part of a set (Repository.snapshots leaves them out)."""
    if not snapshot or not snapshot.strip():
        raise BadInput("--snapshot is empty: give a snapshot id (or prefix) or 'latest'")
    everything = repo.snapshots(selection(cluster=cluster))
    if not everything:
        raise BadInput(f"no kubekeeper snapshots in {repo.spec.display}" + (f" for cluster {cluster}" if cluster else ""))
    # the follower's deltas are checked with their chain, by the etcd source: they are never the anchor
    anchors = [s for s in everything if kind_of(s.tags) != DELTA_KIND] or everything
    if snapshot == "latest":
        anchor = anchors[-1]
    else:
        matches = [s for s in everything if s.id.startswith(snapshot)]
        if len(matches) != 1:
            raise BadInput(f"{'no' if not matches else 'more than one'} kubekeeper snapshot matches {snapshot!r}")
        anchor = matches[0]
        chain = details_of(anchor.tags).get("chain") if kind_of(anchor.tags) == DELTA_KIND else None
        anchor = next((s for s in anchors if chain and s.id.startswith(chain)), anchor)
    set_id = details_of(anchor.tags).get("set")
    if not set_id:
        return [anchor]
    return [s for s in everything if details_of(s.tags).get("set") == set_id]


def _guard(part: str, subject: str, check: Callable[[], Verified]) -> Check:
    try:
        verified = check()
        return Check(part, subject, True, verified.message, verified.bytes_read)
    except KubekeeperError as exc:
        return Check(part, subject, False, exc.message)
    except OSError as exc:
        return Check(part, subject, False, f"{type(exc).__name__}: {exc}")


def verify_whole(repo: Repository, snapshot: Snapshot) -> Verified:
    """A snapshot of a kind this kubekeeper has no source for: read all of it."""
    read = repo.read_all(snapshot.id)
    return Verified(f"read back in full ({read:,} bytes)", read)


def _described(snapshot: Snapshot) -> str:
    details = details_of(snapshot.tags)
    return details.get("pvc") or details.get("registry") or details.get("revision", "")


def _source_of(kind: str) -> AnySource | None:
    entry = sources.by_kind(kind)
    return entry.load() if entry is not None else None


def verify(repo: Repository, snapshot: str = "latest", *, cluster: str | None = None, options: VerifyOptions | None = None,
           progress: Progress = SILENT) -> VerifyReport:
    """Each snapshot of the set checked by its source (backup/sources/), then `restic check`."""
    options = options or VerifyOptions()
    snapshots = select_snapshots(repo, snapshot, cluster)
    report = VerifyReport(snapshots=[s.id for s in snapshots])
    for snap in snapshots:
        kind = kind_of(snap.tags) or "unknown"
        source = _source_of(kind)
        workdir = Path(tempfile.mkdtemp(prefix=f"kubekeeper-verify-{kind}-"))
        try:
            subject = f"{snap.short_id} {source.describe(snap) if source else _described(snap)}".strip()
            check = (partial(verify_whole, repo.reporting(progress), snap) if source is None
                     else partial(source.verify, repo, snap, scratch=workdir, options=options, progress=progress))
            report.checks.append(_guard(kind, subject, check))
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
    report.checks.append(_guard("repository", repo.spec.display, lambda: _restic_check(repo, options.read_data_subset)))
    report.coverage = ("every snapshot of the set read in full" if not options.quick
                       else "volumes: only the sampled files were read (see each check); etcd and registry in full")
    return report


def _restic_check(repo: Repository, subset: str | None) -> Verified:
    repo.check(read_data_subset=subset)
    if subset:
        return Verified(f"restic check: structure ok, and {subset} of all pack files in the repository read back without errors", 0)
    return Verified("restic check: structure ok (the set's data was read above; --read-data-subset also reads other packs)", 0)
