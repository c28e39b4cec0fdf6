"""`kubekeeper status` as text (one line per part) and JSON."""

from __future__ import annotations

from typing import Any

from rich.markup import escape

from kubekeeper.backup.listing import FOLLOWER_PART
from kubekeeper.backup.status import PartStatus, StatusReport
from kubekeeper.report.console import stdout
from kubekeeper.report.run_report import size_text
from kubekeeper.report.snapshot import snapshot_json


def age_text(seconds: float | None) -> str:
    """`45s`, `12m`, `5h 3m`, `3d 4h`: an age at a glance."""
    if seconds is None:
        return "never"
    s = int(seconds)
    if s < 120:
        return f"{s}s"
    if s < 7200:
        return f"{s // 60}m"
    if s < 172800:
        return f"{s // 3600}h {s % 3600 // 60}m"
    return f"{s // 86400}d {s % 86400 // 3600}h"


def part_json(part: PartStatus) -> dict[str, Any]:
    last = part.last_success
    doc: dict[str, Any] = {
        "part": part.part,
        "name": part.name,
        "cluster": part.cluster,
        "last_success": snapshot_json(last) if last else None,
        "time": last.time.isoformat() if last else None,
        "age_seconds": round(part.age_seconds, 3) if part.age_seconds is not None else None,
        "data_added": last.data_added if last else None,
        "snapshot_id": last.id if last else None,
        "short_id": last.short_id if last else None,
        "set": part.set_id,
        "too_old": part.too_old,
        "failures_since": [{"time": f.time.isoformat(), "message": f.message, "recorded_in": f.recorded_in} for f in part.failures],
    }
    if part.part == FOLLOWER_PART:
        doc["lag_seconds"] = part.details.get("lag")
        doc["revision"] = part.details.get("to")
    return doc


def status_json(report: StatusReport) -> dict[str, Any]:
    return {
        "repository": report.repository,
        "now": report.now.isoformat(),
        "max_age_seconds": report.max_age_seconds,
        "ok": report.ok,
        "parts": [part_json(p) for p in report.parts],
    }


def show_status(report: StatusReport) -> None:
    if not report.parts:
        stdout.print(f"no kubekeeper backups in {escape(report.repository)}")
        return
    for part in report.parts:
        last = part.last_success
        label = part.name if part.name == part.part else f"{part.part} {part.name}"
        word, colour = ("TOO OLD", "red") if part.too_old else (("failing", "yellow") if part.failures else ("ok", "green"))
        mark = f"[{colour}]{word:<7}[/{colour}]"
        if last is None:
            line = f"{mark} {escape(label):<28} never backed up"
        else:
            added = f", {size_text(last.data_added)} added" if last.data_added is not None else ""
            set_id = f", set {escape(part.set_id)}" if part.set_id else ""
            lag = ""
            if part.part == FOLLOWER_PART:
                lag = f", lag {part.details.get('lag', '?')}s at revision {part.details.get('to', '?')}"
            line = (f"{mark} {escape(label):<28} {age_text(part.age_seconds)} ago ({last.time:%Y-%m-%d %H:%M:%S} UTC), "
                    f"snapshot {last.short_id}{set_id}{added}{lag}")
        stdout.print(line, highlight=False)
        for failure in part.failures:
            stdout.print(f"           [red]failed[/red] {failure.time:%Y-%m-%d %H:%M:%S}: {escape(failure.message)} "
                         f"[dim]({escape(failure.recorded_in)})[/dim]", highlight=False)
