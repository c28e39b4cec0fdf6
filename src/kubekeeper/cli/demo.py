"""`kubekeeper demo`: the main job on an embedded sandbox that needs nothing but this machine."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import typer

from kubekeeper.demo.cluster_cycle import demo_cluster_cycle
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
    """Back up a sandbox cluster (3-member etcd, registry, volumes), destroy it, restore and verify
    everything, then plan the settings of a 3,000-node cluster. Needs nothing but this machine."""
    workdir = Path(tempfile.mkdtemp(prefix="kubekeeper-demo-"))
    stdout.print(f"sandbox: {workdir}")
    try:
        demo_cluster_cycle(workdir)
        demo_tune_plan(workdir)
    finally:
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo_command)
