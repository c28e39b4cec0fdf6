"""`kubekeeper ls` (what one snapshot holds) and `kubekeeper diff` (what changed between two backup
sets): options -> backup/contents.py -> report/contents.py."""

from __future__ import annotations

import typer

from kubekeeper.backup.contents import diff_sets, find_snapshot, list_snapshot
from kubekeeper.backup.listing import check_set_id
from kubekeeper.cli.common import FORMAT_OPTION, Format
from kubekeeper.cli.options import CLUSTER_FILTER_OPTION, REPOSITORY, RepositoryOptions, checked_snapshot_ref, repository_options
from kubekeeper.report.console import print_json
from kubekeeper.report.contents import listing_json, set_diff_json, show_listing, show_set_diff


@repository_options
def ls_command(
    snapshot: str = typer.Argument(..., help="Snapshot id or prefix (see `kubekeeper snapshots`)."),
    cluster: str | None = CLUSTER_FILTER_OPTION,
    repo_options: RepositoryOptions = REPOSITORY,
    output_format: Format = FORMAT_OPTION,
) -> None:
    """What a snapshot holds: a volume's files, a registry's repositories/tags/digests, etcd's revision, members and size.

    Example: kubekeeper ls 3f2a9c1e --format json
    """
    ref = checked_snapshot_ref(snapshot, "SNAPSHOT")
    repository = repo_options.open()
    listing = list_snapshot(repository, find_snapshot(repository, ref, cluster=cluster))
    if output_format is Format.json:
        print_json(listing_json(listing))
    else:
        show_listing(listing)


@repository_options
def diff_command(
    set_a: str = typer.Argument(..., help="The older backup set id (the set= tag; see `kubekeeper status`)."),
    set_b: str = typer.Argument(..., help="The newer backup set id."),
    cluster: str | None = CLUSTER_FILTER_OPTION,
    repo_options: RepositoryOptions = REPOSITORY,
    output_format: Format = FORMAT_OPTION,
) -> None:
    """What changed between two backup sets: images and tags added/removed/moved, files changed, the etcd revision.

    Example: kubekeeper diff 20261129T020000Z-1a2b3c 20261130T020000Z-4d5e6f
    """
    first, second = check_set_id(set_a, "SET_A"), check_set_id(set_b, "SET_B")
    repository = repo_options.open()
    diff = diff_sets(repository, first, second, cluster=cluster)
    if output_format is Format.json:
        print_json(set_diff_json(diff))
    else:
        show_set_diff(diff)


def register(app: typer.Typer) -> None:
    app.command("ls")(ls_command)
    app.command("diff")(diff_command)
