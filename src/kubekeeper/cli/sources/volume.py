"""`backup volume` and `restore volume`: options -> the volume source (backup/sources/volume.py) -> render."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from kubekeeper.backup.source import BackupResult, PartlyStored
from kubekeeper.backup.sources.volume import SOURCE, VolumeOrigin, VolumeTarget
from kubekeeper.cli.common import FORMAT_OPTION, Format
from kubekeeper.cli.groups import backup_app, restore_app
from kubekeeper.cli.options import (
    CLUSTER_OPTION,
    COMPRESSION_OPTION,
    CONTEXT_OPTION,
    KUBECONFIG_OPTION,
    REPOSITORY,
    RepositoryOptions,
    repository_options,
    snapshot_option,
)
from kubekeeper.errors import BadInput, OperationFailed
from kubekeeper.kubeapi import KubeAccess
from kubekeeper.report.console import print_json, stdout
from kubekeeper.report.progress import console_progress
from kubekeeper.volumes.model import PvcRef

KUBELET_ROOT_OPTION = typer.Option(Path("/var/lib/kubelet"), "--kubelet-root", help="The kubelet's root directory as this process sees it.")
HOST_ROOT_OPTION = typer.Option(Path("/"), "--host-root", help="The node's / as this process sees it (hostPath and local PVs).")
NODE_OPTION = typer.Option(None, "--node", help="This node's name; default $NODE_NAME, then the hostname.")


def _render(result: BackupResult, fmt: Format) -> None:
    volumes: list[dict[str, Any]] = result.details.get("volumes") or []
    if fmt is Format.json:
        print_json({"volumes": volumes})
        return
    for r in volumes:
        if r["status"] == "ok":
            stdout.print(f"{r['pvc']}: snapshot {r['snapshot']} ({r['files']} files, {r['bytes_processed']} bytes read, "
                         f"{r['bytes_added']} added, {r['duration_seconds']:.1f}s)", markup=False, highlight=False)
        else:
            stdout.print(f"{r['pvc']}: {r['status']}: {r['message']}", markup=False, highlight=False)


@backup_app.command("volume")
@repository_options
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
    repo_options: RepositoryOptions = REPOSITORY,
    cluster_name: str = CLUSTER_OPTION,
    compression: str = COMPRESSION_OPTION,
    fmt: Format = FORMAT_OPTION,
) -> None:
    """One restic snapshot per PVC, read straight from its volume directory on this node.

    With --all-pvcs the API cost is one LIST of this node's running pods plus one GET per PVC they
    mount (and per PV where the PV is needed), whatever the size of the cluster."""
    refs = tuple(PvcRef.parse(p) for p in pvc)
    if not all_pvcs and not refs:
        raise BadInput("give --pvc NS/NAME (repeatable) or --all-pvcs")
    if source_dir is not None and all_pvcs:
        raise BadInput("--source-dir backs up one directory: give exactly one --pvc, not --all-pvcs")
    repository = repo_options.open(compression=compression)
    directories: tuple[tuple[PvcRef, Path], ...] = ()
    if source_dir is not None:
        if len(refs) != 1:
            raise BadInput("--source-dir backs up one directory: give exactly one --pvc")
        if not source_dir.is_dir():
            raise BadInput(f"--source-dir {source_dir} is not a directory")
        directories = ((refs[0], source_dir),)
    elif no_hooks and hook_namespace:
        raise BadInput("give --no-hooks or --hook-namespace, not both")
    origin = VolumeOrigin(
        pvcs=refs, all_pvcs=all_pvcs, namespace=namespace, directories=directories, excludes=tuple(exclude),
        concurrency=concurrency, hook_namespaces=frozenset() if no_hooks else (frozenset(hook_namespace) if hook_namespace else None),
        hook_timeout=hook_timeout, kube=KubeAccess(kubeconfig, context), node=node, kubelet_root=kubelet_root, host_root=host_root,
    )
    try:
        result = SOURCE.back_up(repository, origin, cluster=cluster_name, progress=console_progress(fmt is Format.text))
    except PartlyStored as exc:
        _render(exc.result, fmt)
        volumes: list[dict[str, Any]] = exc.result.details.get("volumes") or []
        failed = [v["pvc"] for v in volumes if v["status"] == "failed"]
        raise OperationFailed(f"{len(failed)} of {len(volumes)} volume(s) not backed up: {', '.join(failed)}") from None
    _render(result, fmt)


@restore_app.command("volume")
@repository_options
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
    repo_options: RepositoryOptions = REPOSITORY,
    cluster_name: str = CLUSTER_OPTION,
    fmt: Format = FORMAT_OPTION,
) -> None:
    """Restore a PVC's data: same end state as `rsync -a --delete`, nothing deleted before the copy is complete."""
    ref = PvcRef.parse(pvc)
    repository = repo_options.open()
    destination = VolumeTarget(ref, target, recreate, KubeAccess(kubeconfig, context), node, kubelet_root, host_root, wait_timeout)
    restored = SOURCE.restore(repository, SOURCE.find(repository, snapshot, cluster=cluster_name, target=destination), destination,
                              progress=console_progress(fmt is Format.text))
    if fmt is Format.json:
        print_json(restored.as_json())
    else:
        d = restored.details
        created = f" (created {', '.join(d['recreated'])})" if d["recreated"] else ""
        stdout.print(f"{d['pvc']}: snapshot {d['snapshot']} restored into {d['target']}{created}", markup=False, highlight=False)


def register(app: typer.Typer) -> None:
    """Commands are added to the shared backup/restore groups at import time."""
