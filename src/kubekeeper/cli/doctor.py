"""`kubekeeper doctor`: the external programs kubekeeper runs, found or not, and what each missing one disables."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from kubekeeper.cli.common import FORMAT_OPTION, Format
from kubekeeper.config import load_config
from kubekeeper.doctor import diagnose
from kubekeeper.errors import ExitCode
from kubekeeper.report.console import print_json, stdout


def doctor_command(
    config: Path | None = typer.Option(
        None, "--config", "-c", envvar="KUBEKEEPER_CONFIG", show_envvar=True,
        help="cluster.yaml: what it turns on decides what is required (without it: restic only).",
    ),
    output_format: Format = FORMAT_OPTION,
) -> None:
    """Say which external tools (restic, etcdutl, etcdctl, ssh, rclone, ...) are on PATH, their versions,
    and what each missing one disables. Exit 1 only when something the configured work needs is missing."""
    cfg = load_config(config) if config is not None else None
    diagnosis = diagnose(cfg, str(config) if config is not None else None)
    missing = diagnosis.missing_required
    if output_format is Format.json:
        print_json(diagnosis.as_json())
    else:
        for found in diagnosis.found:
            if found.ok:
                state = f"[green]ok[/green]      {escape(found.tool.name):<16} {escape(found.version or '?'):<10} {escape(found.path or '')}"
            else:
                label = "[red]MISSING[/red] " if found.required_because else "[yellow]absent[/yellow]  "
                why = found.problem or "not on PATH"
                state = f"{label} {escape(found.tool.name):<16} {escape(why)}; disables {escape(found.tool.missing_disables)}"
            if found.required_because:
                state += f"  [dim](required: {escape(found.required_because)})[/dim]"
            stdout.print(state)
        for note in diagnosis.notes:
            stdout.print(f"note: {escape(note)}")
        if missing:
            stdout.print(f"[red]missing for the configured work:[/red] {escape(', '.join(f.tool.name for f in missing))}")
    if missing:
        raise typer.Exit(int(ExitCode.FINDINGS))


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor_command)
