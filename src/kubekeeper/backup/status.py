"""`kubekeeper status`: per part (etcd, the registry, each PVC, the etcd follower) the newest good
backup, how old it is, what it added, and every failure recorded since.

What it reads is what the runs leave behind, nothing else: the repository's snapshots (one `restic
snapshots` call; restic 0.17+ keeps each backup's summary, hence `data_added`), the records that mark
a snapshot incomplete (repository/restic.py), and the JSON run reports of `backup all`
(`reports.directory` of cluster.yaml) for parts that stored nothing. A part cluster.yaml enables but
that was never stored is listed with no success: it is older than any --max-age.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kubekeeper.backup import sources
from kubekeeper.backup.listing import FOLLOWER_PART, series_of
from kubekeeper.errors import BadInput
from kubekeeper.repository import Repository, Snapshot, details_of, selection
from kubekeeper.repository.restic import INCOMPLETE_MARK
from kubekeeper.repository.tags import typed_value

log = logging.getLogger(__name__)

#: run reports read at most (newest first: their names sort by time)
MAX_REPORTS = 200
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str, option: str = "--max-age") -> float:
    """`90s`, `15m`, `26h`, `7d`, `1h30m` (Go/restic style) as seconds; a bare number is seconds."""
    value = text.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value)
    pos, total = 0, 0.0
    for match in _DURATION.finditer(value):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    if not value or pos != len(value):
        raise BadInput(f"{option} {text!r}: not a duration (e.g. 90s, 15m, 26h, 7d, 1h30m)")
    return total


@dataclass(frozen=True)
class Failure:
    """A failed attempt at a part, with where it was recorded."""

    time: datetime
    message: str
    #: `run report <set id>` or `incomplete snapshot <id>`
    recorded_in: str


@dataclass
class PartStatus:
    """One series of backups: a part (etcd, registry, etcd-follower) or one PVC of `volumes`."""

    part: str
    name: str  # the part, or NAMESPACE/NAME for a volume
    cluster: str
    last_success: Snapshot | None = None
    failures: list[Failure] = field(default_factory=list)
    age_seconds: float | None = None
    too_old: bool = False

    @property
    def set_id(self) -> str | None:
        return details_of(self.last_success.tags).get("set") if self.last_success else None

    @property
    def details(self) -> dict[str, object]:
        if self.last_success is None:
            return {}
        return {k: typed_value(k, v) for k, v in details_of(self.last_success.tags).items()}


@dataclass
class StatusReport:
    repository: str
    now: datetime
    max_age_seconds: float | None
    parts: list[PartStatus] = field(default_factory=list)

    @property
    def too_old(self) -> list[PartStatus]:
        return [p for p in self.parts if p.too_old]

    @property
    def ok(self) -> bool:
        return not self.too_old


def read_run_reports(directory: Path | None, limit: int = MAX_REPORTS) -> list[dict[str, Any]]:
    """`backup all`'s JSON reports (`backup-<set id>.json`), oldest first; unreadable ones skipped."""
    if directory is None or not directory.is_dir():
        return []
    found = sorted(directory.glob("backup-*.json"))[-limit:]
    reports = []
    for path in found:
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            log.warning("skipping run report %s: %s", path, exc)
            continue
        if isinstance(doc, dict):
            reports.append(doc)
    return reports


def _time(text: object) -> datetime | None:
    try:
        stamp = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def report_failures(report: dict[str, Any]) -> Iterable[tuple[str, str, str | None, Failure]]:
    """(cluster, part, volume name or None for the whole part, failure) for every failed part of a run."""
    cluster = str(report.get("cluster", ""))
    when = _time(report.get("finished") or report.get("started"))
    if when is None:
        return
    where = f"run report {report.get('set_id', '?')}"
    for part in report.get("parts") or []:
        if not isinstance(part, dict) or part.get("ok"):
            continue
        name = str(part.get("name", ""))
        volumes = (part.get("details") or {}).get("volumes") or []
        failed = [v for v in volumes if isinstance(v, dict) and v.get("status") == "failed"]
        if failed:
            for volume in failed:
                yield cluster, name, str(volume.get("pvc")), Failure(when, str(volume.get("message", "")), where)
        else:
            yield cluster, name, None, Failure(when, str(part.get("error") or "failed"), where)


def build_status(
    found: Sequence[Snapshot],
    *,
    repository: str,
    cluster: str | None,
    expected: Collection[str] = (),
    reports: Sequence[dict[str, Any]] = (),
    max_age: float | None = None,
    now: datetime | None = None,
) -> StatusReport:
    """The status of every series among `found` (every snapshot, incomplete ones and their records
    included), plus a line for each `expected` part that has none."""
    now = now or datetime.now(UTC)
    complete = Repository.snapshots_from(found)
    series: dict[tuple[str, str, str], PartStatus] = {}

    def entry(key: tuple[str, str, str]) -> PartStatus:
        if key not in series:
            series[key] = PartStatus(part=key[1], name=key[2], cluster=key[0])
        return series[key]

    for snapshot in sorted(complete, key=lambda s: s.time):
        key = series_of(snapshot)
        if key is not None:
            entry(key).last_success = snapshot  # oldest first: the newest wins
    for snapshot in found:
        if INCOMPLETE_MARK in snapshot.tags:
            key = series_of(snapshot)
            if key is not None:
                marked = details_of(snapshot.tags).get("incomplete", "")
                entry(key).failures.append(Failure(snapshot.time, "restic could not read some files; the snapshot is marked "
                                                   "incomplete and ignored", f"incomplete snapshot {marked[:8]}"))
    for report in reports:
        for report_cluster, part, volume, failure in report_failures(report):
            if cluster is not None and report_cluster != cluster:
                continue
            targets = [s for (c, p, _), s in series.items() if c == report_cluster and p == part]
            if volume is not None:
                targets = [entry((report_cluster, part, volume))]
            elif not targets:
                targets = [entry((report_cluster, part, part))]
            for target in targets:
                target.failures.append(failure)
    for part in expected:
        if not any(p == part for (_, p, _) in series):
            entry((cluster or "", part, part))
    for status in series.values():
        since = status.last_success.time if status.last_success else None
        status.failures = sorted((f for f in status.failures if since is None or f.time > since), key=lambda f: f.time)
        if status.last_success is not None:
            status.age_seconds = max(0.0, (now - status.last_success.time).total_seconds())
        status.too_old = max_age is not None and (status.age_seconds is None or status.age_seconds > max_age)
    order = {p: i for i, p in enumerate([*sources.parts(), FOLLOWER_PART])}
    parts = sorted(series.values(), key=lambda s: (s.cluster, order.get(s.part, len(order)), s.name))
    return StatusReport(repository, now, max_age, parts)


def status(repository: Repository, *, cluster: str | None, expected: Collection[str] = (), reports_dir: Path | None = None,
           max_age: float | None = None) -> StatusReport:
    """Read the repository (and the run reports) and build the status of every part of `cluster`."""
    found = repository.snapshots(selection(cluster=cluster), include_incomplete=True)
    return build_status(found, repository=repository.spec.display, cluster=cluster, expected=expected,
                        reports=read_run_reports(reports_dir), max_age=max_age)
