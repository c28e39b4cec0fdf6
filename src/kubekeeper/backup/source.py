"""The one shape of a data source - etcd, the registry, PVC volumes, and whatever comes next.

Each source is one module under backup/sources/ exposing `SOURCE`, an object with the methods below,
and is listed once in backup/sources/__init__.py. `backup all`, `verify`, `snapshots` and the
`backup`/`restore` command groups read that list, so adding a source adds its module, its line in
the list, its cluster.yaml section and its own command module (cli/sources/<kind>.py) - no other
command changes. A source object holds no settings: where its data comes from (the origin) and where
a restore puts it (the target) are values its command module builds from options, or the source
builds from cluster.yaml (`enabled`, `from_config`). Every source is then driven the same way:

    result = source.back_up(repository, origin, cluster="prod", progress=progress)
    snapshot = source.find(repository, "latest", cluster="prod", target=target)
    restored = source.restore(repository, snapshot, target, progress=progress)
    verified = source.verify(repository, snapshot, scratch=tmp, options=VerifyOptions(), progress=progress)
    listing = list(source.contents(repository, snapshot))

The contract every source keeps:
- back_up writes snapshots tagged `kubekeeper`, `kind:<kind>`, `cluster:<name>` plus details
  (repository/tags.py) and the repository's own tags (`set=<id>` in a backup set). It raises when
  anything failed; nothing partial is ever reported as a backup. A source that stores several
  snapshots (one per volume) raises `PartlyStored` naming what was stored and what was not.
- restore deletes nothing the operator had before the restored copy is complete, and says where
  the old data went when it had to move it.
- verify reads the snapshot back (every byte unless `options.quick` says otherwise) and raises
  VerificationFailed naming what is wrong.
- progress reaches the source as a callback (kubekeeper.progress): sources never print.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

from kubekeeper.errors import OperationFailed
from kubekeeper.progress import Progress
from kubekeeper.repository import BackupSummary, Repository, Snapshot

if TYPE_CHECKING:  # cluster.yaml's schema (pydantic) is loaded by `backup all`, not by every backup
    from kubekeeper.config.schema import ClusterConfig

DEFAULT_SAMPLE = 20


@dataclass(frozen=True)
class BackupResult:
    """What one back_up stored: every snapshot id (one for etcd and the registry, one per volume)."""

    kind: str
    cluster: str
    snapshots: tuple[str, ...]
    details: Mapping[str, Any] = field(default_factory=dict)  # a JSON document: what the source reports
    #: restic's summary when one restic run stored it all (etcd, registry)
    summary: BackupSummary | None = None
    warnings: tuple[str, ...] = ()
    #: new data the repository took in (restic's data_added, summed over the runs)
    bytes_added: int = 0

    @property
    def snapshot_id(self) -> str:
        return self.snapshots[0] if self.snapshots else ""

    def as_json(self) -> dict[str, object]:
        doc: dict[str, object] = {"kind": self.kind, "cluster": self.cluster, "id": self.snapshot_id,
                                  "short_id": self.snapshot_id[:8], "snapshot_id": self.snapshot_id, "details": dict(self.details)}
        if self.summary is not None:
            doc["bytes"] = self.summary.total_bytes_processed
            doc["data_added"] = self.summary.data_added
            doc["duration"] = self.summary.total_duration
        if self.warnings:
            doc["warnings"] = list(self.warnings)
        return doc


class PartlyStored(OperationFailed):
    """Some of a source's snapshots were stored and some were not; `result` holds what was stored
    (and, in its details, what failed and why). Exit 3: the run is not a complete backup."""

    def __init__(self, message: str, result: BackupResult) -> None:
        super().__init__(message)
        self.result = result


@dataclass(frozen=True)
class RestoreResult:
    """What one restore put where. `details` is the source's own report (`--format json`)."""

    kind: str
    snapshot_id: str
    #: where the data went, in words: a data dir, a registry, a directory
    target: str
    details: Mapping[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    def as_json(self) -> dict[str, object]:
        return dict(self.details)


@dataclass(frozen=True)
class VerifyOptions:
    """How hard `verify` reads: everything by default; `quick` lets a source sample (and say so)."""

    read_data_subset: str | None = None
    sample: int = DEFAULT_SAMPLE
    quick: bool = False
    etcdutl: Path | None = None
    seed: int | None = None


@dataclass(frozen=True)
class Verified:
    """A passed check: what was checked, in one line, and how many bytes were read back."""

    message: str
    bytes_read: int


@dataclass(frozen=True, order=True)
class Entry:
    """One item of a snapshot's content, for `ls` and `diff` (two entries with the same path and
    fingerprint hold the same thing)."""

    path: str  # unique within the snapshot: a file path, `repository:tag`, the etcd db
    type: str  # file | dir | symlink | manifest | ...
    size: int | None = None
    #: changes when the content does: a digest where one is stored, else size and modification time
    fingerprint: str = ""


OriginT = TypeVar("OriginT")
TargetT = TypeVar("TargetT", contravariant=True)


@runtime_checkable
class Source(Protocol[OriginT, TargetT]):
    """One kind of data. `OriginT`: where a backup reads it; `TargetT`: where a restore puts it."""

    #: the snapshots' `kind:<kind>` tag; also `backup <kind>`, `restore <kind>`, `snapshots --kind <kind>`
    kind: str
    #: its cluster.yaml section, `backup all --skip <part>`, its name in run reports and metrics
    part: str
    #: details shown in a one-line listing (`snapshots`); empty: all of them
    summary_keys: tuple[str, ...]

    def enabled(self, config: ClusterConfig) -> bool:
        """Whether cluster.yaml turns this source on (`backup all` runs it as a part)."""
        ...

    def from_config(self, config: ClusterConfig) -> OriginT:
        """What `backup all` backs up of this source. Called when the part runs: secrets are read and
        files checked then, so a broken setting fails this part and the others are still stored."""
        ...

    def back_up(self, repository: Repository, origin: OriginT, *, cluster: str, progress: Progress) -> BackupResult:
        """Store the origin's data as snapshot(s) of `cluster`; raise if anything was not stored."""
        ...

    def find(self, repository: Repository, snapshot: str, *, cluster: str | None, target: TargetT | None = None) -> Snapshot:
        """The snapshot `snapshot` ('latest' or an id prefix) names among this source's snapshots of
        `cluster`, narrowed to those for `target` where a source keeps several series (one per volume)."""
        ...

    def restore(self, repository: Repository, snapshot: Snapshot, target: TargetT, *, progress: Progress) -> RestoreResult:
        """Put the snapshot's data into the target."""
        ...

    def verify(self, repository: Repository, snapshot: Snapshot, *, scratch: Path, options: VerifyOptions,
               progress: Progress) -> Verified:
        """Restore drill of one snapshot inside `scratch` (a private temp directory); raise if it fails."""
        ...

    def describe(self, snapshot: Snapshot) -> str:
        """What the snapshot holds, in a few words (a revision, a registry, a PVC), from its tags."""
        ...

    def contents(self, repository: Repository, snapshot: Snapshot) -> Iterator[Entry]:
        """What the snapshot holds, item by item, in a stable order."""
        ...


#: how the registry (backup/sources/__init__.py) hands a source to callers that work with any kind
AnySource = Source[Any, Any]
