"""Which snapshots a listing shows: series (one per part, one per PVC), restic-style filters
(`--tag`, `--path`, `--latest N`), and the snapshots of one backup set."""

from __future__ import annotations

import re
from collections.abc import Sequence

from kubekeeper.backup import sources
from kubekeeper.errors import BadInput
from kubekeeper.repository import Snapshot, details_of
from kubekeeper.repository.tags import cluster_of, kind_of

#: the kind issue 16's etcd follower stores its delta snapshots under, and its part's name
FOLLOWER_KIND = "etcd-delta"
FOLLOWER_PART = "etcd-follower"


def series_of(snapshot: Snapshot) -> tuple[str, str, str] | None:
    """(cluster, part, name) of a snapshot's series: etcd, registry, etcd-follower, or one PVC of
    volumes (NAMESPACE/NAME). None for what is no series of its own: the PVC/PV objects stored beside
    a volume's data, and kinds no source or follower writes."""
    kind = kind_of(snapshot.tags) or ""
    cluster = cluster_of(snapshot.tags) or ""
    details = details_of(snapshot.tags)
    if kind == FOLLOWER_KIND:
        return cluster, FOLLOWER_PART, FOLLOWER_PART
    entry = sources.by_kind(kind)
    if entry is None:
        return None
    if "pvc" in details:
        if details.get("part", "data") != "data":
            return None
        return cluster, entry.part, f"{details.get('namespace', '')}/{details['pvc']}"
    return cluster, entry.part, entry.part


def listing_key(snapshot: Snapshot) -> tuple[str, ...]:
    """The series for `--latest`: a part's series, else the snapshot's kind, cluster and paths."""
    series = series_of(snapshot)
    if series is not None:
        part = details_of(snapshot.tags).get("part", "data")
        return (*series, part)
    return (cluster_of(snapshot.tags) or "", kind_of(snapshot.tags) or "", *snapshot.paths)


def matches_tags(snapshot: Snapshot, tag_lists: Sequence[str]) -> bool:
    """restic's --tag: each value is a comma-separated list that must all be present; any value may match."""
    if not tag_lists:
        return True
    have = set(snapshot.tags)
    return any(all(t in have for t in filter(None, (x.strip() for x in value.split(",")))) for value in tag_lists)


def matches_paths(snapshot: Snapshot, paths: Sequence[str]) -> bool:
    """--path: the snapshot holds that path (or one below it)."""
    if not paths:
        return True
    wanted = [p.rstrip("/") or "/" for p in paths]
    return any(s == w or s.startswith(w + "/") or w == "/" for s in snapshot.paths for w in wanted)


def latest_per_series(found: Sequence[Snapshot], count: int) -> list[Snapshot]:
    """The newest `count` snapshots of each series, oldest first (like restic's --latest per group)."""
    groups: dict[tuple[str, ...], list[Snapshot]] = {}
    for snapshot in sorted(found, key=lambda s: s.time):
        groups.setdefault(listing_key(snapshot), []).append(snapshot)
    kept = [s for group in groups.values() for s in group[-count:]]
    return sorted(kept, key=lambda s: s.time)


def filter_snapshots(found: Sequence[Snapshot], *, tags: Sequence[str] = (), paths: Sequence[str] = (),
                     latest: int | None = None) -> list[Snapshot]:
    chosen = [s for s in found if matches_tags(s, tags) and matches_paths(s, paths)]
    return latest_per_series(chosen, latest) if latest is not None else chosen


def set_tag(set_id: str) -> str:
    return f"set={check_set_id(set_id)}"


_SET_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")


def check_set_id(value: str, option: str = "--set") -> str:
    """A backup set id as `backup all` makes them (`20261130T174512Z-1a2b3c`): one restic tag, no comma."""
    text = value.strip()
    if not _SET_ID.fullmatch(text):
        raise BadInput(f"{option} {value[:80]!r}: not a backup set id (see the set column of `kubekeeper status` or `snapshots`)")
    return text
