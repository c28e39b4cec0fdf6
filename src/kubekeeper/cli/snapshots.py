"""`kubekeeper snapshots`: what kubekeeper stored (id, time, kind, cluster, details), newest last."""

from __future__ import annotations

import typer

from kubekeeper.backup import sources
from kubekeeper.backup.listing import filter_snapshots, set_tag
from kubekeeper.cli.common import FORMAT_OPTION, Format
from kubekeeper.cli.options import (
    CLUSTER_FILTER_OPTION,
    LISTED_KIND_OPTION,
    REPOSITORY,
    RepositoryOptions,
    listed_kind_filter,
    repository_options,
)
from kubekeeper.report.console import print_json, stdout
from kubekeeper.report.snapshot import snapshot_json
from kubekeeper.repository import selection


def summary_keys(kind: str | None) -> tuple[str, ...]:
    """The details a source shows in a one-line listing (every detail in --format json); empty: all."""
    entry = sources.by_kind(kind or "")
    return entry.load().summary_keys if entry is not None else ()


@repository_options
def snapshots_command(
    kind: str = LISTED_KIND_OPTION,
    cluster: str = CLUSTER_FILTER_OPTION,
    latest: int | None = typer.Option(None, "--latest", min=1, help="Only the newest N of each series (etcd, registry, each PVC)."),
    set_id: str | None = typer.Option(None, "--set", help="Only the snapshots of this backup set (the set= tag of `backup all`)."),
    tag: list[str] = typer.Option([], "--tag", help="Only snapshots with these tags (a,b: both; repeat for either), like restic."),
    path: list[str] = typer.Option([], "--path", help="Only snapshots holding this path (repeatable), like restic."),
    repo_options: RepositoryOptions = REPOSITORY,
    output_format: Format = FORMAT_OPTION,
) -> None:
    """List kubekeeper snapshots, oldest first (newest last).

    Example: kubekeeper snapshots --kind etcd --latest 1 --format json
    """
    repository = repo_options.open()
    tags = selection(listed_kind_filter(kind), cluster) + ([set_tag(set_id)] if set_id else [])
    found = filter_snapshots(repository.snapshots(tags), tags=tag, paths=path, latest=latest)
    documents = [snapshot_json(s) for s in found]
    if output_format is Format.json:
        print_json(documents)
        return
    if not documents:
        stdout.print(f"no kubekeeper snapshots in {repository.spec.display}", markup=False)
        return
    for doc in documents:
        keys = summary_keys(doc["kind"]) or tuple(doc["details"])
        summary = " ".join(f"{k}={doc['details'][k]}" for k in keys if k in doc["details"])
        stdout.print(f"{doc['short_id']}  {doc['time'][:19]}  {doc['kind']:<8}  {doc['cluster']:<12}  {summary}", markup=False)


def register(app: typer.Typer) -> None:
    app.command("snapshots")(snapshots_command)
