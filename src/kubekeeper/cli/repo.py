"""`kubekeeper repo init|check|copy|forget|unlock|key`: thin commands over the restic adapter.

`repo init` is the only command that ever creates a repository.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from kubekeeper import redact
from kubekeeper.cli.common import FORMAT_OPTION, Format
from kubekeeper.cli.options import (
    CLUSTER_FILTER_OPTION,
    COMPRESSION_OPTION,
    KIND_OPTION,
    REPOSITORY,
    SESSION,
    RepositoryOptions,
    kind_filter,
    repository_options,
)
from kubekeeper.errors import BadInput, OperationFailed
from kubekeeper.report.console import print_json, stdout
from kubekeeper.repository import Repository, RepoSpec, Retention, selection
from kubekeeper.repository.spec import read_repository_file

repo_app = typer.Typer(help="Create, check, copy, thin out, unlock and re-key restic repositories.", no_args_is_help=True)
key_app = typer.Typer(help="List, add and change the repository's keys (password rotation).", no_args_is_help=True)


@repo_app.command("init")
@repository_options
def init_command(
    copy_chunker_params_from: str = typer.Option(
        None, "--copy-chunker-params-from",
        help="Repository whose chunker parameters to use, so copies from it deduplicate (its password: --from-password-file).",
    ),
    from_password_file: Path = typer.Option(None, "--from-password-file", help="Password file of --copy-chunker-params-from (default: this one's)."),
    repo_options: RepositoryOptions = REPOSITORY,
    output_format: Format = FORMAT_OPTION,
) -> None:
    """Create the repository (nothing happens if one is already there; safe to run twice at once).

    Example: kubekeeper repo init --repo sftp:backup@nas:/srv/kubekeeper --password-file pw
    """
    repository = repo_options.open()
    source = None
    if copy_chunker_params_from:
        if from_password_file is not None:
            source_spec = RepoSpec(url=copy_chunker_params_from, password_file=from_password_file)
        else:
            source_spec = RepoSpec(url=copy_chunker_params_from, password_file=repository.spec.password_file,
                                   password=repository.spec.password, password_command=repository.spec.password_command)
        source = Repository(source_spec, stall_timeout=SESSION.stall_timeout)
    created = repository.init(chunker_source=source)
    if output_format is Format.json:
        print_json({"repository": repository.spec.display, "created": created})
        return
    verb = "created repository" if created else "repository already exists:"
    stdout.print(f"{verb} {repository.spec.display}", markup=False)


@repo_app.command("check")
@repository_options
def check_command(
    read_data_subset: str = typer.Option(None, "--read-data-subset", help="Also read back this part of the data: N/M, P% or a size (restic syntax)."),
    repo_options: RepositoryOptions = REPOSITORY,
) -> None:
    """Check the repository's structure (and read back a subset of the data).

    Example: kubekeeper repo check --read-data-subset 10%
    """
    repository = repo_options.open()
    repository.check(read_data_subset)
    what = f" (read back {read_data_subset} of the data)" if read_data_subset else ""
    stdout.print(f"repository {repository.spec.display}: no errors found{what}", markup=False)


def copy_targets(
    to: list[str],
    to_repository_files: list[Path],
    to_password_files: list[Path],
    to_password_command: str | None,
    source: Repository,
    environ: dict[str, str] | None = None,
) -> list[Repository]:
    """Destinations from --to, --to-repository-file, or KUBEKEEPER_TO_REPOSITORY(_FILE); passwords
    paired with them in order (none: the source's password). Files and the environment keep a
    destination's credentials out of kubekeeper's own argv (visible in `ps`)."""
    environ = dict(os.environ) if environ is None else environ
    urls = [*to, *(read_repository_file(f) for f in to_repository_files)]
    if not urls:
        if environ.get("KUBEKEEPER_TO_REPOSITORY"):
            urls = [environ["KUBEKEEPER_TO_REPOSITORY"]]
        elif environ.get("KUBEKEEPER_TO_REPOSITORY_FILE"):
            urls = [read_repository_file(Path(environ["KUBEKEEPER_TO_REPOSITORY_FILE"]))]
    if not urls:
        raise BadInput("repo copy needs a destination: --to, --to-repository-file, or KUBEKEEPER_TO_REPOSITORY(_FILE)")
    if not to_password_files and environ.get("KUBEKEEPER_TO_PASSWORD_FILE"):
        to_password_files = [Path(environ["KUBEKEEPER_TO_PASSWORD_FILE"])]
    to_password_command = to_password_command or environ.get("KUBEKEEPER_TO_PASSWORD_COMMAND")
    if len(to_password_files) not in (0, 1, len(urls)):
        raise BadInput("give one --to-password-file, or one per destination (in the same order), or none to reuse the source password")
    targets = []
    for index, url in enumerate(urls):
        if to_password_files:
            spec = RepoSpec(url=url, password_file=to_password_files[index if len(to_password_files) > 1 else 0])
        elif to_password_command:
            spec = RepoSpec(url=url, password_command=to_password_command)
        elif environ.get("KUBEKEEPER_TO_PASSWORD"):
            spec = RepoSpec(url=url, password=environ["KUBEKEEPER_TO_PASSWORD"])
        else:
            spec = RepoSpec(url=url, password_file=source.spec.password_file, password=source.spec.password,
                            password_command=source.spec.password_command)
        targets.append(Repository(spec, stall_timeout=source.stall_timeout, compression=source.compression))
    return targets


@repo_app.command("copy")
@repository_options
def copy_command(
    to: list[str] = typer.Option([], "--to", help="Destination repository (repeat for several); it must exist (repo init)."),
    to_repository_files: list[Path] = typer.Option(
        [], "--to-repository-file", help="File holding a destination URL (keeps its credentials out of argv); repeatable.",
    ),
    to_password_files: list[Path] = typer.Option([], "--to-password-file", help="Password file of a destination (repeat in the same order)."),
    to_password_command: str = typer.Option(None, "--to-password-command", help="Command printing the destinations' password."),
    kind: str = KIND_OPTION,
    cluster: str = CLUSTER_FILTER_OPTION,
    repo_options: RepositoryOptions = REPOSITORY,
    compression: str = COMPRESSION_OPTION,
    output_format: Format = FORMAT_OPTION,
) -> None:
    """Copy kubekeeper snapshots from the primary repository to one or more others.

    Destinations also come from KUBEKEEPER_TO_REPOSITORY / KUBEKEEPER_TO_REPOSITORY_FILE and their
    passwords from KUBEKEEPER_TO_PASSWORD_FILE / _COMMAND / KUBEKEEPER_TO_PASSWORD, like restic's
    RESTIC_FROM_* variables. Example: kubekeeper repo copy --repo /srv/backup --to-repository-file nas.url
    --to-password-file nas.pw
    """
    source = repo_options.open(compression=compression)
    tags = selection(kind_filter(kind), cluster)
    targets = copy_targets(to, to_repository_files, to_password_files, to_password_command, source)
    wanted = source.snapshots(tags)
    results = []
    for target in targets:
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
@repository_options
def forget_command(
    keep_last: int = typer.Option(None, "--keep-last", min=1, help="Keep the last N snapshots."),
    keep_daily: int = typer.Option(None, "--keep-daily", min=1, help="Keep the last snapshot of each of N days."),
    keep_weekly: int = typer.Option(None, "--keep-weekly", min=1, help="Keep the last snapshot of each of N weeks."),
    keep_monthly: int = typer.Option(None, "--keep-monthly", min=1, help="Keep the last snapshot of each of N months."),
    kind: str = KIND_OPTION,
    cluster: str = CLUSTER_FILTER_OPTION,
    prune: bool = typer.Option(True, "--prune/--no-prune", help="Also delete the data no snapshot needs any more."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only show what would be removed."),
    repo_options: RepositoryOptions = REPOSITORY,
    output_format: Format = FORMAT_OPTION,
) -> None:
    """Forget kubekeeper snapshots beyond the retention policy (per kind, cluster and source) and prune.

    For an append-only repository run this with the admin URL (credentials that may delete), e.g. the
    rest-server URL without --append-only. Example: kubekeeper repo forget --keep-daily 7 --keep-weekly 4
    """
    repository = repo_options.open()
    retention = Retention(keep_last, keep_daily, keep_weekly, keep_monthly)
    groups = repository.forget(retention, selection(kind_filter(kind), cluster), prune=prune and not dry_run, dry_run=dry_run)
    kept = sum(len(g.get("keep") or []) for g in groups)
    removed = sum(len(g.get("remove") or []) for g in groups)
    if output_format is Format.json:
        print_json({"kept": kept, "removed": removed, "dry_run": dry_run, "pruned": prune and not dry_run})
        return
    verb = "would remove" if dry_run else "removed"
    stdout.print(f"kept {kept}, {verb} {removed} snapshot(s) in {repository.spec.display}", markup=False)


@repo_app.command("unlock")
@repository_options
def unlock_command(
    repo_options: RepositoryOptions = REPOSITORY,
    output_format: Format = FORMAT_OPTION,
) -> None:
    """Remove stale locks (left by a killed run) and name each one; live locks are never touched.

    A lock is stale when its process is gone (same host) or it was not refreshed for 30 minutes.
    """
    repository = repo_options.open()
    report = repository.unlock()
    if output_format is Format.json:
        print_json(report.as_json())
        return
    for lock in report.removed:
        stdout.print(f"removed stale lock {lock.describe()}", markup=False)
    for lock in report.kept:
        stdout.print(f"kept live lock {lock.describe()}", markup=False)
    if not report.removed and not report.kept:
        stdout.print(f"no locks in {repository.spec.display}", markup=False)


def _new_password(new_password_file: Path | None) -> bytes:
    """The new password from a file or stdin (never an option value: argv is world-readable)."""
    if new_password_file is not None:
        try:
            value = new_password_file.read_bytes().strip()
        except OSError as exc:
            raise BadInput(f"cannot read --new-password-file: {exc.strerror}") from exc
    else:
        if sys.stdin is None or sys.stdin.isatty():
            raise BadInput("give the new password with --new-password-file FILE (or pipe it on stdin)")
        value = sys.stdin.buffer.readline().strip()
    if not value:
        raise BadInput("the new password is empty")
    redact.register(value.decode("utf-8", "replace"))
    return value


NEW_PASSWORD_FILE_OPTION = typer.Option(None, "--new-password-file", help="File with the new password (else read from stdin).")


@key_app.command("list")
@repository_options
def key_list_command(
    repo_options: RepositoryOptions = REPOSITORY,
    output_format: Format = FORMAT_OPTION,
) -> None:
    """List the repository's keys (one per password); `*` marks the one this password opens."""
    repository = repo_options.open()
    keys = repository.keys()
    if output_format is Format.json:
        print_json(keys)
        return
    for key in keys:
        mark = "*" if key.get("current") else " "
        stdout.print(f"{mark} {key['id'][:8]}  {key.get('userName', '')}@{key.get('hostName', '')}  {key.get('created', '')}", markup=False)


@key_app.command("add")
@repository_options
def key_add_command(
    new_password_file: Path = NEW_PASSWORD_FILE_OPTION,
    repo_options: RepositoryOptions = REPOSITORY,
) -> None:
    """Add a key for another password (step 1 of a rotation: both passwords work until the old key is removed)."""
    repository = repo_options.open()
    key_id = repository.add_key(_new_password(new_password_file))
    stdout.print(f"added key {key_id[:8]} to {repository.spec.display}", markup=False)


@key_app.command("passwd")
@repository_options
def key_passwd_command(
    new_password_file: Path = NEW_PASSWORD_FILE_OPTION,
    repo_options: RepositoryOptions = REPOSITORY,
) -> None:
    """Change the password: the key this password opens is replaced by one for the new password."""
    repository = repo_options.open()
    key_id = repository.change_password(_new_password(new_password_file))
    stdout.print(f"password changed for {repository.spec.display} (new key {key_id[:8]}); update every password file and secret", markup=False)


def register(app: typer.Typer) -> None:
    repo_app.add_typer(key_app, name="key")
    app.add_typer(repo_app, name="repo")
