"""`status`, `snapshots` filters and `diff` computed from snapshot lists and run reports (the restic
side is covered by tests/e2e/test_day2.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kubekeeper.backup.contents import compare
from kubekeeper.backup.listing import check_set_id, filter_snapshots, series_of
from kubekeeper.backup.source import Entry
from kubekeeper.backup.status import build_status, parse_duration
from kubekeeper.errors import BadInput
from kubekeeper.repository import Snapshot, snapshot_tags
from kubekeeper.repository.restic import INCOMPLETE_MARK
from kubekeeper.repository.tags import typed_details

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
_counter = iter(range(1, 10_000))


def snap(kind: str, hours_ago: float, details: dict[str, object] | None = None, *, extra: tuple[str, ...] = (),
         paths: tuple[str, ...] = ("/x",), data_added: int | None = 100) -> Snapshot:
    n = next(_counter)
    return Snapshot(f"{n:064x}", f"{n:08x}", NOW - timedelta(hours=hours_ago), "h", paths,
                    (*snapshot_tags(kind, "lab", details), *extra), data_added=data_added)


def volume(pvc: str, hours_ago: float, part: str = "data", **more: object) -> Snapshot:
    ns, name = pvc.split("/")
    return snap("volume", hours_ago, {"namespace": ns, "pvc": name, "part": part, **more})


@pytest.mark.parametrize(("text", "seconds"), [("1s", 1), ("90", 90), ("15m", 900), ("26h", 93600), ("7d", 604800),
                                               ("1h30m", 5400), ("1.5h", 5400), ("2w", 1209600)])
def test_durations_in_restic_style(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "abc", "1x", "h1", "1h 30m", "-5s", "1s2"])
def test_bad_durations_name_the_option(text: str) -> None:
    with pytest.raises(BadInput, match="--max-age"):
        parse_duration(text)


def test_each_part_and_each_pvc_has_its_newest_success_and_age() -> None:
    found = [snap("etcd", 30, {"revision": 10, "set": "s1"}), snap("etcd", 6, {"revision": 20, "set": "s2"}, data_added=4096),
             snap("registry", 6, {"registry": "r:5000", "set": "s2"}),
             volume("db/pg", 30), volume("db/pg", 6, set="s2"), volume("db/pg", 6, part="meta"), volume("web/files", 30)]
    report = build_status(found, repository="repo", cluster="lab", max_age=24 * 3600, now=NOW)
    by_name = {p.name: p for p in report.parts}
    assert [p.name for p in report.parts] == ["etcd", "registry", "db/pg", "web/files"]  # backup order, meta snapshots no series
    assert by_name["etcd"].last_success is found[1] and by_name["etcd"].age_seconds == 6 * 3600
    assert by_name["etcd"].set_id == "s2" and by_name["etcd"].details["revision"] == 20
    assert by_name["db/pg"].last_success is found[4] and by_name["db/pg"].part == "volumes"
    assert [p.name for p in report.too_old] == ["web/files"] and not report.ok
    assert build_status(found, repository="repo", cluster="lab", now=NOW).ok  # no --max-age: nothing is too old


def test_an_enabled_part_never_stored_is_too_old() -> None:
    report = build_status([snap("etcd", 1)], repository="repo", cluster="lab", expected=("etcd", "registry"), max_age=7200, now=NOW)
    registry = next(p for p in report.parts if p.name == "registry")
    assert registry.last_success is None and registry.too_old and registry.age_seconds is None


def test_failures_since_the_last_success_come_from_run_reports_and_incomplete_records() -> None:
    ok = volume("db/pg", 10)
    broken = volume("db/pg", 2)
    record = volume("db/pg", 2, incomplete=broken.id)
    record = Snapshot(record.id, record.short_id, record.time, "h", ("/x",), (*record.tags, INCOMPLETE_MARK))
    reports = [
        {"set_id": "old", "cluster": "lab", "finished": (NOW - timedelta(hours=20)).isoformat(),
         "parts": [{"name": "etcd", "ok": False, "error": "leader gone"}]},
        {"set_id": "new", "cluster": "lab", "finished": (NOW - timedelta(hours=1)).isoformat(),
         "parts": [{"name": "etcd", "ok": False, "error": "etcd unreachable"},
                   {"name": "registry", "ok": False, "error": "registry down"},
                   {"name": "volumes", "ok": False, "error": "1 of 2", "details": {"volumes": [
                       {"pvc": "db/pg", "status": "ok"}, {"pvc": "web/files", "status": "failed", "message": "hook failed"}]}}]},
        {"set_id": "other", "cluster": "elsewhere", "finished": NOW.isoformat(), "parts": [{"name": "etcd", "ok": False, "error": "x"}]},
    ]
    etcd_ok = snap("etcd", 5)
    report = build_status([etcd_ok, ok, broken, record], repository="repo", cluster="lab", reports=reports, now=NOW)
    by_name = {p.name: p for p in report.parts}
    assert [f.message for f in by_name["etcd"].failures] == ["etcd unreachable"]  # the older failure came before the success
    assert by_name["registry"].last_success is None and [f.recorded_in for f in by_name["registry"].failures] == ["run report new"]
    assert by_name["db/pg"].last_success is ok  # the incomplete snapshot is no success
    assert [f.recorded_in for f in by_name["db/pg"].failures] == [f"incomplete snapshot {broken.id[:8]}"]
    assert [f.message for f in by_name["web/files"].failures] == ["hook failed"]


def test_the_follower_shows_its_newest_delta_and_lag() -> None:
    deltas = [snap("etcd-delta", 0.5, {"chain": "abcd1234", "from": 10, "to": 20, "events": 10, "lag": 3}),
              snap("etcd-delta", 0.1, {"chain": "abcd1234", "from": 20, "to": 35, "events": 15, "lag": 7})]
    report = build_status([snap("etcd", 2), *deltas], repository="repo", cluster="lab", max_age=600, now=NOW)
    follower = report.parts[-1]
    assert (follower.part, follower.last_success) == ("etcd-follower", deltas[1])
    assert follower.details["lag"] == 7 and follower.age_seconds == pytest.approx(360) and not follower.too_old


def test_details_are_typed_but_names_and_digests_stay_text() -> None:
    details = typed_details(snapshot_tags("etcd", "c", {"revision": 12, "db_size": 4096, "sha256": "1234", "pvc": "007",
                                                           "empty": "true", "lag": "1.5", "etcd_version": "3.5.16"}))
    assert details == {"revision": 12, "db_size": 4096, "sha256": "1234", "pvc": "007", "empty": True, "lag": 1.5,
                       "etcd_version": "3.5.16"}
    assert typed_details(["revision=012"]) == {"revision": "012"}  # not a number as written


def test_latest_tag_and_path_filters_work_per_series() -> None:
    found = [snap("etcd", 3), snap("etcd", 2), snap("etcd", 1, extra=("keep",)), volume("db/pg", 3), volume("db/pg", 2),
             volume("db/pg", 2, part="meta"), volume("web/files", 5)]
    latest = filter_snapshots(found, latest=1)
    assert latest == [found[6], found[4], found[5], found[2]]  # oldest first; the meta snapshot is its own series
    assert filter_snapshots(found, tags=["keep"]) == [found[2]]
    assert filter_snapshots(found, tags=["keep,kind:volume", "pvc=files"]) == [found[6]]  # restic: a,b both; repeated: either
    other = snap("registry", 1, paths=("/cache/layout",))
    assert filter_snapshots([*found, other], paths=["/cache"]) == [other]
    assert filter_snapshots([*found, other], paths=["/cache/lay"]) == []
    assert series_of(found[5]) is None


def test_set_ids_are_one_tag() -> None:
    assert check_set_id(" 20261130T120000Z-1a2b3c ") == "20261130T120000Z-1a2b3c"
    for bad in ("", "a,b", "x y", "-rf"):
        with pytest.raises(BadInput):
            check_set_id(bad)


def test_diff_names_added_removed_and_changed_entries() -> None:
    before = [Entry("demo/web:1.0", "manifest", 10, "sha256:a"), Entry("demo/api:2.3", "manifest", 10, "sha256:b"),
              Entry("/f", "file", 3, "3:t1")]
    after = [Entry("demo/web:1.0", "manifest", 10, "sha256:c"), Entry("demo/web:1.1", "manifest", 10, "sha256:d"),
             Entry("/f", "file", 3, "3:t1")]
    added, removed, changed = compare(before, after)
    assert [e.path for e in added] == ["demo/web:1.1"]
    assert [e.path for e in removed] == ["demo/api:2.3"]
    assert [(a.fingerprint, b.fingerprint) for a, b in changed] == [("sha256:a", "sha256:c")]
