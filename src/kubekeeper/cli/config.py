"""`kubekeeper config example|check`: the cluster.yaml that `backup all` reads."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from kubekeeper.backup.preflight import check_connections
from kubekeeper.cli.common import CONFIG_OPTION, FORMAT_OPTION, Format
from kubekeeper.config import config_path, example_config
from kubekeeper.config.loader import load_config_document
from kubekeeper.errors import ExitCode
from kubekeeper.report.console import print_json, stdout

config_app = typer.Typer(help="Write and check cluster.yaml (the configuration of `backup all`).", no_args_is_help=True)


@config_app.command("example")
def example_command() -> None:
    """Print a commented example cluster.yaml covering every option."""
    sys.stdout.write(example_config())


@config_app.command("check")
def check_command(
    config: Path = CONFIG_OPTION,
    connect: bool = typer.Option(
        False, "--connect",
        help="Also check that every file is readable, every password source resolves, and etcd, the registry and "
             "each repository answer (exit 1 with one line per problem).",
    ),
    timeout: float = typer.Option(5.0, "--timeout", min=0.1, help="With --connect: seconds each endpoint has to answer."),
    output_format: Format = FORMAT_OPTION,
) -> None:
    """Validate cluster.yaml; errors name the file, line and option (exit 2).

    With --connect, also reach what it names (nothing is written): exit 1 when anything is missing,
    unreadable or does not answer, each problem on one line as FILE:LINE: OPTION: WHAT."""
    path = config_path(config)
    cfg, document = load_config_document(path)
    parts = {name: getattr(cfg, name).enabled for name in ("etcd", "registry", "volumes")}
    problems = check_connections(cfg, document, str(path), timeout) if connect else []
    if output_format is Format.json:
        report = {"config": str(path), "valid": True, "cluster": cfg.cluster, "parts": parts, "copies": len(cfg.repositories.copies)}
        if connect:
            report["connected"] = not problems
            report["problems"] = [p.as_json() for p in problems]
        print_json(report)
    else:
        enabled = ", ".join(name for name, on in parts.items() if on) or "nothing"
        for problem in problems:
            stdout.print(problem.line(), markup=False, highlight=False)
        reached = "" if not connect else ("; everything it names answers" if not problems else f"; {len(problems)} problem(s)")
        stdout.print(f"{path}: valid; cluster {cfg.cluster}; backs up {enabled}; "
                     f"{1 + len(cfg.repositories.copies)} repositories{reached}", markup=False)
    if problems:
        raise typer.Exit(int(ExitCode.FINDINGS))


def register(app: typer.Typer) -> None:
    app.add_typer(config_app, name="config")
