"""`kubekeeper status`: the last good backup of every part, its age, and failures since (backup/status.py)."""

from __future__ import annotations

from pathlib import Path

import typer

from kubekeeper.backup import sources
from kubekeeper.backup.status import parse_duration, status
from kubekeeper.cli.common import FORMAT_OPTION, Format
from kubekeeper.cli.options import CLUSTER_SELECT_OPTION, REPOSITORY, RepositoryOptions, repository_options
from kubekeeper.errors import BadInput, TooOld
from kubekeeper.report.console import print_json
from kubekeeper.report.status import age_text, show_status, status_json

CONFIG_OPTION = typer.Option(None, "--config", "-c", envvar="KUBEKEEPER_CONFIG", show_envvar=True,
                             help="cluster.yaml: its primary repository, cluster, enabled parts and run reports.")


def max_age_seconds(value: str | None) -> float | None:
    return None if value is None else parse_duration(value)


@repository_options
def status_command(
    config: Path | None = CONFIG_OPTION,
    max_age: str | None = typer.Option(None, "--max-age", help="Exit 1 if any part's last success is older (90s, 15m, 26h, 7d, 1h30m)."),
    repo_options: RepositoryOptions = REPOSITORY,
    cluster: str | None = CLUSTER_SELECT_OPTION,
    output_format: Format = FORMAT_OPTION,
) -> None:
    """When did each part (etcd, registry, each PVC, the etcd follower) last back up, and what failed since.

    Reads the repository's snapshots and, with --config, the run reports of `backup all`. Exit 1 if
    any part is older than --max-age (a part cluster.yaml enables but never stored counts as too old).

    Example (cron, monitoring): kubekeeper status --config cluster.yaml --max-age 26h
    """
    limit = max_age_seconds(max_age)
    expected: tuple[str, ...] = ()
    reports_dir = None
    if config is not None:
        from kubekeeper.cli.backup_all import repository_for
        from kubekeeper.config import load_config

        cfg = load_config(config)
        if cluster is not None and cluster != cfg.cluster:
            raise BadInput(f"--cluster {cluster} differs from the cluster {cfg.cluster} of {config}")
        cluster = cfg.cluster
        repository = repository_for(cfg.repositories.primary)
        expected = tuple(entry.part for entry in sources.registered() if entry.load().enabled(cfg))
        reports_dir = cfg.reports.directory
    else:
        repository = repo_options.open()
    report = status(repository, cluster=cluster, expected=expected, reports_dir=reports_dir, max_age=limit)
    if output_format is Format.json:
        print_json(status_json(report))
    else:
        show_status(report)
    if not report.ok:
        names = ", ".join(f"{p.name} ({age_text(p.age_seconds)})" for p in report.too_old)
        raise TooOld(f"older than --max-age {max_age}: {names}")


def register(app: typer.Typer) -> None:
    app.command("status")(status_command)
