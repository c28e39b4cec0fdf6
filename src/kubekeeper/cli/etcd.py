"""`kubekeeper etcd ...`: check-disk and prioritize (status is added by the backup work)."""

from __future__ import annotations

from pathlib import Path

import typer

from kubekeeper.cli.common import FORMAT_OPTION, Format
from kubekeeper.errors import ExitCode
from kubekeeper.etcd.diskcheck import BLOCK_SIZE, TOTAL_BYTES, check_disk
from kubekeeper.etcd.priority import STATE_FILE, prioritize, undo
from kubekeeper.report.console import print_json

etcd_app = typer.Typer(help="etcd: disk check, I/O and network priority, status.", no_args_is_help=True)


@etcd_app.command("check-disk")
def check_disk_command(
    directory: Path = typer.Option(Path("."), "--dir", help="Directory on the disk etcd uses (e.g. /var/lib/etcd)."),
    total_bytes: int = typer.Option(TOTAL_BYTES, "--total-bytes", hidden=True),
    output_format: Format = FORMAT_OPTION,
) -> None:
    """fdatasync latency of 2,300-byte sequential writes (22 MiB); passes when p99 < 10 ms. Exit 1 if slower."""
    result = check_disk(directory, BLOCK_SIZE, total_bytes)
    if output_format is Format.json:
        print_json(result.as_json())
    else:
        verdict = "PASS" if result.passed else "FAIL"
        typer.echo(f"{verdict}: fdatasync p50 {result.p50_ms:.3f} ms, p90 {result.p90_ms:.3f} ms, p99 {result.p99_ms:.3f} ms "
                   f"(limit {result.limit_ms:g} ms), {result.iops:.0f} IOPS, {result.writes} writes in {result.directory}")
    if not result.passed:
        raise typer.Exit(int(ExitCode.FINDINGS))


@etcd_app.command("prioritize")
def prioritize_command(
    pid: int = typer.Option(None, "--pid", help="etcd's pid (default: every process named etcd)."),
    dev: str = typer.Option(None, "--dev", help="Network interface for the prio qdisc and the 2380/2379 filters."),
    undo_: bool = typer.Option(False, "--undo", help="Remove exactly what earlier runs added."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the commands, change nothing."),
    qdisc: str = typer.Option("prio", "--qdisc", help="prio (as etcd's guide) or htb (kernels without sch_prio)."),
    state_file: Path = typer.Option(STATE_FILE, "--state-file", hidden=True),
    output_format: Format = FORMAT_OPTION,
) -> None:
    """ionice -c2 -n0 for etcd; with --dev, peer (2380) then client (2379) traffic first. Idempotent."""
    if undo_:
        result = undo(dry_run=dry_run, state_file=state_file)
    else:
        result = prioritize(pid, dev, dry_run=dry_run, qdisc=qdisc, state_file=state_file)
    if output_format is Format.json:
        print_json(result.as_json())
        return
    lines = [f"{'would run' if dry_run else 'ran'}: {c}" for c in result.commands]
    lines += [f"unchanged: {u}" for u in result.unchanged]
    if not result.commands:
        lines.append("nothing changed")
    typer.echo("\n".join(lines))


def register(app: typer.Typer) -> None:
    app.add_typer(etcd_app, name="etcd")
