"""Options shared by the backup/restore/repo commands: repository selection, cluster name, progress."""

from __future__ import annotations

from pathlib import Path

import typer

from kubekeeper.errors import BadInput
from kubekeeper.repository import Repository, RepoSpec
from kubekeeper.repository.tags import KINDS

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


KIND_OPTION = typer.Option(None, "--kind", help=f"Only snapshots of this kind ({', '.join(KINDS)}).")
CLUSTER_FILTER_OPTION = typer.Option(None, "--cluster", help="Only snapshots of this cluster.")
KUBECONFIG_OPTION = typer.Option(None, "--kubeconfig", envvar="KUBECONFIG", help="kubeconfig file; in a pod the service account is used.")
CONTEXT_OPTION = typer.Option(None, "--context", help="kubeconfig context.")


def kind_filter(kind: str | None) -> str | None:
    """--kind checked against the snapshot kinds kubekeeper writes."""
    if kind is not None and kind not in KINDS:
        raise BadInput(f"unknown --kind {kind!r} (one of {', '.join(KINDS)})")
    return kind
