"""`kubekeeper config example|check`: the cluster.yaml that `backup all` reads."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from kubekeeper.cli.common import CONFIG_OPTION, FORMAT_OPTION, Format
from kubekeeper.config import config_path, example_config, load_config
from kubekeeper.report.console import print_json, stdout

config_app = typer.Typer(help="Write and check cluster.yaml (the configuration of `backup all`).", no_args_is_help=True)


@config_app.command("example")
def example_command() -> None:
    """Print a commented example cluster.yaml covering every option."""
    sys.stdout.write(example_config())


@config_app.command("check")
def check_command(config: Path = CONFIG_OPTION, output_format: Format = FORMAT_OPTION) -> None:
    """Validate cluster.yaml; errors name the file, line and option (exit 2)."""
    path = config_path(config)
    cfg = load_config(path)
    parts = {name: getattr(cfg, name).enabled for name in ("etcd", "registry", "volumes")}
    if output_format is Format.json:
        print_json({"config": str(path), "valid": True, "cluster": cfg.cluster, "parts": parts,
                    "copies": len(cfg.repositories.copies)})
        return
    enabled = ", ".join(name for name, on in parts.items() if on) or "nothing"
    stdout.print(f"{path}: valid; cluster {cfg.cluster}; backs up {enabled}; "
                 f"{1 + len(cfg.repositories.copies)} repositories")


def register(app: typer.Typer) -> None:
    app.add_typer(config_app, name="config")
