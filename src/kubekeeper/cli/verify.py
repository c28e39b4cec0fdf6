"""`kubekeeper verify`: a restore drill of the newest backup set (or a named snapshot's set)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from kubekeeper.backup.verify import DEFAULT_SAMPLE, DEFAULT_SUBSET, verify
from kubekeeper.cli.common import FORMAT_OPTION, Format
from kubekeeper.cli.options import (
    CLUSTER_SELECT_OPTION,
    PASSWORD_FILE_OPTION,
    REPO_CACERT_OPTION,
    REPO_OPTION,
    open_repository,
    snapshot_option,
)
from kubekeeper.errors import VerificationFailed
from kubekeeper.report.console import print_json, stdout


def verify_command(
    snapshot: str = snapshot_option("A snapshot id (its whole backup set is checked) or 'latest'."),
    cluster: str = CLUSTER_SELECT_OPTION,
    read_data_subset: str = typer.Option(DEFAULT_SUBSET, "--read-data-subset", help="Share of pack files restic re-reads (e.g. 10%, 1/5, 500M)."),
    sample: int = typer.Option(DEFAULT_SAMPLE, "--sample", min=1, help="Volume files restored and verified per snapshot."),
    repo: str = REPO_OPTION,
    password_file: Path = PASSWORD_FILE_OPTION,
    repo_cacert: Path = REPO_CACERT_OPTION,
    output_format: Format = FORMAT_OPTION,
) -> None:
    """Restore drill: etcd restored and checked, registry digests re-hashed, restic check, volume samples.

    Exit 0 when everything verifies, 1 when anything does not (with what and where).
    """
    report = verify(open_repository(repo, password_file, repo_cacert), snapshot, cluster=cluster,
                    read_data_subset=read_data_subset, sample=sample)
    if output_format is Format.json:
        print_json(report.as_json())
    else:
        for check in report.checks:
            mark = "[green]ok[/green]    " if check.ok else "[red]FAILED[/red]"
            stdout.print(f"{mark} {check.part:<10} {escape(check.subject)}: {escape(check.message)}")
    failed = [c for c in report.checks if not c.ok]
    if failed:
        raise VerificationFailed(f"{len(failed)} check(s) failed: " + "; ".join(f"{c.part} {c.subject}: {c.message}" for c in failed))


def register(app: typer.Typer) -> None:
    app.command("verify")(verify_command)
