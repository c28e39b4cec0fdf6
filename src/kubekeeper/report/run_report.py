"""Reports of a `backup all` run: JSON file, Prometheus textfile, and the text summary."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from rich.markup import escape

from kubekeeper import redact
from kubekeeper.backup.backup_set import SetReport
from kubekeeper.fsutil import write_atomic
from kubekeeper.report.console import redact_document, stdout
from kubekeeper.report.prometheus import PartMetrics, write_textfile


def write_json_report(report: SetReport, directory: Path) -> Path:
    """`<dir>/backup-<set id>.json` plus `latest.json`, both written atomically."""
    text = json.dumps(redact_document(json.loads(json.dumps(report.as_json(), default=str))), indent=2) + "\n"
    path = directory / f"backup-{report.set_id}.json"
    write_atomic(path, text)
    write_atomic(directory / "latest.json", text)
    return path


def write_metrics(report: SetReport, textfile: Path) -> None:
    write_textfile(
        textfile,
        [PartMetrics(redact.redact(report.cluster), p.name, p.ok, p.finished, p.duration_seconds, p.bytes_added) for p in report.parts],
    )


def size_text(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def show_set(report: SetReport) -> None:
    verdict = "[green]ok[/green]" if report.ok else "[red]FAILED[/red]"
    stdout.print(f"backup set {report.set_id} for cluster {escape(report.cluster)}: {verdict} ({report.duration_seconds:.1f}s)")
    for part in report.parts:
        if part.ok:
            stdout.print(
                f"  [green]ok[/green]     {part.name:<9} {len(part.snapshots)} snapshot(s), "
                f"{size_text(part.bytes_added)} added, {part.duration_seconds:.1f}s"
            )
        else:
            stored = f"{len(part.snapshots)} snapshot(s) stored, the rest not" if part.snapshots else "nothing stored for this part"
            stdout.print(f"  [red]failed[/red] {part.name:<9} {escape(part.error or '')} [dim]({stored})[/dim]")
    for copy in report.copies:
        state = "[green]copied[/green]" if copy.ok else f"[red]copy failed[/red]: {escape(copy.error or '')}"
        stdout.print(f"  {state} to {escape(copy.repository)}")
    for entry in report.retention.get("repositories") or []:  # type: ignore[attr-defined]
        where = escape(str(entry.get("repository")))
        if entry.get("error"):
            stdout.print(f"  [red]retention failed[/red] in {where}: {escape(str(entry['error']))}")
        elif entry.get("skipped"):
            stdout.print(f"  [yellow]retention skipped[/yellow] in {where} (append-only): run it with the admin URL, "
                         "`kubekeeper repo forget --repo <admin URL>`")
        else:
            stdout.print(f"  retention applied in {where}: {entry.get('removed', 0)} snapshot(s) removed")


def finished_at(report: SetReport) -> datetime:
    return datetime.fromisoformat(report.finished)
