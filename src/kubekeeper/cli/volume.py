"""`backup volume` and `restore volume`: parse, call kubekeeper.backup.volume(_restore), render."""

from __future__ import annotations

from pathlib import Path

import typer

from kubekeeper.backup.volume import VolumeResult, backup_volumes
from kubekeeper.backup.volume_restore import restore_volume
from kubekeeper.cli.common import FORMAT_OPTION, Format
from kubekeeper.cli.groups import backup_app, restore_app
from kubekeeper.cli.options import (
    CLUSTER_OPTION,
    COMPRESSION_OPTION,
    CONTEXT_OPTION,
    KUBECONFIG_OPTION,
    PASSWORD_COMMAND_OPTION,
    PASSWORD_FILE_OPTION,
    REPO_CACERT_OPTION,
    REPO_OPTION,
    REPOSITORY_FILE_OPTION,
    open_repository,
    snapshot_option,
)
from kubekeeper.errors import BadInput, OperationFailed
from kubekeeper.report.console import print_json, stderr, stdout
from kubekeeper.volumes.model import PvcRef, VolumeSource

KUBELET_ROOT_OPTION = typer.Option(Path("/var/lib/kubelet"), "--kubelet-root", help="The kubelet's root directory as this process sees it.")
HOST_ROOT_OPTION = typer.Option(Path("/"), "--host-root", help="The node's / as this process sees it (hostPath and local PVs).")
NODE_OPTION = typer.Option(None, "--node", help="This node's name; default $NODE_NAME, then the hostname.")


def _cluster(kubeconfig: Path | None, context: str | None):
    from kubekeeper.volumes.kube import Cluster

    return Cluster(kubeconfig, context)


def _render(results: list[VolumeResult], fmt: Format) -> None:
    if fmt is Format.json:
        print_json({"volumes": [r.to_dict() for r in results]})
        return
    for r in results:
        if r.status == "ok":
            stdout.print(f"{r.pvc}: snapshot {r.snapshot} ({r.files} files, {r.bytes_processed} bytes read, {r.bytes_added} added, {r.duration_seconds:.1f}s)", markup=False, highlight=False)
        else:
            stdout.print(f"{r.pvc}: {r.status}: {r.message}", markup=False, highlight=False)


@backup_app.command("volume")
def backup_volume(
    pvc: list[str] = typer.Option([], "--pvc", help="NAMESPACE/NAME of a PVC (repeatable); with --all-pvcs, in addition."),
    all_pvcs: bool = typer.Option(False, "--all-pvcs", help="Every PVC mounted by a pod running on this node (of -n NS if given)."),
    namespace: str | None = typer.Option(None, "--namespace", "-n", help="With --all-pvcs: only this namespace."),
    source_dir: Path | None = typer.Option(None, "--source-dir", help="Back up this directory for the one --pvc, without the API."),
    exclude: list[str] = typer.Option([], "--exclude", help="restic exclude glob (repeatable)."),
    concurrency: int = typer.Option(2, "--concurrency", min=1, max=64, help="Volumes backed up at once."),
    hook_timeout: float = typer.Option(300.0, "--hook-timeout", help="Seconds a pre/post hook may run."),
    hook_namespace: list[str] = typer.Option([], "--hook-namespace", help="Run hooks only in these namespaces (repeatable); a volume with a hook elsewhere fails."),
    no_hooks: bool = typer.Option(False, "--no-hooks", help="Run no hooks; a volume that has one fails (it is not read without it)."),
    kubeconfig: Path | None = KUBECONFIG_OPTION,
    context: str | None = CONTEXT_OPTION,
    kubelet_root: Path = KUBELET_ROOT_OPTION,
    host_root: Path = HOST_ROOT_OPTION,
    node: str | None = NODE_OPTION,
    repo: str | None = REPO_OPTION,
    password_file: Path | None = PASSWORD_FILE_OPTION,
    password_command: str | None = PASSWORD_COMMAND_OPTION,
    repository_file: Path | None = REPOSITORY_FILE_OPTION,
    repo_cacert: Path | None = REPO_CACERT_OPTION,
    cluster_name: str = CLUSTER_OPTION,
    compression: str = COMPRESSION_OPTION,
    fmt: Format = FORMAT_OPTION,
) -> None:
    """One restic snapshot per PVC, read straight from its volume directory on this node.

    With --all-pvcs the API cost is one LIST of this node's running pods plus one GET per PVC they
    mount (and per PV where the PV is needed), whatever the size of the cluster."""
    from kubekeeper.volumes.hooks import allowed_in
    from kubekeeper.volumes.locate import locate, this_node

    refs = [PvcRef.parse(p) for p in pvc]
    if not all_pvcs and not refs:
        raise BadInput("give --pvc NS/NAME (repeatable) or --all-pvcs")
    if source_dir is not None and all_pvcs:
        raise BadInput("--source-dir backs up one directory: give exactly one --pvc, not --all-pvcs")
    repository = open_repository(repo, password_file, repo_cacert, password_command=password_command, repository_file=repository_file,
                                 compression=compression)
    node_name = this_node(node)
    executor = None
    if source_dir is not None:
        if len(refs) != 1:
            raise BadInput("--source-dir backs up one directory: give exactly one --pvc")
        if not source_dir.is_dir():
            raise BadInput(f"--source-dir {source_dir} is not a directory")
        sources, problems = [VolumeSource(refs[0], source_dir.resolve(), node_name)], []
    else:
        cluster = _cluster(kubeconfig, context)
        executor = cluster
        sources, problems = locate(cluster, refs, all_pvcs=all_pvcs, namespace=namespace, node=node_name, kubelet_root=kubelet_root, host_root=host_root)
        if no_hooks and hook_namespace:
            raise BadInput("give --no-hooks or --hook-namespace, not both")
        sources, refused = allowed_in(sources, set() if no_hooks else (set(hook_namespace) if hook_namespace else None))
        problems = [*problems, *refused]
    if fmt is Format.text:
        stderr.print(f"backing up {len(sources)} volume(s) on node {node_name}", markup=False, highlight=False)
    results = backup_volumes(
        repository, sources, problems, cluster=cluster_name, excludes=exclude, concurrency=concurrency,
        executor=executor, hook_timeout=hook_timeout, strict=not all_pvcs, lookup_parents=source_dir is None, named=refs,
    )
    _render(results, fmt)
    failed = [r for r in results if r.status == "failed"]
    if failed:
        raise OperationFailed(f"{len(failed)} of {len(results)} volume(s) not backed up: {', '.join(r.pvc for r in failed)}")


@restore_app.command("volume")
def restore_volume_command(
    pvc: str = typer.Option(..., "--pvc", help="NAMESPACE/NAME of the PVC whose snapshot to restore."),
    snapshot: str = snapshot_option(),
    target: Path | None = typer.Option(None, "--target", help="Restore into this directory instead of the PVC's volume."),
    recreate: bool = typer.Option(False, "--recreate", help="Create the PVC (and a static PV) from the snapshot first."),
    wait_timeout: float = typer.Option(600.0, "--wait-timeout", help="With --recreate: seconds to wait for bound and mounted."),
    kubeconfig: Path | None = KUBECONFIG_OPTION,
    context: str | None = CONTEXT_OPTION,
    kubelet_root: Path = KUBELET_ROOT_OPTION,
    host_root: Path = HOST_ROOT_OPTION,
    node: str | None = NODE_OPTION,
    repo: str | None = REPO_OPTION,
    password_file: Path | None = PASSWORD_FILE_OPTION,
    password_command: str | None = PASSWORD_COMMAND_OPTION,
    repository_file: Path | None = REPOSITORY_FILE_OPTION,
    repo_cacert: Path | None = REPO_CACERT_OPTION,
    cluster_name: str = CLUSTER_OPTION,
    fmt: Format = FORMAT_OPTION,
) -> None:
    """Restore a PVC's data: same end state as `rsync -a --delete`, nothing deleted before the copy is complete."""
    from kubekeeper.volumes.locate import this_node

    ref = PvcRef.parse(pvc)
    repository = open_repository(repo, password_file, repo_cacert, password_command=password_command, repository_file=repository_file)
    cluster = _cluster(kubeconfig, context) if (target is None or recreate) else None
    result = restore_volume(
        repository, ref, cluster_name=cluster_name, snapshot=snapshot, target=target, cluster=cluster, recreate=recreate,
        node=this_node(node), kubelet_root=kubelet_root, host_root=host_root, wait_timeout=wait_timeout,
    )
    if fmt is Format.json:
        print_json(result.to_dict())
    else:
        created = f" (created {', '.join(result.recreated)})" if result.recreated else ""
        stdout.print(f"{result.pvc}: snapshot {result.snapshot} restored into {result.target}{created}", markup=False, highlight=False)


def register(app: typer.Typer) -> None:
    """Commands are added to the shared backup/restore groups at import time."""
