"""The `backup` and `restore` command groups; each data source adds its own commands to them
(cli/sources/<kind>.py, one module per source of backup/sources/), so no module owns another's
commands."""

from __future__ import annotations

import typer

backup_app = typer.Typer(help="Back up cluster data (etcd, registry, volumes) into restic repositories.", no_args_is_help=True)
restore_app = typer.Typer(help="Restore cluster data from kubekeeper snapshots.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(backup_app, name="backup")
    app.add_typer(restore_app, name="restore")
