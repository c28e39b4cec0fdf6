"""`restore all`: every part of one backup set, in a safe order, stopping at the first failure.

The order is the sources' `restore_order` (backup/sources/__init__.py): etcd first (it brings the
API back; volume restores find their PVCs through it), then the registry (so pods can pull), then
the volumes' data. Every target is built and checked before the first byte moves; a failure stops
the run and the report says what was restored, what failed, and what was not attempted - the
operator resumes with the single-part restores (`restore <kind> --snapshot <id>`) or runs it again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from kubekeeper.backup import sources
from kubekeeper.backup.listing import FOLLOWER_PART, series_of, set_tag
from kubekeeper.backup.source import AnySource
from kubekeeper.errors import BadInput, KubekeeperError
from kubekeeper.progress import SILENT, Progress
from kubekeeper.repository import Repository, Snapshot, selection

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SetPart:
    """One snapshot of the set to restore: its part, its series name (a PVC), and its source."""

    part: str
    name: str
    snapshot: Snapshot
    source: AnySource
    order: int


@dataclass(frozen=True)
class RestoreStep:
    """A set part with the target it goes to (etcd: one step per member restored on this host)."""

    item: SetPart
    target: Any
    label: str  # what the step restores, in words: `etcd member m0`, `volume db/pg`, `registry`


@dataclass
class StepOutcome:
    label: str
    part: str
    snapshot_id: str
    ok: bool
    target: str = ""
    error: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class SetRestoreReport:
    set_id: str
    done: list[StepOutcome] = field(default_factory=list)
    failed: StepOutcome | None = None
    not_done: list[RestoreStep] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failed is None


def set_parts(repository: Repository, set_id: str, *, cluster: str | None, skip: Collection[str] = ()) -> list[SetPart]:
    """The set's snapshots in restore order (the objects stored beside volume data and follower
    deltas are no part of their own); `skip` names parts left out on purpose."""
    names = sources.parts()
    for name in skip:
        if name not in names:
            raise BadInput(f"--skip {name}: choose {sources.one_of(names)}")
    found = repository.snapshots([*selection(cluster=cluster), set_tag(set_id)])
    if not found:
        raise BadInput(f"no snapshots of backup set {set_id}{f' of cluster {cluster}' if cluster else ''} in "
                       f"{repository.spec.display} (see `kubekeeper status` or `kubekeeper snapshots`)")
    clusters = sorted({series[0] for series in map(series_of, found) if series is not None})
    if len(clusters) > 1:
        raise BadInput(f"backup set {set_id} holds snapshots of several clusters ({', '.join(clusters)}): give --cluster")
    parts: list[SetPart] = []
    for snapshot in found:
        series = series_of(snapshot)
        if series is None or series[1] == FOLLOWER_PART or series[1] in skip:
            continue
        entry = next(e for e in sources.registered() if e.part == series[1])
        parts.append(SetPart(series[1], series[2], snapshot, entry.load(), entry.restore_order))
    if not parts:
        raise BadInput(f"backup set {set_id} holds nothing to restore" + (f" once {', '.join(skip)} is skipped" if skip else ""))
    return sorted(parts, key=lambda p: (p.order, p.name, p.snapshot.time))


def restore_set(repository: Repository, set_id: str, steps: Sequence[RestoreStep], *, progress: Progress = SILENT,
                on_step: Callable[[StepOutcome], None] | None = None) -> SetRestoreReport:
    """Run the steps in order; the first failure stops the run (the rest is listed as not done)."""
    report = SetRestoreReport(set_id)
    for index, step in enumerate(steps):
        progress.phase(f"restoring {step.label} from snapshot {step.item.snapshot.short_id}")
        try:
            result = step.item.source.restore(repository, step.item.snapshot, step.target, progress=progress)
        except KubekeeperError as exc:
            report.failed = StepOutcome(step.label, step.item.part, step.item.snapshot.id, False, error=exc.message)
        except OSError as exc:  # a target the filesystem refuses (a file where a directory goes, a full disk)
            where = f" ({exc.filename})" if exc.filename else ""
            report.failed = StepOutcome(step.label, step.item.part, step.item.snapshot.id, False,
                                        error=f"{exc.strerror or type(exc).__name__}{where}")
        except Exception as exc:  # a bug in one source: still say what was done and what was not
            log.debug("restoring %s failed", step.label, exc_info=True)  # the traceback with -vv only
            report.failed = StepOutcome(step.label, step.item.part, step.item.snapshot.id, False, error=f"{type(exc).__name__}: {exc}")
        if report.failed is not None:
            report.not_done = list(steps[index + 1:])
            if on_step is not None:
                on_step(report.failed)
            break
        outcome = StepOutcome(step.label, step.item.part, step.item.snapshot.id, True, result.target, details=dict(result.details))
        report.done.append(outcome)
        if on_step is not None:
            on_step(outcome)
    return report
