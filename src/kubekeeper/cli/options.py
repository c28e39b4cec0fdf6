"""Options shared by the backup/restore/repo commands: repository selection, cluster name, progress."""

from __future__ import annotations

from pathlib import Path

import typer

from kubekeeper.repository import Repository, RepoSpec

REPO_OPTION = typer.Option(
    None, "--repo", "-r", envvar="RESTIC_REPOSITORY", show_envvar=True,
    help="restic repository (path, sftp:, rest:, s3:); default $RESTIC_REPOSITORY.",
)
PASSWORD_FILE_OPTION = typer.Option(
    None, "--password-file", "-p",
    help="File with the repository password; default $RESTIC_PASSWORD_FILE, then $RESTIC_PASSWORD.",
)
REPO_CACERT_OPTION = typer.Option(None, "--repo-cacert", help="CA certificate for a TLS backend (rest:, s3:).")
CLUSTER_OPTION = typer.Option(
    "default", "--cluster", envvar="KUBEKEEPER_CLUSTER", show_envvar=True,
    help="Cluster name recorded in the snapshot tags (cluster:<name>).",
)
NO_PROGRESS_OPTION = typer.Option(False, "--no-progress", help="No progress bars on stderr.")


def open_repository(repo: str | None, password_file: Path | None, cacert: Path | None = None) -> Repository:
    """The repository the options and restic's environment select (BadInput when incomplete)."""
    return Repository(RepoSpec.from_options(repo, password_file, cacert=cacert))
