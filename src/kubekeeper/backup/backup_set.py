"""`backup all`: run every enabled part as one backup set, copy it, apply retention, report.

A failed part never stops the others; the set's id is a tag on every snapshot it made (`set=<id>`),
so copies and `verify` can find exactly what one run stored.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from kubekeeper.backup.source import PartlyStored
from kubekeeper.errors import KubekeeperError
from kubekeeper.repository import AppendOnly, Repository, Retention, selection

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PartOutcome:
    """What one part stored: snapshot ids and bytes added (filled by the part's runner)."""

    snapshots: list[str] = field(default_factory=list)
    bytes_added: int = 0
    details: dict[str, object] = field(default_factory=dict)


@dataclass
class PartResult:
    name: str
    ok: bool
    duration_seconds: float
    finished: float
    snapshots: list[str] = field(default_factory=list)
    bytes_added: int = 0
    error: str | None = None
    details: dict[str, object] = field(default_factory=dict)


@dataclass
class CopyResult:
    repository: str
    ok: bool
    error: str | None = None


@dataclass
class SetReport:
    set_id: str
    cluster: str
    started: str
    finished: str = ""
    duration_seconds: float = 0.0
    parts: list[PartResult] = field(default_factory=list)
    copies: list[CopyResult] = field(default_factory=list)
    retention: dict[str, object] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Every part stored, every copy made, retention applied or deliberately skipped."""
        return all(p.ok for p in self.parts) and all(c.ok for c in self.copies) and not self.retention.get("error")

    def as_json(self) -> dict[str, object]:
        doc = asdict(self)
        doc["ok"] = self.ok
        return doc


#: a part: its name and a callable that stores its data tagged with the set id
Part = tuple[str, Callable[[str], PartOutcome]]


def new_set_id(now: datetime | None = None) -> str:
    """`<UTC time>Z-<random>`: sortable by time whatever the zone `now` is given in."""
    stamp = (now or datetime.now(UTC)).astimezone(UTC)
    return f"{stamp:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def run_part(name: str, runner: Callable[[str], PartOutcome], set_id: str) -> PartResult:
    started = time.monotonic()
    try:
        outcome = runner(set_id)
    except PartlyStored as exc:  # what was stored stays in the report (`status` reads which volume failed)
        log.error("%s backup failed: %s", name, exc.message)
        return PartResult(name, False, time.monotonic() - started, time.time(), snapshots=list(exc.result.snapshots),
                          bytes_added=exc.result.bytes_added, error=exc.message, details=dict(exc.result.details))
    except KubekeeperError as exc:
        log.error("%s backup failed: %s", name, exc.message)
        return PartResult(name, False, time.monotonic() - started, time.time(), error=exc.message)
    except Exception as exc:  # one part's bug must not cost the other parts their backup
        log.exception("%s backup failed", name)
        return PartResult(name, False, time.monotonic() - started, time.time(), error=f"{type(exc).__name__}: {exc}")
    return PartResult(
        name, True, time.monotonic() - started, time.time(),
        snapshots=outcome.snapshots, bytes_added=outcome.bytes_added, details=outcome.details,
    )


def copy_set(primary: Repository, copies: Sequence[Repository], set_id: str) -> list[CopyResult]:
    results = []
    for target in copies:
        try:
            primary.copy_to(target, [*selection(), f"set={set_id}"])
            results.append(CopyResult(target.spec.display, True))
        except KubekeeperError as exc:
            results.append(CopyResult(target.spec.display, False, exc.message))
    return results


def apply_retention(repositories: Sequence[Repository], retention: Retention, cluster: str) -> dict[str, object]:
    """Retention in each repository on its own. An append-only repository (declared in cluster.yaml,
    or found refusing the deletions) is skipped with a note, not an error: every part was stored, and
    its retention runs separately with credentials that may delete (`repo forget --repo <admin URL>`)."""
    if retention.empty:
        return {"applied": False}
    per_repository: list[dict[str, object]] = []
    for repo in repositories:
        name = repo.spec.display
        try:
            decisions = repo.forget(retention, selection(cluster=cluster))
            removed = sum(len(d.get("remove") or []) for d in decisions)
            per_repository.append({"repository": name, "applied": True, "removed": removed})
        except AppendOnly as exc:
            log.info("retention skipped for %s: %s", name, exc.message)
            per_repository.append({"repository": name, "applied": False, "skipped": "append-only", "note": exc.message})
        except KubekeeperError as exc:
            per_repository.append({"repository": name, "applied": False, "error": exc.message})
    doc: dict[str, object] = {
        "applied": any(r["applied"] for r in per_repository),
        "policy": {k: v for k, v in asdict(retention).items() if v is not None},
        "repositories": per_repository,
    }
    skipped = [str(r["repository"]) for r in per_repository if r.get("skipped")]
    if skipped:
        doc["skipped"] = skipped
    errors = [f"{r['repository']}: {r['error']}" for r in per_repository if r.get("error")]
    if errors:
        doc["error"] = "; ".join(errors)
    return doc


def run_backup_set(
    cluster: str,
    parts: Sequence[Part],
    primary: Repository,
    copies: Sequence[Repository] = (),
    retention: Retention | None = None,
) -> SetReport:
    set_id = new_set_id()
    report = SetReport(set_id=set_id, cluster=cluster, started=datetime.now(UTC).isoformat())
    started = time.monotonic()
    for name, runner in parts:
        report.parts.append(run_part(name, runner, set_id))
    if any(p.ok for p in report.parts):
        report.copies = copy_set(primary, copies, set_id)
    report.retention = apply_retention([primary, *copies], retention or Retention(), cluster)
    report.finished = datetime.now(UTC).isoformat()
    report.duration_seconds = round(time.monotonic() - started, 3)
    return report
