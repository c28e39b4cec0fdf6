"""`kubekeeper demo`: the main job on an embedded sandbox that needs nothing but this machine."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import typer

from kubekeeper.demo import registry_cycle
from kubekeeper.demo.etcd_cycle import demo_etcd_cycle
from kubekeeper.report.console import stdout
from kubekeeper.report.plan import show_plan
from kubekeeper.tune.plan import PlanRequest, make_plan
from kubekeeper.tune.render import render_all, write_artifacts

DEMO_NODES = 3000


def demo_tune_plan(workdir: Path) -> None:
    """Plan a 3,000-node cluster on the newest known Kubernetes and write its artifacts."""
    stdout.rule(f"[bold]tune plan: {DEMO_NODES} nodes[/bold]")
    plan = make_plan(PlanRequest(nodes=DEMO_NODES))
    written = write_artifacts(render_all(plan), workdir / "tuning")
    show_plan(plan, written)


def demo_command(
    keep: bool = typer.Option(False, "--keep", help="Keep the sandbox directory instead of removing it."),
) -> None:
    """Run kubekeeper's main jobs on an embedded sandbox in a temporary directory."""
    workdir = Path(tempfile.mkdtemp(prefix="kubekeeper-demo-"))
    stdout.print(f"sandbox: {workdir}")
    try:
        demo_tune_plan(workdir)
        demo_etcd_cycle(workdir)
        registry_cycle.demo_registry_cycle(workdir)
    finally:
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo_command)
