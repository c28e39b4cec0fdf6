"""`backup all` orchestration: one failing part does not stop the others, and the report says so."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

from kubekeeper.backup.backup_set import PartOutcome, SetReport, new_set_id, run_part
from kubekeeper.errors import OperationFailed


def test_failed_part_is_reported_and_others_still_run() -> None:
    calls: list[str] = []

    def good(set_id: str) -> PartOutcome:
        calls.append(set_id)
        return PartOutcome(snapshots=["abc"], bytes_added=42)

    def broken(set_id: str) -> PartOutcome:
        raise OperationFailed("registry unreachable: connection refused")

    set_id = new_set_id()
    report = SetReport(set_id=set_id, cluster="c", started="now")
    report.parts = [run_part("registry", broken, set_id), run_part("etcd", good, set_id)]
    assert calls == [set_id]
    assert not report.ok
    failed = report.parts[0]
    assert failed.error == "registry unreachable: connection refused" and failed.snapshots == []
    assert report.parts[1].ok and report.parts[1].bytes_added == 42


def test_unexpected_exception_in_a_part_is_contained() -> None:
    def buggy(set_id: str) -> PartOutcome:
        raise ZeroDivisionError("oops")

    result = run_part("volume", buggy, "s")
    assert not result.ok and "ZeroDivisionError" in (result.error or "")


def test_set_ids_are_unique_with_a_fixed_width_time_part() -> None:
    ids = {new_set_id() for _ in range(50)}
    assert len(ids) == 50
    assert all(len(i.split("-")[0]) == 16 for i in ids)


def test_set_ids_sort_in_time_order() -> None:
    """Across second, minute, day, month and year boundaries (where a non-padded or local-time stamp
    would sort wrong), and for ids made in the same second, sorting the ids sorts by time."""
    times = [datetime(2025, 12, 31, 23, 59, 59, tzinfo=UTC), datetime(2026, 1, 1, 0, 0, 0, tzinfo=UTC),
             datetime(2026, 1, 1, 0, 0, 9, tzinfo=UTC), datetime(2026, 1, 1, 0, 0, 10, tzinfo=UTC),
             datetime(2026, 1, 1, 9, 59, 0, tzinfo=UTC), datetime(2026, 1, 1, 10, 0, 0, tzinfo=UTC),
             datetime(2026, 1, 9, 0, 0, 0, tzinfo=UTC), datetime(2026, 1, 10, 0, 0, 0, tzinfo=UTC),
             datetime(2026, 9, 30, 0, 0, 0, tzinfo=UTC), datetime(2026, 10, 1, 0, 0, 0, tzinfo=UTC)]
    made = [(when, new_set_id(when)) for when in times]
    shuffled = list(made)
    random.Random(14).shuffle(shuffled)
    assert [when for when, _ in sorted(shuffled, key=lambda pair: pair[1])] == times
    same_second = sorted(new_set_id(times[0]) for _ in range(20))
    later = new_set_id(times[1])
    assert all(set_id < later for set_id in same_second)


def test_retention_skips_append_only_repositories_with_a_note_and_stays_ok(tmp_path) -> None:
    """Each repository on its own: an append-only one (declared) is skipped, the others are thinned."""
    from kubekeeper.backup.backup_set import apply_retention
    from kubekeeper.repository import Repository, RepoSpec, Retention

    declared = Repository(RepoSpec("rest:http://guarded/r/", password="pw", append_only=True))
    doc = apply_retention([declared], Retention(keep_last=1), "c")
    assert doc["skipped"] == ["rest:http://guarded/r/"] and not doc.get("error") and not doc["applied"]
    report = SetReport(set_id="s", cluster="c", started="now", retention=doc)
    assert report.ok  # every part stored: skipping retention there is not a failure


def test_reports_and_json_output_never_carry_a_secret(tmp_path, capsys) -> None:
    from kubekeeper import redact
    from kubekeeper.report.console import print_json
    from kubekeeper.report.run_report import write_json_report

    redact.register("tok-9f8e7d6c")
    report = SetReport(set_id="s", cluster="c", started="now")
    report.retention = {"error": "rest:https://admin:tok-9f8e7d6c@nas/r refused", "repositories": []}
    path = write_json_report(report, tmp_path)
    assert "tok-9f8e7d6c" not in path.read_text() and "admin" not in path.read_text()
    print_json({"repository": "rest:https://u:tok-9f8e7d6c@nas/r", "n": 1, "ok": True})
    out = capsys.readouterr().out
    assert "tok-9f8e7d6c" not in out and '"ok": true' in out and '"n": 1' in out


def test_set_id_time_is_utc_whatever_zone_it_is_given_in() -> None:
    """The stamp ends in Z: a time given in another zone is converted, not relabelled."""
    tokyo = timezone(timedelta(hours=9))
    assert new_set_id(datetime(2026, 1, 1, 8, 30, 0, tzinfo=tokyo)).startswith("20251231T233000Z-")
    assert new_set_id(datetime(2026, 1, 1, 8, 30, 0, tzinfo=UTC)).startswith("20260101T083000Z-")
