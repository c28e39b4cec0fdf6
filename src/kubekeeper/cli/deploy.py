"""`deploy render`: manifests that run kubekeeper in-cluster (kubekeeper.deploy.render)."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from kubekeeper.deploy.render import DeployOptions, render, to_yaml, write
from kubekeeper.report.console import stderr

deploy_app = typer.Typer(help="Run kubekeeper inside the cluster.", no_args_is_help=True)


@deploy_app.command("render")
def render_command(
    output_dir: Path | None = typer.Option(None, "--output-dir", help="Write one file per object here (default: YAML on stdout)."),
    namespace: str = typer.Option("kubekeeper-system", "--namespace", "-n"),
    image: str = typer.Option(DeployOptions.image, "--image"),
    cluster: str = typer.Option("default", "--cluster", help="Cluster name recorded in the snapshot tags."),
    schedule: str = typer.Option("30 1 * * *", "--schedule", help="Cron schedule of the etcd/registry backup."),
    volume_interval: int = typer.Option(86400, "--volume-interval", min=60, help="Seconds between volume backups on each node."),
    etcd_endpoints: str = typer.Option("https://127.0.0.1:2379", "--etcd-endpoints"),
    registry: str | None = typer.Option(None, "--registry", help="Also back up this registry."),
    kubelet_root: str = typer.Option("/var/lib/kubelet", "--kubelet-root"),
    concurrency: int = typer.Option(2, "--concurrency", min=1, max=64),
) -> None:
    """Namespace, ServiceAccount + least RBAC, etcd/registry CronJob, per-node volume DaemonSet."""
    options = DeployOptions(namespace, image, cluster, schedule, volume_interval, etcd_endpoints, registry, kubelet_root, concurrency)
    objects = render(options)
    if output_dir is None:
        sys.stdout.write(to_yaml(objects))
        return
    for path in write(objects, output_dir):
        stderr.print(f"wrote {path}", markup=False, highlight=False)
    stderr.print(f"create the Secret {namespace}/kubekeeper-repository (keys: repository, password) before applying", markup=False, highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(deploy_app, name="deploy")
