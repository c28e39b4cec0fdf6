"""`restore all` as text (a line per step as it finishes, then what was and was not done) and JSON."""

from __future__ import annotations

from typing import Any

from rich.markup import escape

from kubekeeper.backup.restore_set import SetRestoreReport, StepOutcome
from kubekeeper.report.console import stdout


def outcome_json(outcome: StepOutcome) -> dict[str, Any]:
    return {"step": outcome.label, "part": outcome.part, "snapshot_id": outcome.snapshot_id, "short_id": outcome.snapshot_id[:8],
            "ok": outcome.ok, "target": outcome.target, "error": outcome.error, "details": outcome.details}


def restore_set_json(report: SetRestoreReport) -> dict[str, Any]:
    return {
        "set": report.set_id,
        "ok": report.ok,
        "restored": [outcome_json(o) for o in report.done],
        "failed": outcome_json(report.failed) if report.failed else None,
        "not_attempted": [{"step": s.label, "part": s.item.part, "snapshot_id": s.item.snapshot.id,
                           "short_id": s.item.snapshot.short_id} for s in report.not_done],
    }


def show_outcome(outcome: StepOutcome) -> None:
    if outcome.ok:
        stdout.print(f"  [green]restored[/green] {escape(outcome.label)} from {outcome.snapshot_id[:8]} into {escape(outcome.target)}",
                     highlight=False)
    else:
        stdout.print(f"  [red]FAILED[/red]   {escape(outcome.label)} from {outcome.snapshot_id[:8]}: {escape(outcome.error or '')}",
                     highlight=False)


def show_report(report: SetRestoreReport, other_members: list[dict[str, str]]) -> None:
    if report.ok:
        stdout.print(f"backup set {report.set_id}: every part restored ({len(report.done)} step(s))", highlight=False, markup=False)
    else:
        for step in report.not_done:
            stdout.print(f"  [yellow]not attempted[/yellow] {escape(step.label)} (snapshot {step.item.snapshot.short_id})", highlight=False)
    if other_members:
        stdout.print("restore the other etcd members on their hosts (same snapshot, same bump):", highlight=False, markup=False)
        for entry in other_members:
            stdout.print(f"# {entry['member']}\n{entry['command']}", highlight=False, markup=False)


def show_plan(set_id: str, commands: list[dict[str, Any]]) -> None:
    stdout.print(f"# backup set {set_id}, in this order (repository and password via RESTIC_REPOSITORY(_FILE) and "
                 "RESTIC_PASSWORD_FILE/RESTIC_PASSWORD_COMMAND, or --repo/--password-file):", highlight=False, markup=False)
    for entry in commands:
        stdout.print(f"# {entry['name']}, on {entry['on']}:\n{entry['command']}", highlight=False, markup=False)
