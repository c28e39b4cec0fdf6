"""Retention per backup series, decided here and carried out with `restic forget ID...`.

restic groups snapshots by host/paths/tags, none of which names a kubekeeper series: detail tags
(`revision=`, `backup=`) differ on every snapshot, a PVC's kubelet path changes with its pod's uid,
and every PVC's metadata snapshot has the same path. So the series is computed from tags (kind,
cluster, and per kind the identity of the source), and the keep rules are restic's own: walk the
snapshots newest first; `last` keeps the first N; `daily`/`weekly`/`monthly` keep the newest
snapshot of each of the N most recent days/ISO weeks/months that have one. A snapshot kept by any
rule is kept.

etcd deltas (`kind:etcd-delta`, stored by the follower) are not a series of their own: each belongs
to the chain of one full etcd snapshot (`chain=<its short id>`) and is kept exactly when that full
snapshot is kept - a delta without its full snapshot cannot be restored, and a kept full snapshot
keeps every point in time after it. When the snapshots looked at include no full etcd snapshot of a
cluster at all (a selection that left them out), that cluster's deltas are kept: nothing is known
about their chains.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from kubekeeper.repository.commands import Retention
from kubekeeper.repository.messages import Snapshot
from kubekeeper.repository.tags import cluster_of, details_of, kind_of

#: detail tags that tell one source of a kind from another
SERIES_DETAILS: dict[str, tuple[str, ...]] = {
    "etcd": (),
    "registry": ("registry",),
    "volume": ("namespace", "pvc", "part"),
}


@dataclass
class SeriesDecision:
    series: str
    keep: list[str] = field(default_factory=list)
    remove: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        return {"series": self.series, "keep": self.keep, "remove": self.remove}


def series_of(snapshot: Snapshot) -> str:
    kind = kind_of(snapshot.tags) or "?"
    details = details_of(snapshot.tags)
    parts = [f"kind:{kind}", f"cluster:{cluster_of(snapshot.tags) or '?'}"]
    parts += [f"{key}={details.get(key, '')}" for key in SERIES_DETAILS.get(kind, ())]
    return ",".join(parts)


def _rules(retention: Retention) -> list[tuple[int, Callable[[Snapshot], object]]]:
    rules: list[tuple[int | None, Callable[[Snapshot], object]]] = [
        (retention.keep_last, lambda s: s.id),
        (retention.keep_daily, lambda s: s.time.date()),
        (retention.keep_weekly, lambda s: s.time.isocalendar()[:2]),
        (retention.keep_monthly, lambda s: (s.time.year, s.time.month)),
    ]
    return [(count, bucket) for count, bucket in rules if count]


def decide(snapshots: Iterable[Snapshot], retention: Retention) -> SeriesDecision | None:
    """Keep/remove for one series (any order in; decided newest first)."""
    ordered = sorted(snapshots, key=lambda s: s.time, reverse=True)
    if not ordered:
        return None
    rules = _rules(retention)
    remaining = [count for count, _ in rules]
    last_bucket: list[object] = [None] * len(rules)
    decision = SeriesDecision(series_of(ordered[0]))
    for snapshot in ordered:
        kept = False
        for index, (_, bucket) in enumerate(rules):
            value = bucket(snapshot)
            if remaining[index] > 0 and value != last_bucket[index]:
                last_bucket[index] = value
                remaining[index] -= 1
                kept = True
        (decision.keep if kept else decision.remove).append(snapshot.id)
    return decision


#: the kind of the follower's deltas, and the kind of the full snapshots their chains begin with
DELTA_KIND = "etcd-delta"
FULL_KIND = "etcd"


def plan(snapshots: Sequence[Snapshot], retention: Retention) -> list[SeriesDecision]:
    by_series: dict[str, list[Snapshot]] = defaultdict(list)
    deltas: list[Snapshot] = []
    for snapshot in snapshots:
        if kind_of(snapshot.tags) == DELTA_KIND:
            deltas.append(snapshot)
        else:
            by_series[series_of(snapshot)].append(snapshot)
    decisions = [d for key in sorted(by_series) if (d := decide(by_series[key], retention)) is not None]
    return decisions + chain_decisions(deltas, snapshots, decisions)


def chain_decisions(deltas: Sequence[Snapshot], snapshots: Sequence[Snapshot], decisions: Sequence[SeriesDecision]) -> list[SeriesDecision]:
    """Each delta shares its full snapshot's fate (see the module's docstring)."""
    kept = {snapshot_id for d in decisions for snapshot_id in d.keep}
    fulls = [s for s in snapshots if kind_of(s.tags) == FULL_KIND]
    clusters_with_fulls = {cluster_of(s.tags) for s in fulls}
    fate: dict[str, bool] = {s.id[:8]: s.id in kept for s in fulls}
    by_series: dict[str, SeriesDecision] = {}
    for delta in sorted(deltas, key=lambda s: s.time, reverse=True):
        decision = by_series.setdefault(series_of(delta), SeriesDecision(series_of(delta)))
        cluster = cluster_of(delta.tags)
        keep = fate.get(details_of(delta.tags).get("chain", ""), cluster not in clusters_with_fulls)
        (decision.keep if keep else decision.remove).append(delta.id)
    return [by_series[key] for key in sorted(by_series)]
