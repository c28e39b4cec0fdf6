"""`kubekeeper backup registry` and `kubekeeper restore registry`: options -> the registry source
(backup/sources/registry.py) -> render."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from kubekeeper.backup.sources.registry import SOURCE, RegistryOrigin, RegistryTarget, default_cache
from kubekeeper.cli.common import FORMAT_OPTION, Format
from kubekeeper.cli.groups import backup_app, restore_app
from kubekeeper.cli.options import (
    CLUSTER_OPTION,
    CLUSTER_SELECT_OPTION,
    COMPRESSION_OPTION,
    NO_PROGRESS_OPTION,
    REPOSITORY,
    RepositoryOptions,
    repository_options,
    snapshot_option,
)
from kubekeeper.errors import BadInput
from kubekeeper.registry import auth
from kubekeeper.registry.client import RegistryOptions, normalize_url
from kubekeeper.report.console import print_json, stdout
from kubekeeper.report.progress import console_progress

REGISTRY_OPTION = typer.Option(..., "--registry", envvar="KUBEKEEPER_REGISTRY", show_envvar=True,
                               help="Registry URL; https:// is assumed without a scheme, http:// only when given.")
USERNAME_OPTION = typer.Option(None, "--username", "-u", help="Registry user (password from --password-stdin).")
PASSWORD_STDIN_OPTION = typer.Option(False, "--password-stdin", help="Read the registry password from stdin.")
CACERT_OPTION = typer.Option(None, "--cacert", help="CA certificate bundle to verify the registry's TLS certificate.")
INSECURE_OPTION = typer.Option(False, "--insecure", help="Do not verify the registry's TLS certificate (lab use only).")
CONCURRENCY_OPTION = typer.Option(8, "--concurrency", min=1, max=64, help="Parallel transfers (repositories and blobs).")
HARBOR_OPTION = typer.Option(False, "--harbor", help="Use Harbor's /api/v2.0 for listing and project creation.")


def registry_options(registry: str, username: str | None, password_stdin: bool, cacert: Path | None,
                     insecure: bool, concurrency: int) -> RegistryOptions:
    """Options plus credentials: --username/--password-stdin, then the environment, then docker config."""
    _, host = normalize_url(registry)
    password = None
    if password_stdin:
        if sys.stdin is None or sys.stdin.isatty():
            raise BadInput("--password-stdin needs the password piped on stdin")
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise BadInput("--password-stdin read an empty password")
    credentials = auth.resolve(host, username=username, password=password)
    return RegistryOptions(registry, credentials, cacert, insecure, concurrency)


@repository_options
def backup_registry_command(
    registry: str = REGISTRY_OPTION,
    harbor: bool = HARBOR_OPTION,
    project: list[str] = typer.Option([], "--project", help="Only these projects (repository prefixes); repeatable."),
    cache: Path = typer.Option(None, "--cache", help="Persistent OCI layout cache (default ~/.cache/kubekeeper/registry/<host>)."),
    concurrency: int = CONCURRENCY_OPTION,
    username: str = USERNAME_OPTION,
    password_stdin: bool = PASSWORD_STDIN_OPTION,
    cacert: Path = CACERT_OPTION,
    insecure: bool = INSECURE_OPTION,
    repo_options: RepositoryOptions = REPOSITORY,
    cluster: str = CLUSTER_OPTION,
    no_progress: bool = NO_PROGRESS_OPTION,
    compression: str = COMPRESSION_OPTION,
    output: Format = FORMAT_OPTION,
) -> None:
    """Sync every image, index, chart and signature into the layout cache, then back it up with restic."""
    options = registry_options(registry, username, password_stdin, cacert, insecure, concurrency)  # bad input first
    repository = repo_options.open(compression=compression)
    host = normalize_url(registry)[1]
    origin = RegistryOrigin(options, cache or default_cache() / host.replace(":", "_"), harbor, tuple(project))
    result = SOURCE.back_up(repository, origin, cluster=cluster, progress=console_progress(not no_progress))
    if output is Format.json:
        print_json(result.as_json())
        return
    d = result.details
    stdout.print(f"registry {d['registry']}: snapshot {result.snapshot_id[:8]} — {d['repositories']} repositories, "
                 f"{d['tags']} tags, {d['manifests']} references; fetched {d['blobs_fetched']} blobs "
                 f"({d['bytes_fetched']:,} bytes); layout {d['layout_bytes']:,} bytes")


@repository_options
def restore_registry_command(
    registry: str = REGISTRY_OPTION,
    snapshot: str = snapshot_option(),
    project_map: list[str] = typer.Option([], "--project-map", help="OLD=NEW: restore project OLD as NEW; repeatable."),
    harbor: bool = HARBOR_OPTION,
    concurrency: int = CONCURRENCY_OPTION,
    username: str = USERNAME_OPTION,
    password_stdin: bool = PASSWORD_STDIN_OPTION,
    cacert: Path = CACERT_OPTION,
    insecure: bool = INSECURE_OPTION,
    workdir: Path = typer.Option(None, "--workdir", help="Where the snapshot's layout is unpacked (default: temp dir)."),
    repo_options: RepositoryOptions = REPOSITORY,
    cluster: str = CLUSTER_SELECT_OPTION,
    no_progress: bool = NO_PROGRESS_OPTION,
    output: Format = FORMAT_OPTION,
) -> None:
    """Push a snapshot's images into a registry: blobs (skip/mount/upload), manifests children-first, tags."""
    repository = repo_options.open()
    options = registry_options(registry, username, password_stdin, cacert, insecure, concurrency)
    target = RegistryTarget(options, tuple(project_map), harbor, workdir)
    restored = SOURCE.restore(repository, SOURCE.find(repository, snapshot, cluster=cluster, target=target), target,
                              progress=console_progress(not no_progress))
    report = restored.details
    if output is Format.json:
        print_json(restored.as_json())
        return
    stdout.print(f"registry {report['registry']}: restored snapshot {restored.snapshot_id[:8]} — "
                 f"{report['repositories']} repositories, {report['tags']} tags; blobs uploaded {report['blobs_pushed']}, "
                 f"mounted {report['blobs_mounted']}, already present {report['blobs_present']}")


def register(app: typer.Typer) -> None:
    """Commands hang off the shared backup/restore groups (cli/groups.py)."""
    backup_app.command("registry")(backup_registry_command)
    restore_app.command("registry")(restore_registry_command)
