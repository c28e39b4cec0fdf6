"""`kubekeeper snapshots`: what kubekeeper stored (id, time, kind, cluster, details), newest last."""

from __future__ import annotations

from typing import Any

import typer

from kubekeeper.backup import sources
from kubekeeper.cli.common import FORMAT_OPTION, Format
from kubekeeper.cli.options import (
    CLUSTER_FILTER_OPTION,
    KIND_OPTION,
    REPOSITORY,
    RepositoryOptions,
    kind_filter,
    repository_options,
)
from kubekeeper.report.console import print_json, stdout
from kubekeeper.repository import Snapshot, details_of, selection
from kubekeeper.repository.tags import cluster_of, kind_of


def summary_keys(kind: str | None) -> tuple[str, ...]:
    """The details a source shows in a one-line listing (every detail in --format json); empty: all."""
    entry = sources.by_kind(kind or "")
    return entry.load().summary_keys if entry is not None else ()


def snapshot_json(snapshot: Snapshot) -> dict[str, Any]:
    return {
        "id": snapshot.id,
        "time": snapshot.time.isoformat(),
        "kind": kind_of(snapshot.tags),
        "cluster": cluster_of(snapshot.tags),
        "tags": list(snapshot.tags),
        "details": details_of(snapshot.tags),
    }


@repository_options
def snapshots_command(
    kind: str = KIND_OPTION,
    cluster: str = CLUSTER_FILTER_OPTION,
    repo_options: RepositoryOptions = REPOSITORY,
    output_format: Format = FORMAT_OPTION,
) -> None:
    """List kubekeeper snapshots, oldest first (newest last).

    Example: kubekeeper snapshots --kind etcd --format json
    """
    repository = repo_options.open()
    found = repository.snapshots(selection(kind_filter(kind), cluster))
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
        stdout.print(f"{doc['id'][:8]}  {doc['time'][:19]}  {doc['kind']:<8}  {doc['cluster']:<12}  {summary}", markup=False)


def register(app: typer.Typer) -> None:
    app.command("snapshots")(snapshots_command)
