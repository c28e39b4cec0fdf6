"""`kubekeeper repo init|check|copy|forget`: thin commands over the restic adapter."""

from __future__ import annotations

from pathlib import Path

import typer

from kubekeeper.cli.common import FORMAT_OPTION, Format
from kubekeeper.cli.options import (
    CLUSTER_FILTER_OPTION,
    KIND_OPTION,
    PASSWORD_FILE_OPTION,
    REPO_CACERT_OPTION,
    REPO_OPTION,
    kind_filter,
    open_repository,
)
from kubekeeper.errors import BadInput, OperationFailed
from kubekeeper.repository import Repository, RepoSpec, Retention, selection
from kubekeeper.report.console import print_json, stdout

repo_app = typer.Typer(help="Create, check, copy and thin out restic repositories.", no_args_is_help=True)



@repo_app.command("init")
def init_command(repo: str = REPO_OPTION, password_file: Path = PASSWORD_FILE_OPTION, repo_cacert: Path = REPO_CACERT_OPTION) -> None:
    """Create the repository (nothing happens if one is already there).

    Example: kubekeeper repo init --repo sftp:backup@nas:/srv/kubekeeper --password-file pw
    """
    repository = open_repository(repo, password_file, repo_cacert)
    if repository.exists():
        stdout.print(f"repository {repository.spec.display} already exists", markup=False)
        return
    repository.init()
    stdout.print(f"created repository {repository.spec.display}", markup=False)


@repo_app.command("check")
def check_command(
    read_data_subset: str = typer.Option(None, "--read-data-subset", help="Also read back this part of the data: N/M, P% or a size (restic syntax)."),
    repo: str = REPO_OPTION,
    password_file: Path = PASSWORD_FILE_OPTION,
    repo_cacert: Path = REPO_CACERT_OPTION,
) -> None:
    """Check the repository's structure (and read back a subset of the data).

    Example: kubekeeper repo check --read-data-subset 10%
    """
    repository = open_repository(repo, password_file, repo_cacert)
    repository.check(read_data_subset)
    what = f" (read back {read_data_subset} of the data)" if read_data_subset else ""
    stdout.print(f"repository {repository.spec.display}: no errors found{what}", markup=False)


def copy_targets(to: list[str], to_password_files: list[Path], source: Repository) -> list[Repository]:
    """Pair --to with --to-password-file: none (source password), one (for all) or one each."""
    if not to:
        raise BadInput("repo copy needs at least one --to repository")
    if len(to_password_files) not in (0, 1, len(to)):
        raise BadInput("give one --to-password-file, or one per --to (in the same order), or none to reuse the source password")
    targets = []
    for index, url in enumerate(to):
        if to_password_files:
            password_file = to_password_files[index if len(to_password_files) > 1 else 0]
            spec = RepoSpec(url=url, password_file=password_file)
        else:
            spec = RepoSpec(url=url, password_file=source.spec.password_file, password=source.spec.password)
        targets.append(Repository(spec))
    return targets


@repo_app.command("copy")
def copy_command(
    to: list[str] = typer.Option([], "--to", help="Destination repository (repeat for several); created when missing."),
    to_password_files: list[Path] = typer.Option([], "--to-password-file", help="Password file of a --to repository (repeat in the same order)."),
    kind: str = KIND_OPTION,
    cluster: str = CLUSTER_FILTER_OPTION,
    repo: str = REPO_OPTION,
    password_file: Path = PASSWORD_FILE_OPTION,
    repo_cacert: Path = REPO_CACERT_OPTION,
    output_format: Format = FORMAT_OPTION,
) -> None:
    """Copy kubekeeper snapshots from the primary repository to one or more others.

    Example: kubekeeper repo copy --repo /srv/backup --to sftp:nas:/backup --to-password-file nas.pw
    """
    source = open_repository(repo, password_file, repo_cacert)
    tags = selection(kind_filter(kind), cluster)
    wanted = source.snapshots(tags)
    results = []
    for target in copy_targets(to, to_password_files, source):
        source.copy_to(target, tags)
        present = {s.original or s.id for s in target.snapshots(tags)}
        missing = [s.id for s in wanted if (s.original or s.id) not in present]
        results.append({"to": target.spec.display, "snapshots": len(wanted), "missing": missing})
        if missing:
            raise OperationFailed(f"copy to {target.spec.display} is missing {len(missing)} snapshot(s): {', '.join(m[:8] for m in missing)}")
    if output_format is Format.json:
        print_json(results)
        return
    for row in results:
        stdout.print(f"copied {row['snapshots']} kubekeeper snapshot(s) to {row['to']}", markup=False)


@repo_app.command("forget")
def forget_command(
    keep_last: int = typer.Option(None, "--keep-last", min=1, help="Keep the last N snapshots."),
    keep_daily: int = typer.Option(None, "--keep-daily", min=1, help="Keep the last snapshot of each of N days."),
    keep_weekly: int = typer.Option(None, "--keep-weekly", min=1, help="Keep the last snapshot of each of N weeks."),
    keep_monthly: int = typer.Option(None, "--keep-monthly", min=1, help="Keep the last snapshot of each of N months."),
    kind: str = KIND_OPTION,
    cluster: str = CLUSTER_FILTER_OPTION,
    prune: bool = typer.Option(True, "--prune/--no-prune", help="Also delete the data no snapshot needs any more."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only show what would be removed."),
    repo: str = REPO_OPTION,
    password_file: Path = PASSWORD_FILE_OPTION,
    repo_cacert: Path = REPO_CACERT_OPTION,
    output_format: Format = FORMAT_OPTION,
) -> None:
    """Forget kubekeeper snapshots beyond the retention policy (per kind, cluster and source) and prune.

    Example: kubekeeper repo forget --keep-daily 7 --keep-weekly 4 --keep-monthly 6
    """
    repository = open_repository(repo, password_file, repo_cacert)
    retention = Retention(keep_last, keep_daily, keep_weekly, keep_monthly)
    groups = repository.forget(retention, selection(kind_filter(kind), cluster), prune=prune and not dry_run, dry_run=dry_run)
    kept = sum(len(g.get("keep") or []) for g in groups)
    removed = sum(len(g.get("remove") or []) for g in groups)
    if output_format is Format.json:
        print_json({"kept": kept, "removed": removed, "dry_run": dry_run, "pruned": prune and not dry_run})
        return
    verb = "would remove" if dry_run else "removed"
    stdout.print(f"kept {kept}, {verb} {removed} snapshot(s) in {repository.spec.display}", markup=False)


def register(app: typer.Typer) -> None:
    app.add_typer(repo_app, name="repo")
