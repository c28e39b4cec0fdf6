"""Choosing the chain and the revision for a point-in-time restore, from snapshot tags alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kubekeeper.backup.etcd_chain import Chain, Target, choose, fold_chain
from kubekeeper.errors import BadInput, VerificationFailed
from kubekeeper.etcd.delta import PUT, Delta, Event
from kubekeeper.repository.messages import Snapshot
from kubekeeper.repository.tags import snapshot_tags

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def snapshot(n: int, when: datetime, kind: str, **details: object) -> Snapshot:
    return Snapshot(id=f"{n:08x}" + "e" * 56, short_id=f"{n:08x}", time=when, hostname="h", paths=("/x",),
                    tags=tuple(snapshot_tags(kind, "prod", details)))


def chain(n: int, when: datetime, revision: int, ranges: list[tuple[int, int]], revision_max: int | None = None) -> Chain:
    details: dict[str, object] = {"revision": revision}
    if revision_max is not None:
        details["revision_max"] = revision_max
    full = snapshot(n, when, "etcd", **details)
    deltas = [snapshot(100 * n + i, when + timedelta(seconds=5 * (i + 1)), "etcd-delta", chain=full.id[:8], **{"from": a, "to": b})
              for i, (a, b) in enumerate(ranges)]
    return Chain(full, deltas)


def chains() -> list[Chain]:
    return [chain(1, T0, 100, [(101, 150), (151, 200)]), chain(2, T0 + timedelta(hours=1), 250, [(251, 300)], revision_max=255)]


def test_a_revision_picks_the_newest_full_snapshot_at_or_before_it() -> None:
    assert choose(chains(), revision=180).chain.full.short_id == "00000001"
    assert choose(chains(), revision=255).chain.full.short_id == "00000002"
    # the second full snapshot may already hold writes up to 255: 252 comes from the first chain - which ends at 200
    with pytest.raises(BadInput, match="revision 252 is not in the repository: the chain of 00000001 ends at revision 200"):
        choose(chains(), revision=252)
    with pytest.raises(BadInput, match="no etcd snapshot at or before revision 50"):
        choose(chains(), revision=50)


def test_a_time_picks_the_newest_full_snapshot_taken_by_then_and_no_target_the_newest_chain() -> None:
    assert choose(chains(), at=T0 + timedelta(minutes=30)).chain.full.short_id == "00000001"
    assert choose(chains(), at=T0 + timedelta(hours=2)).chain.full.short_id == "00000002"
    assert choose(chains()).chain.full.short_id == "00000002"
    with pytest.raises(BadInput, match="no etcd snapshot at or before"):
        choose(chains(), at=T0 - timedelta(seconds=1))


def events(first: int, last: int, seen: float) -> Delta:
    return Delta("00000001", [Event(r, PUT, f"/k{r % 3}".encode(), f"v{r}".encode(), r, 1, 0, seen + r) for r in range(first, last + 1)])


def test_folding_stops_at_the_revision_or_the_time_and_refuses_a_gap() -> None:
    c = chain(1, T0, 100, [(101, 150), (151, 200)])
    deltas = [events(101, 150, 0.0), events(151, 200, 0.0)]
    folded = fold_chain(c, deltas, Target(c, 160))
    assert folded.revision == 160 and folded.last[b"/k1"].value == b"v160"
    at = datetime.fromtimestamp(120.5, UTC)
    assert fold_chain(c, deltas, Target(c, None, at)).revision == 120
    gap = chain(1, T0, 100, [(101, 150), (152, 200)])
    with pytest.raises(VerificationFailed, match="revisions missing"):
        fold_chain(gap, [events(101, 150, 0.0), events(152, 200, 0.0)], Target(gap))
