"""`restore all`: the set's parts in safe order (etcd, registry, volumes), and the first failure stops
the run with what was done and what was not. The sources here are recording fakes: what is under test
is the ordering and stopping, not any restore (tests/e2e/test_day2.py restores a real set)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kubekeeper.backup import sources
from kubekeeper.backup.restore_set import RestoreStep, SetPart, restore_set, set_parts
from kubekeeper.backup.source import RestoreResult
from kubekeeper.errors import BadInput, OperationFailed
from kubekeeper.repository import Snapshot, snapshot_tags

T0 = datetime(2026, 11, 30, tzinfo=UTC)


def snap(n: int, kind: str, details: dict[str, object]) -> Snapshot:
    return Snapshot(f"{n:064x}", f"{n:08x}", T0 + timedelta(seconds=n), "h", ("/x",),
                    (*snapshot_tags(kind, "lab", {**details, "set": "s1"}),))


class FakeRepository:
    """Answers `snapshots` from a list, like restic does for `--tag set=s1`."""

    def __init__(self, found: list[Snapshot]) -> None:
        self.found = found

        class Spec:
            display = "fake"

        self.spec = Spec()

    def snapshots(self, tags: list[str], **_: Any) -> list[Snapshot]:
        return [s for s in self.found if all(t in s.tags for t in tags)]


class RecordingSource:
    def __init__(self, kind: str, calls: list[str], fail_on: str | None = None) -> None:
        self.kind, self.calls, self.fail_on = kind, calls, fail_on

    def restore(self, repository: Any, snapshot: Snapshot, target: Any, *, progress: Any) -> RestoreResult:
        self.calls.append(target)
        if target == self.fail_on:
            raise OperationFailed(f"{target}: disk full")
        return RestoreResult(self.kind, snapshot.id, str(target))


def test_the_set_comes_back_in_safe_order_whatever_order_it_was_stored_in() -> None:
    found = [snap(1, "volume", {"namespace": "db", "pvc": "pg", "part": "data"}),
             snap(2, "volume", {"namespace": "db", "pvc": "pg", "part": "meta"}),
             snap(3, "registry", {"registry": "r"}), snap(4, "etcd", {"revision": 5}),
             snap(5, "volume", {"namespace": "a", "pvc": "files", "part": "data"}),
             snap(6, "etcd-delta", {"from": 1, "to": 2})]
    parts = set_parts(FakeRepository(found), "s1", cluster="lab")  # type: ignore[arg-type]
    assert [(p.part, p.name) for p in parts] == [("etcd", "etcd"), ("registry", "registry"), ("volumes", "a/files"), ("volumes", "db/pg")]
    assert [e.part for e in sources.in_restore_order()] == ["etcd", "registry", "volumes"]
    skipped = set_parts(FakeRepository(found), "s1", cluster="lab", skip=("etcd",))  # type: ignore[arg-type]
    assert [p.part for p in skipped] == ["registry", "volumes", "volumes"]
    with pytest.raises(BadInput, match="--skip"):
        set_parts(FakeRepository(found), "s1", cluster="lab", skip=("etc",))  # type: ignore[arg-type]
    with pytest.raises(BadInput, match="no snapshots of backup set s2"):
        set_parts(FakeRepository(found), "s2", cluster="lab")  # type: ignore[arg-type]


def test_the_first_failure_stops_the_run_and_says_what_was_done_and_not() -> None:
    calls: list[str] = []
    source = RecordingSource("volume", calls, fail_on="second")
    items = [SetPart("etcd", "etcd", snap(1, "etcd", {}), source, 10),  # type: ignore[arg-type]
             SetPart("registry", "registry", snap(2, "registry", {}), source, 20),  # type: ignore[arg-type]
             SetPart("volumes", "db/pg", snap(3, "volume", {}), source, 30)]  # type: ignore[arg-type]
    steps = [RestoreStep(item, target, target) for item, target in zip(items, ["first", "second", "third"], strict=True)]
    seen: list[str] = []

    report = restore_set(FakeRepository([]), "s1", steps, on_step=lambda o: seen.append(o.label))  # type: ignore[arg-type]

    assert calls == ["first", "second"]  # the third was never started
    assert [o.label for o in report.done] == ["first"] and report.failed is not None
    assert (report.failed.label, report.failed.error) == ("second", "second: disk full")
    assert [s.label for s in report.not_done] == ["third"] and not report.ok
    assert seen == ["first", "second"]
