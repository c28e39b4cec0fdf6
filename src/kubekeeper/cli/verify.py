"""`kubekeeper verify`: a restore drill of the newest backup set (or a named snapshot's set)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from kubekeeper.backup.verify import DEFAULT_SAMPLE, VerifyOptions, verify
from kubekeeper.cli.common import FORMAT_OPTION, Format
from kubekeeper.cli.options import (
    CLUSTER_SELECT_OPTION,
    REPOSITORY,
    RepositoryOptions,
    repository_options,
    snapshot_option,
)
from kubekeeper.errors import VerificationFailed
from kubekeeper.report.console import print_json, stdout
from kubekeeper.report.progress import console_progress


@repository_options
def verify_command(
    snapshot: str = snapshot_option("A snapshot id (its whole backup set is checked) or 'latest'."),
    cluster: str = CLUSTER_SELECT_OPTION,
    read_data_subset: str = typer.Option(
        None, "--read-data-subset",
        help="Also re-read this share of ALL pack files in the repository (restic syntax: 10%, 1/5, 500M); the set's own data is read anyway.",
    ),
    sample: int = typer.Option(DEFAULT_SAMPLE, "--sample", min=1, help="Volume files also restored to disk and verified per snapshot."),
    quick: bool = typer.Option(False, "--quick", help="Read only the sampled volume files (the report says exactly what share of bytes)."),
    etcdutl: Path = typer.Option(None, "--etcdutl", help="etcdutl (3.5+) or etcdctl (3.4) to restore etcd snapshots with; default: found on PATH."),
    repo_options: RepositoryOptions = REPOSITORY,
    output_format: Format = FORMAT_OPTION,
) -> None:
    """Restore drill of a backup set: every byte of it read back, etcd restored, registry digests re-hashed.

    By default all data of the set is read (a damaged pack is found every time); --quick samples
    volume files and reports the exact share read. Exit 0 when everything verifies, 1 when anything
    does not (with what and where).
    """
    repository = repo_options.open()
    options = VerifyOptions(read_data_subset=read_data_subset, sample=sample, quick=quick, etcdutl=etcdutl)
    report = verify(repository, snapshot, cluster=cluster, options=options, progress=console_progress(output_format is Format.text))
    if output_format is Format.json:
        print_json(report.as_json())
    else:
        for check in report.checks:
            mark = "[green]ok[/green]    " if check.ok else "[red]FAILED[/red]"
            stdout.print(f"{mark} {check.part:<10} {escape(check.subject)}: {escape(check.message)}")
        stdout.print(f"read back: {escape(report.coverage)}")
    failed = [c for c in report.checks if not c.ok]
    if failed:
        raise VerificationFailed(f"{len(failed)} check(s) failed: " + "; ".join(f"{c.part} {c.subject}: {c.message}" for c in failed))


def register(app: typer.Typer) -> None:
    app.command("verify")(verify_command)
