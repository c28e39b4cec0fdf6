"""Retention per backup series: restic's keep rules, applied to kubekeeper's series, not restic's groups."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from kubekeeper.repository.commands import Retention
from kubekeeper.repository.messages import Snapshot
from kubekeeper.repository.retention import decide, plan, series_of
from kubekeeper.repository.tags import snapshot_tags

T0 = datetime(2026, 11, 30, 23, 0, tzinfo=UTC)


def snap(n: int, when: datetime, kind: str = "etcd", path: str = "/etcd-snapshot.db", **details: object) -> Snapshot:
    return Snapshot(id=f"{n:064x}", short_id=f"{n:08x}", time=when, hostname="h", paths=(path,),
                    tags=tuple(snapshot_tags(kind, "prod", {"backup": f"tok{n}", **details})))


def test_keep_last_keeps_newest_regardless_of_input_order() -> None:
    snaps = [snap(i, T0 - timedelta(hours=i)) for i in range(5)]
    decision = decide(reversed(snaps), Retention(keep_last=2))
    assert decision is not None
    assert decision.keep == [snaps[0].id, snaps[1].id]
    assert set(decision.remove) == {s.id for s in snaps[2:]}


def test_keep_daily_keeps_newest_of_each_of_the_last_n_days_with_snapshots() -> None:
    # two per day for four days; a gap day has none and does not count
    times = [T0, T0 - timedelta(hours=5), T0 - timedelta(days=1), T0 - timedelta(days=1, hours=5),
             T0 - timedelta(days=3), T0 - timedelta(days=3, hours=5), T0 - timedelta(days=4)]
    snaps = [snap(i, t) for i, t in enumerate(times)]
    decision = decide(snaps, Retention(keep_daily=3))
    assert decision is not None
    assert decision.keep == [snaps[0].id, snaps[2].id, snaps[4].id]


def test_rules_union() -> None:
    # Nov 30, Nov 5, Oct 11, Sep 16, Aug 22, Jul 28
    snaps = [snap(i, T0 - timedelta(days=i * 25)) for i in range(6)]
    decision = decide(snaps, Retention(keep_last=2, keep_monthly=3))
    assert decision is not None
    # the newest two, plus the newest of each of the 3 most recent months that have one (Nov, Oct, Sep)
    assert decision.keep == [snaps[0].id, snaps[1].id, snaps[2].id, snaps[3].id]
    assert decision.remove == [snaps[4].id, snaps[5].id]


def test_each_pvc_is_its_own_series_even_when_paths_collide_or_move() -> None:
    """Metadata snapshots share a path across PVCs; data paths change with the pod uid."""
    a_old = snap(1, T0 - timedelta(days=2), "volume", "/var/lib/kubelet/pods/uid-1/volumes/x", namespace="ns", pvc="a", part="data")
    a_new = snap(2, T0 - timedelta(days=1), "volume", "/var/lib/kubelet/pods/uid-2/volumes/x", namespace="ns", pvc="a", part="data")
    b_meta = snap(3, T0 - timedelta(days=3), "volume", "/volume-objects.yaml", namespace="ns", pvc="b", part="meta")
    a_meta = snap(4, T0, "volume", "/volume-objects.yaml", namespace="ns", pvc="a", part="meta")
    decisions = {d.series: d for d in plan([a_old, a_new, b_meta, a_meta], Retention(keep_last=1))}
    assert len(decisions) == 3
    assert decisions[series_of(a_new)].keep == [a_new.id] and decisions[series_of(a_new)].remove == [a_old.id]
    assert decisions[series_of(b_meta)].keep == [b_meta.id]  # not pushed out by pvc a's newer metadata
    assert decisions[series_of(a_meta)].keep == [a_meta.id]


def test_etcd_revisions_do_not_split_the_series() -> None:
    snaps = [snap(i, T0 - timedelta(hours=i), revision=1000 + i) for i in range(3)]
    decisions = plan(snaps, Retention(keep_last=1))
    assert len(decisions) == 1 and len(decisions[0].remove) == 2


def chained(n: int, when: datetime, kind: str = "etcd", **details: object) -> Snapshot:
    """Like restic's: the short id is the id's first 8 hex digits (the chain tag names a full by it)."""
    return Snapshot(id=f"{n:08x}" + "f" * 56, short_id=f"{n:08x}", time=when, hostname="h", paths=("/x",),
                    tags=tuple(snapshot_tags(kind, "prod", details)))


def test_etcd_deltas_share_their_full_snapshots_fate() -> None:
    """A delta is kept exactly when its chain's full snapshot is; an orphan delta goes; deltas never
    count as snapshots of the etcd series (keep-last 1 keeps the newest full, not the newest delta)."""
    old, new = chained(1, T0 - timedelta(days=1)), chained(2, T0 - timedelta(hours=1))
    old_deltas = [chained(10 + i, T0 - timedelta(days=1) + timedelta(minutes=i + 1), "etcd-delta", chain=old.id[:8])
                  for i in range(3)]
    new_deltas = [chained(20 + i, T0 - timedelta(minutes=50 - i), "etcd-delta", chain=new.id[:8]) for i in range(3)]
    orphan = chained(30, T0 - timedelta(days=2), "etcd-delta", chain="deadbeef")
    decisions = plan([old, new, *old_deltas, *new_deltas, orphan], Retention(keep_last=1))
    keep = {i for d in decisions for i in d.keep}
    remove = {i for d in decisions for i in d.remove}
    assert keep == {new.id, *(d.id for d in new_deltas)}
    assert remove == {old.id, orphan.id, *(d.id for d in old_deltas)}


def test_etcd_deltas_are_kept_when_no_full_snapshot_was_looked_at() -> None:
    """A selection without full etcd snapshots (e.g. only the deltas' kind) decides nothing about chains."""
    deltas = [chained(i, T0 - timedelta(minutes=i), "etcd-delta", chain="0000abcd") for i in range(3)]
    decisions = plan(deltas, Retention(keep_last=1))
    assert {i for d in decisions for i in d.keep} == {d.id for d in deltas}
