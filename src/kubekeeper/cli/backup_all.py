"""`kubekeeper backup all`: every enabled part of cluster.yaml as one backup set."""

from __future__ import annotations

from pathlib import Path

import typer

from kubekeeper.backup import sources
from kubekeeper.backup.backup_set import run_backup_set
from kubekeeper.backup.parts import parts_from_config
from kubekeeper.backup.sources.etcd import SOURCE
from kubekeeper.cli.common import CONFIG_OPTION, FORMAT_OPTION, Format
from kubekeeper.cli.groups import backup_app
from kubekeeper.cli.options import SESSION
from kubekeeper.config import config_path, load_config
from kubekeeper.config.schema import ClusterConfig, RepositoryRef
from kubekeeper.errors import BadInput, OperationFailed
from kubekeeper.etcd.follow import FollowSettings, parse_duration, parse_size
from kubekeeper.report.console import print_json, stderr
from kubekeeper.report.progress import console_progress
from kubekeeper.report.run_report import show_set, write_json_report, write_metrics
from kubekeeper.repository import Repository, RepoSpec, Retention

SKIP_OPTION = typer.Option([], "--skip", help=f"Turn a part off for this run: {sources.one_of(sources.parts())} (repeatable).")


def repository_for(ref: RepositoryRef, compression: str | None = None) -> Repository:
    """A repository from a config reference; the password is resolved here and passed by env only
    (a password command is handed to restic, which runs it)."""
    password = ref.password.resolve() if ref.password is not None else None
    spec = RepoSpec(url=ref.url, password=password, password_command=ref.password_command, cacert=ref.cacert,
                    append_only=ref.append_only)
    return Repository(spec, stall_timeout=SESSION.stall_timeout, compression=compression)


def retention_of(config: ClusterConfig) -> Retention:
    r = config.retention
    return Retention(r.keep_last, r.keep_daily, r.keep_weekly, r.keep_monthly)


@backup_app.command("all")
def backup_all_command(
    config: Path = CONFIG_OPTION,
    skip: list[str] = SKIP_OPTION,
    no_progress: bool = typer.Option(False, "--no-progress", help="No progress bars on stderr."),
    compression: str = typer.Option(None, "--compression", help="Override repositories.compression of cluster.yaml (auto|max|off)."),
    follow: bool = typer.Option(
        False, "--follow",
        help="After the set, keep running the etcd follower (etcd.follow of cluster.yaml) until SIGTERM/SIGINT.",
    ),
    output_format: Format = FORMAT_OPTION,
) -> None:
    """Back up every part cluster.yaml turns on (etcd, registry, volumes) as one backup set.

    Then copy the set to the other repositories, apply retention, and write the JSON report and
    Prometheus textfile. A failed part does not stop the others; exit 3 if any part failed. Retention
    in an append-only repository is skipped with a note (exit 0). A missing primary repository is
    exit 10 before anything is fetched.
    """
    cfg = load_config(config_path(config))
    if follow and not (cfg.etcd.enabled and cfg.etcd.follow.enabled):
        raise BadInput("--follow runs the etcd follower: turn on etcd.enabled and etcd.follow.enabled in cluster.yaml")
    mode = compression or cfg.repositories.compression
    primary = repository_for(cfg.repositories.primary, mode)
    copies = [repository_for(ref, mode) for ref in cfg.repositories.copies]
    parts = parts_from_config(cfg, primary, progress=console_progress(not no_progress and output_format is Format.text), skip=skip)
    primary.require()
    report = run_backup_set(cfg.cluster, parts, primary, copies, retention_of(cfg))
    if cfg.reports.directory:
        write_json_report(report, cfg.reports.directory)
    if cfg.reports.prometheus_textfile:
        write_metrics(report, cfg.reports.prometheus_textfile)
    if output_format is Format.json:
        print_json(report.as_json())
    else:
        show_set(report)
    incomplete = ""
    if not report.ok:
        failed = [p.name for p in report.parts if not p.ok] + [f"copy to {c.repository}" for c in report.copies if not c.ok]
        if report.retention.get("error"):
            failed.append("retention")
        incomplete = f"backup set {report.set_id} incomplete: {', '.join(failed)} failed; the other parts were stored"
        if not follow:
            raise OperationFailed(incomplete)
        stderr.print(f"warning: {incomplete}; the follower starts anyway (exit 3 when it stops)", markup=False)
    if follow:
        from kubekeeper.cli.sources.etcd import run_follower  # the follower's command module, only when it runs

        section = cfg.etcd.follow
        settings = FollowSettings(parse_duration(section.delta_interval, "etcd.follow.delta_interval"),
                                  parse_duration(section.full_interval, "etcd.follow.full_interval"),
                                  parse_size(section.max_buffer, "etcd.follow.max_buffer"), section.metrics_file, cfg.cluster)
        run_follower(primary, SOURCE.from_config(cfg), cfg.cluster, settings, output_format)
        if incomplete:
            raise OperationFailed(incomplete)


def register(app: typer.Typer) -> None:
    """Commands attach to the `backup` group defined in cli/groups.py."""
