"""The follower's intake: every event of a transaction is kept (they share one revision), events a
resumed watch delivers again are not, and an empty interval stores nothing."""

from __future__ import annotations

import threading
from typing import Any

from kubekeeper.etcd.delta import PUT, Delta, Event
from kubekeeper.etcd.follow import Follower, FollowSettings, FullSnapshot, _Watch


class Store:
    def __init__(self) -> None:
        self.deltas: list[Delta] = []

    def store_full(self, on_open: Any = None) -> FullSnapshot:
        return FullSnapshot("a" * 64, 10)

    def store_delta(self, delta: Delta, lag: float) -> str:
        self.deltas.append(delta)
        return "d" * 64


class Stream:
    url = "http://127.0.0.1:2379"

    def cancel(self) -> None:
        pass


def follower(store: Store) -> tuple[Follower, Any]:
    f = Follower(client=None, store=store, settings=FollowSettings(), stop=threading.Event())  # type: ignore[arg-type]
    stream = Stream()
    f.watch = _Watch(stream, threading.Thread())  # type: ignore[arg-type]
    f.chain = FullSnapshot("a" * 64, 10)
    f.last_revision = 10
    f._count_keys = lambda revision: None  # type: ignore[method-assign]
    return f, stream


def put(revision: int, key: bytes) -> Event:
    return Event(revision, PUT, key, b"v", revision, 1, 0, 1.0)


def test_every_event_of_a_transaction_is_kept_and_repeats_are_not() -> None:
    store = Store()
    f, stream = follower(store)
    f._handle("events", [put(11, b"/a"), put(11, b"/b"), put(11, b"/c")], stream)
    f._handle("events", [put(12, b"/a")], stream)
    f._handle("events", [put(11, b"/a"), put(12, b"/a")], stream)  # delivered again after a resume
    f._handle("events", [put(13, b"/d")], object())  # from a stream already given up
    assert [(e.revision, e.key) for e in f.pending] == [(11, b"/a"), (11, b"/b"), (11, b"/c"), (12, b"/a")]
    assert f._flush()
    assert [(d.first, d.last, len(d.events), d.chain) for d in store.deltas] == [(11, 12, 4, "aaaaaaaa")]


def test_an_empty_interval_stores_nothing() -> None:
    store = Store()
    f, _ = follower(store)
    assert f._flush()
    assert store.deltas == []


def test_a_scheduled_full_snapshot_splits_the_chains_without_a_gap() -> None:
    """The old chain gets everything received; the new one again what is newer than its full snapshot."""
    from kubekeeper.etcd.delta import check_contiguous

    store = Store()
    f, stream = follower(store)
    f._handle("events", [put(r, f"/k{r}".encode()) for r in range(11, 16)], stream)
    store.store_full = lambda on_open=None: FullSnapshot("b" * 64, 13)  # type: ignore[method-assign]
    f._renew_chain()
    f._handle("events", [put(13, b"/late")], stream)  # at or below the new full snapshot: in it already
    f._handle("events", [put(16, b"/k16")], stream)
    assert f._flush()
    old, new = store.deltas
    assert (old.chain, old.first, old.last) == ("aaaaaaaa", 11, 15)
    assert (new.chain, new.first, new.last, len(new.events)) == ("bbbbbbbb", 14, 16, 3)
    check_contiguous([("new", new.first, new.last)], 13)
