"""Text report of a tuning plan, grouped by component (narrow enough for an 80-column terminal)."""

from __future__ import annotations

from itertools import groupby
from pathlib import Path

from rich.markup import escape

from kubekeeper.report.console import stdout
from kubekeeper.tune.plan import Plan


def show_plan(plan: Plan, written: list[Path] | None = None) -> None:
    runtime = plan.runtime
    if plan.runtime == "containerd":
        runtime += f" {plan.containerd_version} (config v{plan.containerd_config_version})"
    proxy = "" if plan.kube_proxy else ", no kube-proxy"
    stdout.print(f"[bold]Tuning plan[/bold]: {plan.nodes} nodes, Kubernetes {plan.k8s_version}, runtime {runtime}, "
                 f"etcd {plan.etcd_version}{proxy}")
    ordered = sorted(plan.settings, key=lambda s: s.component)
    for component, settings in groupby(ordered, key=lambda s: s.component):
        stdout.print(f"\n[bold cyan]{component}[/bold cyan]")
        for s in settings:
            value = "[dim](not rendered)[/dim]" if s.value is None else f"[green]{escape(s.shown_value())}[/green]"
            stdout.print(f"  {escape(s.key)} = {value}")
            stdout.print(f"    [dim]{escape(s.rationale)}[/dim]")
            if s.replaces:
                stdout.print(f"    [dim]replaces: {escape(s.replaces)}[/dim]")
            if s.note:
                stdout.print(f"    [yellow]note:[/yellow] {escape(s.note)}")
    if plan.obsolete:
        stdout.print("\n[bold]Removed, deprecated or no longer needed - do not set:[/bold]")
        for o in plan.obsolete:
            stdout.print(f"  [red]x[/red] {escape(o.sentence())}")
    if plan.warnings:
        stdout.print()
    for warning in plan.warnings:
        stdout.print(f"[yellow]warning:[/yellow] {escape(warning)}")
    if written:
        stdout.print("\n[bold]Artifacts written:[/bold]")
        for path in written:
            stdout.print(f"  {path}")
