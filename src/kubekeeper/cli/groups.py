"""The `backup` and `restore` command groups; each data source adds its own commands to them
(cli/etcd_backup.py, cli/registry.py, cli/volume.py), so no module owns another's commands.
Their long transfers show progress as rich bars on a terminal (report/progress.py)."""

from __future__ import annotations

import typer

from kubekeeper.progress import show_with
from kubekeeper.report.progress import rich_transfers

backup_app = typer.Typer(help="Back up cluster data (etcd, registry, volumes) into restic repositories.", no_args_is_help=True)
restore_app = typer.Typer(help="Restore cluster data from kubekeeper snapshots.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    show_with(rich_transfers)
    app.add_typer(backup_app, name="backup")
    app.add_typer(restore_app, name="restore")
