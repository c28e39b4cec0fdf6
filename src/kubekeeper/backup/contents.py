"""`ls` and `diff`: what a snapshot holds and what changed between two backup sets, through each
source's `contents()` (backup/source.py), so a new source is listed and compared with no change here.

A volume snapshot lists its files, a registry snapshot its `repository:tag` references with their
manifest digests, an etcd snapshot its db with the revision it holds (the keys need a restore)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from kubekeeper.backup import sources
from kubekeeper.backup.listing import listing_key, series_of, set_tag
from kubekeeper.backup.source import AnySource, Entry
from kubekeeper.errors import BadInput
from kubekeeper.repository import Repository, Snapshot, details_of, selection
from kubekeeper.repository.tags import kind_of


@dataclass(frozen=True)
class Listing:
    snapshot: Snapshot
    kind: str
    entries: list[Entry]

    @property
    def total_size(self) -> int:
        return sum(e.size or 0 for e in self.entries)


def source_of(snapshot: Snapshot) -> AnySource:
    kind = kind_of(snapshot.tags) or ""
    entry = sources.by_kind(kind)
    if entry is None:
        raise BadInput(f"snapshot {snapshot.short_id} is of kind {kind or '(none)'}, which no data source of this "
                       f"kubekeeper lists ({', '.join(sources.kinds())}); `restic ls {snapshot.short_id}` shows its files")
    return entry.load()


def find_snapshot(repository: Repository, ref: str, *, cluster: str | None = None) -> Snapshot:
    """A kubekeeper snapshot by id or id prefix (`latest`: the newest of any kind)."""
    return repository.resolve(ref, selection(cluster=cluster))


def list_snapshot(repository: Repository, snapshot: Snapshot) -> Listing:
    source = source_of(snapshot)
    return Listing(snapshot, source.kind, list(source.contents(repository, snapshot)))


@dataclass
class SeriesDiff:
    """One series (etcd, registry, a PVC) compared between two sets; a missing side is None."""

    part: str
    name: str
    before: Snapshot | None
    after: Snapshot | None
    added: list[Entry] = field(default_factory=list)
    removed: list[Entry] = field(default_factory=list)
    changed: list[tuple[Entry, Entry]] = field(default_factory=list)

    @property
    def revision_change(self) -> tuple[str | None, str | None]:
        """etcd (or any source that records one): the revision before and after."""
        def revision(s: Snapshot | None) -> str | None:
            return details_of(s.tags).get("revision") if s is not None else None
        return revision(self.before), revision(self.after)

    @property
    def unchanged(self) -> bool:
        return (self.before is not None and self.after is not None and not (self.added or self.removed or self.changed)
                and self.revision_change[0] == self.revision_change[1])


@dataclass
class SetDiff:
    set_a: str
    set_b: str
    series: list[SeriesDiff] = field(default_factory=list)


def compare(before: Sequence[Entry], after: Sequence[Entry]) -> tuple[list[Entry], list[Entry], list[tuple[Entry, Entry]]]:
    """Entries added, removed, and changed (same path, different fingerprint, size or type)."""
    old = {e.path: e for e in before}
    new = {e.path: e for e in after}
    added = [new[p] for p in sorted(new.keys() - old.keys())]
    removed = [old[p] for p in sorted(old.keys() - new.keys())]
    changed = [(old[p], new[p]) for p in sorted(old.keys() & new.keys())
               if (old[p].fingerprint, old[p].size, old[p].type) != (new[p].fingerprint, new[p].size, new[p].type)]
    return added, removed, changed


def set_snapshots(repository: Repository, set_id: str, cluster: str | None = None) -> dict[tuple[str, ...], Snapshot]:
    """The snapshots of one backup set by series (the objects stored beside volumes left out)."""
    found = [s for s in repository.snapshots([*selection(cluster=cluster), set_tag(set_id)]) if series_of(s) is not None]
    if not found:
        raise BadInput(f"no snapshots of backup set {set_id} in {repository.spec.display} (see `kubekeeper snapshots`)")
    return {listing_key(s): s for s in sorted(found, key=lambda s: s.time)}


def diff_sets(repository: Repository, set_a: str, set_b: str, *, cluster: str | None = None) -> SetDiff:
    before, after = set_snapshots(repository, set_a, cluster), set_snapshots(repository, set_b, cluster)
    result = SetDiff(set_a, set_b)
    for key in sorted(before.keys() | after.keys()):
        a, b = before.get(key), after.get(key)
        series = series_of(a or b)  # type: ignore[arg-type]  # one side is always there
        assert series is not None
        diff = SeriesDiff(series[1], series[2], a, b)
        if a is not None and b is not None and a.id != b.id:
            diff.added, diff.removed, diff.changed = compare(list_snapshot(repository, a).entries,
                                                             list_snapshot(repository, b).entries)
        result.series.append(diff)
    return result
